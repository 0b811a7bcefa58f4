"""Typed results of grading a class, and their ``results.json`` form (kata-spec §5)."""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.runner import TodoResult
from grader.todos import Todo, load_todos

SCHEMA_VERSION = 1


@dataclass
class SubmissionResult:
    """One student's grade. ``status`` is ``graded``, or ``error`` (nothing gradable,
    with ``message`` saying why in one line)."""

    id: str
    status: str
    todos: dict[str, TodoResult] = field(default_factory=dict)
    duration_s: float = 0.0
    message: str = ""

    @property
    def score(self) -> int:
        points = {todo.id: todo.points for todo in load_todos() if not todo.bonus}
        return sum(points[todo_id] for todo_id, result in self.todos.items()
                   if todo_id in points and result.status == "pass")

    @property
    def max_score(self) -> int:
        return sum(todo.points for todo in load_todos() if not todo.bonus)

    def to_json(self) -> dict:
        data = {"id": self.id, "status": self.status, "score": self.score,
                "max_score": self.max_score,
                "todos": {todo_id: result.to_json() for todo_id, result in self.todos.items()},
                "duration_s": round(self.duration_s, 3)}
        if self.message:
            data["message"] = self.message
        return data

    @classmethod
    def from_json(cls, data: dict) -> "SubmissionResult":
        return cls(id=data["id"], status=data["status"],
                   todos={k: TodoResult(v["status"], v.get("message", ""))
                          for k, v in data.get("todos", {}).items()},
                   duration_s=data.get("duration_s", 0.0), message=data.get("message", ""))


@dataclass
class ClassResults:
    """The whole class: what ``results.json``, ``grades.csv`` and ``index.html`` show."""

    kit: dict  # {"mlflow": version, "python": version, "tests_sha256": hex}
    submissions: list[SubmissionResult]
    todos: tuple[Todo, ...] = field(default_factory=load_todos)

    def to_json(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "kit": self.kit,
            "todos": [{"id": t.id, "task": t.task, "title": t.title, "points": t.points,
                       "bonus": t.bonus} for t in self.todos],
            "submissions": [s.to_json() for s in self.submissions],
        }
