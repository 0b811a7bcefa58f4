"""``kata validate``: prove the kit judges each TODO by its own tests and nothing else.

Every run below includes the hidden tests (``tests/hidden/``, see ``grader.runner``):
they count for their TODO in grading, so they are held to the same proofs.

1. The reference solutions pass every test.
2. The generated stubs fail every TODO, each by its own assertion (status ``fail``
   with a message starting ``TODO <id>``), never by an import or collection error.
3. The isolation matrix: revert one TODO at a time in the reference; exactly that
   TODO must fail. Only the reverted TODO's task is rerun: kata tests of task N can
   only call task N's module (``KataCase`` enforces it), so the other tasks'
   results are those of step 1.
4. The mistake matrix: make one realistic mistake at a time in the reference (the
   edits of ``grader/mistakes.toml``); exactly the TODOs it declares must fail, none
   more, none fewer. Again only that file's task is rerun.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.mistakes import Mistake, load_mistakes
from grader.paths import SOLUTIONS_DIR
from grader.runner import KataRun, run_kata
from grader.stubgen import ALL, render
from grader.todos import load_todos, todo_order



@dataclass
class MistakeOutcome:
    """What one mistake cost: the TODOs that failed, and why (TODO id -> message)."""

    mistake: Mistake
    failed: list[str]
    messages: dict[str, str]
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.failed == list(self.mistake.expected)


@dataclass
class Validation:
    solutions: KataRun
    stubs: KataRun
    isolation: dict[str, list[str]] = field(default_factory=dict)
    mistakes: dict[str, MistakeOutcome] = field(default_factory=dict)

    @property
    def solutions_pass(self) -> bool:
        return not self.solutions.failed() and not self.solutions.problems

    @property
    def stubs_fail(self) -> bool:
        return all(result.status == "fail" and result.message.startswith(f"TODO {todo_id}")
                   for todo_id, result in self.stubs.todos.items()) and not self.stubs.problems

    @property
    def isolated(self) -> bool:
        return all(failed == [todo_id] for todo_id, failed in self.isolation.items())

    @property
    def mistakes_caught(self) -> bool:
        return all(outcome.ok for outcome in self.mistakes.values())

    @property
    def ok(self) -> bool:
        return self.solutions_pass and self.stubs_fail and self.isolated and self.mistakes_caught

    def to_json(self) -> dict:
        return {"solutions_pass": self.solutions_pass, "stubs_fail": self.stubs_fail,
                "isolation": self.isolation,
                "mistakes": {name: {"expected": list(outcome.mistake.expected),
                                    "failed": outcome.failed}
                             for name, outcome in self.mistakes.items()}}


def write_variant(target: Path, stub_ids, mistake: Mistake | None = None) -> Path:
    """Write the solutions with ``stub_ids`` stubbed (ALL = the student version) and
    ``mistake``, if any, made in its file."""
    target.mkdir(parents=True, exist_ok=True)
    for path in SOLUTIONS_DIR.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        if mistake is not None and path.name == mistake.file:
            source = mistake.apply(source)
        (target / path.name).write_text(render(source, stub_ids, path.name), encoding="utf-8")
    return target


def rerun_task(variant: Path, task: int, solutions: KataRun) -> tuple[KataRun, list[str]]:
    """Run one task's tests on ``variant``; the TODOs that fail, with the other tasks'
    failures taken from the reference run ``solutions``."""
    run = run_kata(variant, tasks=[task], hidden=True)
    others = {t for t in solutions.failed() if t not in run.todos}
    return run, sorted(run.failed() | others, key=todo_order)


def try_mistake(mistake: Mistake, folder: Path, solutions: KataRun) -> MistakeOutcome:
    """Make ``mistake`` alone in the reference (written to ``folder``) and record the
    TODOs it costs."""
    variant = write_variant(folder, (), mistake)
    run, failed = rerun_task(variant, mistake.task, solutions)
    messages = {todo_id: f"{result.status}: {result.message}"
                for todo_id, result in run.todos.items() if todo_id in failed}
    messages.update({f"problem {index}": problem for index, problem in enumerate(run.problems, 1)})
    return MistakeOutcome(mistake, failed, messages, run.duration_s)


def validate(progress=lambda message: None) -> Validation:
    mistakes = load_mistakes()  # a malformed mistakes.toml fails before any test runs
    with tempfile.TemporaryDirectory(prefix="kata-validate-") as scratch:
        scratch = Path(scratch)
        progress("reference solutions")
        solutions = run_kata(write_variant(scratch / "solutions", ()), hidden=True)
        progress("stubs")
        stubs = run_kata(write_variant(scratch / "stubs", ALL), hidden=True)
        result = Validation(solutions, stubs)
        for todo in load_todos():
            progress(f"isolation: TODO {todo.id} reverted")
            variant = write_variant(scratch / f"revert-{todo.id}", {todo.id})
            result.isolation[todo.id] = rerun_task(variant, todo.task, solutions)[1]
        for number, mistake in enumerate(mistakes, start=1):
            progress(f"mistake: {mistake.name}")
            result.mistakes[mistake.name] = try_mistake(mistake, scratch / f"mistake-{number}",
                                                        solutions)
        return result
