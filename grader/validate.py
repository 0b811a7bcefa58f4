"""``kata validate``: prove the kit judges each TODO by its own tests and nothing else.

1. The reference solutions pass every test.
2. The generated stubs fail every TODO, each by its own assertion (status ``fail``
   with a message starting ``TODO <id>``), never by an import or collection error.
3. The isolation matrix: revert one TODO at a time in the reference; exactly that
   TODO must fail. Only the reverted TODO's task is rerun: kata tests of task N can
   only call task N's module (``KataCase`` enforces it), so the other tasks'
   results are those of step 1.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.runner import KataRun, run_kata
from grader.stubgen import ALL, render
from grader.todos import load_todos, todo_order

KIT_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = KIT_ROOT / "solutions"


@dataclass
class Validation:
    solutions: KataRun
    stubs: KataRun
    isolation: dict[str, list[str]] = field(default_factory=dict)

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
    def ok(self) -> bool:
        return self.solutions_pass and self.stubs_fail and self.isolated

    def to_json(self) -> dict:
        return {"solutions_pass": self.solutions_pass, "stubs_fail": self.stubs_fail,
                "isolation": self.isolation}


def write_variant(target: Path, stub_ids) -> Path:
    """Write the solutions with ``stub_ids`` stubbed (ALL = the student version)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in SOLUTIONS.glob("*.py"):
        (target / path.name).write_text(render(path.read_text(encoding="utf-8"), stub_ids, path.name),
                                        encoding="utf-8")
    return target


def validate(progress=lambda message: None) -> Validation:
    with tempfile.TemporaryDirectory(prefix="kata-validate-") as scratch:
        scratch = Path(scratch)
        progress("reference solutions")
        solutions = run_kata(write_variant(scratch / "solutions", ()))
        progress("stubs")
        stubs = run_kata(write_variant(scratch / "stubs", ALL))
        result = Validation(solutions, stubs)
        for todo in load_todos():
            progress(f"isolation: TODO {todo.id} reverted")
            variant = write_variant(scratch / f"revert-{todo.id}", {todo.id})
            run = run_kata(variant, tasks=[todo.task])
            others = {t for t in solutions.failed() if t not in run.todos}
            result.isolation[todo.id] = sorted(run.failed() | others, key=todo_order)
        return result
