"""The lab's TODOs, loaded from ``todos.toml`` (the one typed source of their metadata)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

TODOS_FILE = Path(__file__).with_name("todos.toml")

# Which student module and test file belong to each task number (task 5 is the bonus).
TASK_MODULES = {
    1: "task1_baseline",
    2: "task2_tuning",
    3: "task3_compare",
    4: "task4_registry",
    5: "bonus_serving",
}
TASK_TEST_FILES = {1: "test_task1.py", 2: "test_task2.py", 3: "test_task3.py",
                   4: "test_task4.py", 5: "test_bonus.py"}


@dataclass(frozen=True)
class Todo:
    id: str
    task: int
    title: str
    todo_en: str
    todo_es: str
    hint_en: str
    hint_es: str
    points: int = 1
    bonus: bool = False

    @property
    def module(self) -> str:
        return TASK_MODULES[self.task]

    def hint(self, lang: str = "en") -> str:
        return self.hint_es if lang == "es" else self.hint_en


@cache
def load_todos(path: Path = TODOS_FILE) -> tuple[Todo, ...]:
    """Read and validate the TODO table; raise ValueError on any inconsistency."""
    with open(path, "rb") as handle:
        rows = tomllib.load(handle)["todo"]
    todos = tuple(Todo(**row) for row in rows)
    ids = [todo.id for todo in todos]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate TODO ids in {ids}")
    for todo in todos:
        if todo.task not in TASK_MODULES:
            raise ValueError(f"{path}: TODO {todo.id} has unknown task {todo.task}")
        if todo.bonus != (todo.task == 5):
            raise ValueError(f"{path}: TODO {todo.id}: only task 5 (bonus) TODOs are bonus")
    return todos


def todo_by_id() -> dict[str, Todo]:
    return {todo.id: todo for todo in load_todos()}


def graded_todos() -> list[Todo]:
    """The TODOs that count towards the score out of 15 (bonus excluded)."""
    return [todo for todo in load_todos() if not todo.bonus]


def todo_order(todo_id: str) -> int:
    """Position of ``todo_id`` in the lab (unknown ids sort last)."""
    ids = [todo.id for todo in load_todos()]
    return ids.index(todo_id) if todo_id in ids else len(ids)
