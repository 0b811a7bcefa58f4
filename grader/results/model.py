"""Typed results, and their one JSON form.

* ``TodoResult``: one TODO's verdict (``Status``, first message, time).
* ``KataRun``: every TODO's verdict for one folder of student files; its JSON is what
  ``kata check --json`` prints and what a grading worker replies to ``kata grade``.
* ``SubmissionResult`` and ``ClassResults``: a graded class; ``grader.results.codec``
  reads and writes it as ``results.json`` (``grader/results/results.schema.json``).
* ``score``: the one scoring rule (points of the passed non-bonus TODOs, from
  ``todos.toml``).

This module imports nothing of the pytest runner (``grader.judge.runner`` imports it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from grader.lab.todos import Todo, load_todos

SCHEMA_VERSION = 1
KIT_ERROR = "kit error:"  # how a verdict caused by the kit itself (not the student) begins
_KIT_ERROR_AT_START = re.compile(rf"(TODO [^\s:]+: )?{re.escape(KIT_ERROR)}")


def caused_by_kit(message: str) -> bool:
    """Whether a verdict's message is the kit's own error: ``kit error:`` where the kit
    writes (the message's start, after its ``TODO x.y:``), never anywhere a student's
    text could put it (an exception's message comes later)."""
    return bool(_KIT_ERROR_AT_START.match(message))


FAILING = ("fail", "error", "timeout")  # the statuses of a verdict that does not pass


def not_attempted(sub: SubmissionResult, todo: Todo) -> bool:
    """Whether ``sub``'s verdict on ``todo`` is the stub's own failure: ``todo``'s task is
    one ``sub`` did not start (``SubmissionResult.not_started``), the verdict does not
    pass, and the kit did not cause it (a kit error stays the kit's). The one test of "not
    attempted" for the report's failure clusters, the feedback and every export."""
    result = sub.todos.get(todo.id)
    return (
        todo.task in sub.not_started
        and result is not None
        and result.status in FAILING
        and not caused_by_kit(result.message)
    )


class Status(StrEnum):
    """A TODO's verdict. A ``str``: it compares, formats and serialises as its value."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    TIMEOUT = "timeout"


@dataclass
class TodoResult:
    """One TODO's verdict: its status, first message, and the seconds its tests took
    (``None`` when unknown, e.g. results saved before times were recorded)."""

    status: Status
    message: str = ""
    duration_s: float | None = None
    # The earlier TODO whose work this one's failure waits for ("no run yet: TODO 1.2
    # starts it"): where kata check and kata watch send the student first. Not in
    # results.json (a grade is per TODO whatever the reason).
    waiting_for: str = ""

    def __post_init__(self) -> None:
        self.status = Status(self.status)  # refuses anything but the four statuses

    @property
    def passed(self) -> bool:
        return self.status is Status.PASS

    def to_json(self) -> dict:
        data: dict[str, object] = {"status": self.status.value, "message": self.message}
        if self.duration_s is not None:
            data["duration_s"] = round(self.duration_s, 3)
        return data

    @classmethod
    def from_json(cls, data: Mapping) -> TodoResult:
        return cls(data["status"], data.get("message", ""), data.get("duration_s"))


def todos_to_json(todos: Mapping[str, TodoResult]) -> dict:
    return {todo_id: result.to_json() for todo_id, result in todos.items()}


def todos_from_json(data: Mapping) -> dict[str, TodoResult]:
    return {todo_id: TodoResult.from_json(result) for todo_id, result in data.items()}


def score(
    todos: Mapping[str, TodoResult], table: Iterable[Todo] | None = None, within: Iterable[str] | None = None
) -> tuple[int, int]:
    """``(score, max_score)``: the points of the passed non-bonus TODOs and the points
    there are, from the TODO table (default: ``todos.toml``). ``within`` limits both to
    those TODO ids (``kata check --task``)."""
    counted = [todo for todo in (load_todos() if table is None else table) if not todo.bonus]
    if within is not None:
        wanted = set(within)
        counted = [todo for todo in counted if todo.id in wanted]
    earned = sum(todo.points for todo in counted if todo.id in todos and todos[todo.id].passed)
    return earned, sum(todo.points for todo in counted)


@dataclass
class KataRun:
    """Every TODO's verdict for one folder of student files."""

    todos: dict[str, TodoResult]
    duration_s: float
    problems: list[str] = field(default_factory=list)  # collection/kit errors

    def failed(self) -> set[str]:
        return {todo_id for todo_id, result in self.todos.items() if not result.passed}

    def next_to_fix(self, ids: Iterable[str]) -> str | None:
        """Which of ``ids`` (in the lab's order) a student should work on next: the first
        that does not pass, or the TODO its failure waits for when that one fails too."""
        first = next((todo_id for todo_id in ids if todo_id in self.todos and not self.todos[todo_id].passed), None)
        waiting = self.todos[first].waiting_for if first else ""
        return waiting if waiting in self.failed() else first

    def to_json(self) -> dict:
        return {
            "todos": todos_to_json(self.todos),
            "problems": list(self.problems),
            "duration_s": round(self.duration_s, 3),
        }

    @classmethod
    def from_json(cls, data: Mapping) -> KataRun:
        return cls(todos_from_json(data["todos"]), data["duration_s"], list(data.get("problems", [])))


@dataclass
class SubmissionResult:
    """One student's grade. ``status`` is ``graded``, or ``error`` (nothing gradable,
    with ``message`` saying why in one line). ``files_sha256``: the hash of the task
    files it was graded on, as staged (``grader.classroom.staging.files_digest``); ""
    when none could be taken (``kata grade --resume`` regrades a submission whose files
    no longer hash to it)."""

    id: str
    status: str
    todos: dict[str, TodoResult] = field(default_factory=dict)
    duration_s: float = 0.0
    message: str = ""
    files_sha256: str = ""
    # The summary of the student's journal handed in with the work (``grader.results.journal``;
    # None when there was none): what the class's red-green loop was, never part of the grade.
    journal: dict | None = None
    # The numbers of the tasks it did not start: their file was the stub as handed out
    # (``grader.classroom.untouched``). Their failing verdicts are the stub's own: "not
    # attempted" wherever failures are shown (``not_attempted``), never a mistake to explain.
    not_started: tuple[int, ...] = ()

    @property
    def score(self) -> int:
        return score(self.todos)[0]

    @property
    def max_score(self) -> int:
        return score(self.todos)[1]

    def kit_errors(self) -> int:
        """How many of its TODO verdicts the kit caused (``kit error: …``), not the student."""
        return sum(1 for result in self.todos.values() if caused_by_kit(result.message))

    def to_json(self, table: Iterable[Todo] | None = None) -> dict:
        """Its ``results.json`` entry; the score under ``table`` (default: ``todos.toml``)."""
        earned, available = score(self.todos, table)
        data = {
            "id": self.id,
            "status": self.status,
            "score": earned,
            "max_score": available,
            "todos": todos_to_json(self.todos),
            "duration_s": round(self.duration_s, 3),
        }
        if self.message:
            data["message"] = self.message
        if self.files_sha256:
            data["files_sha256"] = self.files_sha256
        if self.journal is not None:
            data["journal"] = self.journal
        if self.not_started:
            data["not_started"] = list(self.not_started)
        return data

    @classmethod
    def from_json(cls, data: Mapping) -> SubmissionResult:
        return cls(
            id=data["id"],
            status=data["status"],
            todos=todos_from_json(data.get("todos", {})),
            duration_s=data.get("duration_s", 0.0),
            message=data.get("message", ""),
            files_sha256=data.get("files_sha256", ""),
            journal=data.get("journal"),
            not_started=tuple(data.get("not_started", ())),
        )


@dataclass
class ClassResults:
    """The whole class: what ``results.json``, ``grades.csv`` and ``index.html`` show."""

    kit: dict  # {"mlflow", "python", "tests_sha256", and from kata grade "seed", "isolation", "lang"}
    submissions: list[SubmissionResult]
    todos: tuple[Todo, ...] = field(default_factory=load_todos)

    @property
    def max_score(self) -> int:
        return score({}, self.todos)[1]

    def kit_errors(self) -> int:
        """TODO verdicts, over every submission, that are the kit's errors."""
        return sum(submission.kit_errors() for submission in self.submissions)

    def to_json(self) -> dict:
        """``results.json``'s content (``grader.results.codec`` writes and checks it). Scores
        follow the class's own TODO table, so a file read and written again keeps them."""
        return {
            "schema_version": SCHEMA_VERSION,
            "kit": self.kit,
            "todos": [
                {"id": t.id, "task": t.task, "title": t.title, "points": t.points, "bonus": t.bonus} for t in self.todos
            ],
            "submissions": [s.to_json(self.todos) for s in self.submissions],
        }

    @classmethod
    def from_json(cls, data: Mapping) -> ClassResults:
        """A class from ``results.json``'s content (already checked against the schema),
        with the file's own TODO table: a file graded by another kit version scores the
        same. The table keeps what results.json records of each TODO (no texts, no hints)."""
        table = tuple(
            Todo(
                id=t["id"],
                task=t["task"],
                title=t["title"],
                todo_en="",
                todo_es="",
                hint_en="",
                hint_es="",
                points=t["points"],
                bonus=t["bonus"],
            )
            for t in data["todos"]
        )
        return cls(
            kit=dict(data["kit"]),
            todos=table,
            submissions=[SubmissionResult.from_json(sub) for sub in data["submissions"]],
        )
