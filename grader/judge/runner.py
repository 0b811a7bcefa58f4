"""Run the kata tests against one folder of student files and collect per-TODO results.

As in exercism's test runner, the runner is one small reporter object passed to
``pytest.main``; it turns test reports into ``TodoResult``s. Several runs may share
one process: the sandbox's warm zygote and the model server are reused.

Hidden tests: the instructor's kit may hold more tests per task in ``tests/hidden/``
(``test_task1.py``'s are ``tests/hidden/test_task1_hidden.py``), marked with the same
``todo`` marker; a student's kit has none. ``run_kata(..., hidden=True)`` (``kata grade``,
``kata validate``, the Gradescope bundle) runs them with the public ones, and a TODO
passes only when all its tests pass; ``kata check`` and a student's ``pytest
tests/test_task1.py`` never run them.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from grader.core.paths import HIDDEN_TESTS_DIR, KIT_ROOT, PYTEST_INI, TESTS_DIR
from grader.lab.todos import TASK_TEST_FILES, load_todos, todo_order
from grader.results.model import KataRun, Status, TodoResult

__all__ = [
    "HIDDEN_TESTS_DIR",
    "KataRun",
    "Status",
    "TodoCollector",
    "TodoResult",
    "first_message",
    "hidden_test_file",
    "kata_test_files",
    "run_kata",
]


# When a TODO has several tests, its verdict is the worst of theirs.
STATUS_RANK = {Status.PASS: 0, Status.FAIL: 1, Status.TIMEOUT: 2, Status.ERROR: 3}


MESSAGE_CHARS = 2000  # of a TODO's message: it quotes what the student's store holds


def first_message(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The failure's first line: ``TODO x.y: expected …, but MLflow holds …``, cut to
    ``MESSAGE_CHARS`` (results.json, reports and clusters never carry a flood)."""
    text = report.longreprtext.strip()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("TODO "):
            return line if len(line) <= MESSAGE_CHARS else line[:MESSAGE_CHARS] + " …"
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("E ")]
    return (lines[-1][1:].strip() if lines else text.splitlines()[-1] if text else "")[:500]


class TodoCollector:
    """A pytest plugin object that records each kata test's outcome under its TODO, and
    the time its tests took (set-up, call and tear-down of each)."""

    def __init__(self, replayable: bool = False, journal_verb: str | None = None):
        # The verb a run of kata check or kata watch is journaled as (grader.results.journal).
        self.journal_verb = journal_verb
        # True: this collector reads the reports a warm judge replays as well as its own
        # (grader.judge.plugin.thin_client), so the run may be judged there.
        self.replayable = replayable
        self.todos: dict[str, TodoResult] = {}
        self.durations: defaultdict[str, float] = defaultdict(float)  # TODO id -> seconds
        self.problems: list[str] = []
        self._todo_of: dict[str, str] = {}  # test node id -> TODO id

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.problems.append(f"collection error in {report.nodeid}: {first_message(report)}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_itemcollected(self, item: pytest.Item) -> None:
        marker = item.get_closest_marker("todo")
        if marker:
            self.todos.setdefault(marker.args[0], TodoResult(Status.PASS))
            self._todo_of[item.nodeid] = marker.args[0]

    def pytest_warning_recorded(self, warning_message, when, nodeid, location) -> None:
        """Advice on a passing TODO (``KataFeedback``) becomes its message."""
        from grader.judge.case import KataFeedback

        todo_id = self._todo_of.get(nodeid)
        if todo_id and issubclass(warning_message.category, KataFeedback):
            current = self.todos[todo_id]
            if current.passed and not current.message:
                self.todos[todo_id] = TodoResult(Status.PASS, str(warning_message.message))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        todo_id = self._todo_of.get(report.nodeid)
        if todo_id is None:
            return
        self.durations[todo_id] += report.duration
        if report.passed or report.skipped:
            return
        properties: dict[str, Any] = dict(report.user_properties)  # what the plugin recorded
        status = Status(properties.get("kata_status", Status.FAIL))
        if report.when != "call" and status is Status.FAIL:
            status = Status.ERROR  # set-up or tear-down broke: not the TODO's assertion
        current = self.todos[todo_id]
        if STATUS_RANK[status] > STATUS_RANK[current.status] or current.passed:
            self.todos[todo_id] = TodoResult(
                status, first_message(report), waiting_for=properties.get("kata_waiting_for", "")
            )

    def results(self) -> dict[str, TodoResult]:
        """Every TODO seen, in the lab's order, each with its tests' total time."""
        return {
            todo_id: replace(result, duration_s=round(self.durations[todo_id], 3))
            for todo_id, result in sorted(self.todos.items(), key=lambda kv: todo_order(kv[0]))
        }


def hidden_test_file(task: int) -> Path:
    """Where the hidden tests of ``task`` live (the file may not exist)."""
    public = Path(TASK_TEST_FILES[task])
    return HIDDEN_TESTS_DIR / f"{public.stem}_hidden{public.suffix}"


def kata_test_files(tasks: list[int] | None = None, hidden: bool = False) -> list[Path]:
    """The test files of ``tasks`` (default: all) from the task table, each followed,
    with ``hidden``, by its task's hidden test file when there is one."""
    files = []
    for task in tasks or sorted(TASK_TEST_FILES):
        files.append(TESTS_DIR / TASK_TEST_FILES[task])
        if hidden and hidden_test_file(task).is_file():
            files.append(hidden_test_file(task))
    return files


def run_kata(
    exercises: Path,
    tasks: list[int] | None = None,
    extra_args: Sequence[str] = (),
    quiet: bool = True,
    hidden: bool = False,
    warm: bool = False,
    journal: str | None = None,
) -> KataRun:
    """Run the kata tests of ``tasks`` (default: all) against ``exercises``; with
    ``hidden``, their hidden tests too (see the module docstring). With ``warm`` (a
    student's ``kata check``) the user's warm judge may run them (``grader.judge.warm``);
    grading never does: each worker judges with its own sandbox and seed. ``journal``:
    the verb (``check``, ``watch``) this run is written in the student's journal as, when
    journaling is on (``grader.results.journal``); grading never passes one."""
    files = [str(path) for path in kata_test_files(tasks, hidden)]
    args = [
        *files,
        "--exercises",
        str(exercises),
        "-p",
        "no:cacheprovider",
        "-q",
        "--rootdir",
        str(KIT_ROOT),
        "-c",
        str(PYTEST_INI),
        *extra_args,
    ]
    collector = TodoCollector(replayable=warm and not hidden, journal_verb=None if hidden else journal)
    started = time.monotonic()
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
        code = pytest.main(args, plugins=[collector])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        problem = f"pytest exited with {pytest.ExitCode(code).name}"
        internal = [line for line in sink.getvalue().splitlines() if line.startswith("INTERNALERROR> E ")]
        if internal:  # what failed, for whoever regrades (a sandbox that could not start, …)
            problem += ": " + internal[-1].removeprefix("INTERNALERROR> E ").strip()[:200]
        collector.problems.append(problem)
    wanted = {todo.id for todo in load_todos() if tasks is None or todo.task in tasks}
    for todo_id in wanted - set(collector.todos):
        collector.todos[todo_id] = TodoResult(Status.ERROR, "no test of this TODO ran")
    return KataRun(collector.results(), round(time.monotonic() - started, 3), collector.problems)
