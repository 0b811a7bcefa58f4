"""``kata validate``: prove the kit judges each TODO by its own tests and nothing else.

Every run below includes the hidden tests (``tests/hidden/``, see ``grader.judge.runner``):
they count for their TODO in grading, so they are held to the same proofs.

1. The reference solutions pass every test.
2. The generated stubs fail every TODO, each by its own assertion (status ``fail``
   with a message starting ``TODO <id>``), never by an import or collection error.
3. The isolation matrix: revert one TODO at a time in the reference; exactly that
   TODO must fail. Only the reverted TODO's task is rerun: kata tests of task N can
   only call task N's module (``KataCase`` enforces it), so the other tasks'
   results are those of step 1.
4. The mistake matrix: make one realistic mistake at a time in the reference (the
   edits of ``grader/authoring/mistakes.toml``); exactly the TODOs it declares must fail, none
   more, none fewer. Again only that file's task is rerun.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.authoring.mistakes import Mistake, load_mistakes
from grader.authoring.stubgen import ALL, render
from grader.core.paths import SOLUTIONS_DIR
from grader.judge.runner import KataRun
from grader.lab.todos import load_todos, todo_order


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
        return (
            all(
                result.status == "fail" and result.message.startswith(f"TODO {todo_id}")
                for todo_id, result in self.stubs.todos.items()
            )
            and not self.stubs.problems
        )

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
        return {
            "solutions_pass": self.solutions_pass,
            "stubs_fail": self.stubs_fail,
            "isolation": self.isolation,
            "mistakes": {
                name: {"expected": list(outcome.mistake.expected), "failed": outcome.failed}
                for name, outcome in self.mistakes.items()
            },
        }


def write_variant(target: Path, stub_ids, mistake: Mistake | None = None) -> Path:
    """Write the solutions with ``stub_ids`` stubbed (ALL = the student version) and
    ``mistake``, if any, made in its file. A mistake is made in a student's finished file:
    each TODO's comment stays above its code, where a raise is attributed to the TODO
    whose comment opens the region that holds it (``grader.judge.regions``)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in SOLUTIONS_DIR.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        if mistake is not None and path.name == mistake.file:
            source = mistake.apply(source)
        text = render(source, stub_ids, path.name, comments=mistake is not None)
        (target / path.name).write_text(text, encoding="utf-8")
    return target


def failed_with_others(run: KataRun, solutions: KataRun) -> list[str]:
    """The TODOs that fail in ``run`` (one task rerun), with the other tasks' failures
    taken from the reference run ``solutions``."""
    others = {t for t in solutions.failed() if t not in run.todos}
    return sorted(run.failed() | others, key=todo_order)


def mistake_outcome(mistake: Mistake, run: KataRun, solutions: KataRun) -> MistakeOutcome:
    """What ``mistake``, made alone in the reference, cost in ``run`` (its task rerun)."""
    failed = failed_with_others(run, solutions)
    messages = {
        todo_id: f"{result.status}: {result.message}" for todo_id, result in run.todos.items() if todo_id in failed
    }
    messages.update({f"problem {index}": problem for index, problem in enumerate(run.problems, 1)})
    return MistakeOutcome(mistake, failed, messages, run.duration_s)


@dataclass(frozen=True)
class Job:
    """One kata run of the validation: ``tasks`` (None: all) of the files in ``variant``."""

    label: str
    variant: Path
    tasks: list[int] | None = None


def run_jobs(
    jobs: list[Job], workers: int, scratch: Path, progress, allow_unconfined: bool = False
) -> dict[str, KataRun]:
    """Run every job on ``workers`` kata workers (``grader.classroom.pool``: a worker that
    dies is replaced and its job reported as a problem); the runs by label."""
    from grader.classroom.pool import WorkerPool
    from grader.classroom.protocol import Job as WorkerJob
    from grader.classroom.protocol import WorkerSettings
    from grader.classroom.serving import bonus_tasks, kata_worker_env, start_model_server
    from grader.core.defaults import CALL_TIMEOUT_S
    from grader.core.i18n import choose

    env = kata_worker_env()
    bonus = bonus_tasks()
    served = bool(bonus) and any(job.tasks is None or bonus & set(job.tasks) for job in jobs)
    server = start_model_server(scratch / "served-model", env) if served else None
    settings = WorkerSettings(
        CALL_TIMEOUT_S,
        "0",
        choose(),  # what pytest defaults to
        allow_unconfined=allow_unconfined,
    )
    (scratch / "tmp").mkdir(exist_ok=True)
    pool = WorkerPool(settings, env, scratch / "tmp", size=min(workers, len(jobs)))
    runs: dict[str, KataRun] = {}
    try:
        pool.start()
        requests = [
            WorkerJob(job.label, str(job.variant), None, None if job.tasks is None else tuple(job.tasks))
            for job in jobs
        ]
        for outcome in pool.grade(requests):
            reply = outcome.reply
            if reply is None:
                run = KataRun({}, 0.0, ["the kata worker running it died or took too long"])
            elif reply.run is None:
                run = KataRun({}, 0.0, [reply.error])
            else:
                run = reply.run
            runs[outcome.job.id] = run
            progress(f"{outcome.job.id} ({len(runs)}/{len(jobs)})")
    finally:
        pool.close()
        if server is not None:
            server.stop()
    return runs


def validate(progress=lambda message: None, workers: int | None = None, allow_unconfined: bool = False) -> Validation:
    """Run the whole validation on ``workers`` kata workers (default: one per core)."""
    mistakes = load_mistakes()  # a malformed mistakes.toml fails before any test runs
    todos = load_todos()
    with tempfile.TemporaryDirectory(prefix="kata-validate-") as scratch_name:
        scratch = Path(scratch_name)
        scratch.chmod(0o711)  # a sandbox's own uid traverses to its folders under tmp/
        jobs = [
            Job("reference solutions", write_variant(scratch / "solutions", ())),
            Job("stubs", write_variant(scratch / "stubs", ALL)),
        ]
        jobs += [
            Job(
                f"isolation: TODO {todo.id} reverted",
                write_variant(scratch / f"revert-{todo.id}", {todo.id}),
                [todo.task],
            )
            for todo in todos
        ]
        jobs += [
            Job(f"mistake: {mistake.name}", write_variant(scratch / f"mistake-{number}", (), mistake), [mistake.task])
            for number, mistake in enumerate(mistakes, start=1)
        ]
        runs = run_jobs(jobs, workers or os.cpu_count() or 1, scratch, progress, allow_unconfined)
        solutions = runs["reference solutions"]
        result = Validation(solutions, runs["stubs"])
        for todo in todos:
            result.isolation[todo.id] = failed_with_others(runs[f"isolation: TODO {todo.id} reverted"], solutions)
        for mistake in mistakes:
            result.mistakes[mistake.name] = mistake_outcome(mistake, runs[f"mistake: {mistake.name}"], solutions)
        return result
