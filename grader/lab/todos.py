"""The lab's tasks and TODOs, loaded from ``todos.toml`` (the one typed source of their
metadata)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

TODOS_FILE = Path(__file__).with_name("todos.toml")


@dataclass(frozen=True)
class Task:
    """Every fact about one task: its student module, its test file, the functions its
    tests call, and what those tests need (models logged or loaded: the sandbox warms
    that up; a model server: started early in the background)."""

    number: int
    name: str  # what the CLI calls it: "1" … "4", "bonus"
    title: str
    module: str
    test_file: str
    functions: tuple[str, ...]
    models: bool = False
    server: bool = False
    bonus: bool = False
    title_es: str = ""

    @property
    def shown_title(self) -> str:
        return in_language(self.title, self.title_es)


def in_language(english: str, spanish: str) -> str:
    """A title in the language messages are shown in now (grader.core.i18n); English when
    there is no Spanish or no language was chosen."""
    from grader.core.i18n import language

    return spanish if language() == "es" and spanish else english


HINT_LEVELS = (2, 3)  # fewest and most hint levels a TODO may have


@dataclass(frozen=True)
class Todo:
    """One TODO. Its hints come in levels (``hints_en``/``hints_es``, the same number in
    both languages): a nudge, the MLflow call, nearly the code. ``hint_en``/``hint_es``
    are level 1, the one failure messages and reports show."""

    id: str
    task: int
    title: str
    todo_en: str
    todo_es: str
    hint_en: str
    hint_es: str
    points: int = 1
    bonus: bool = False
    hints_en: tuple[str, ...] = ()
    hints_es: tuple[str, ...] = ()
    title_es: str = ""

    @property
    def shown_title(self) -> str:
        return in_language(self.title, self.title_es)

    @property
    def module(self) -> str:
        return task_by_number()[self.task].module

    def hints(self, lang: str = "en") -> tuple[str, ...]:
        """Every hint level in ``lang``, level 1 first."""
        levels = self.hints_es if lang == "es" else self.hints_en
        return levels or ((self.hint_es if lang == "es" else self.hint_en),)

    def hint(self, lang: str = "en", level: int = 1) -> str:
        """The hint of ``level`` (1-based, clamped to the levels there are)."""
        levels = self.hints(lang)
        return levels[max(1, min(level, len(levels))) - 1]


def _todo(row: dict, path: Path) -> Todo:
    """A ``[[todo]]`` row as a Todo: its hint levels checked (2-3 non-empty strings in
    each language, as many in English as in Spanish)."""
    row = dict(row)
    where = f"{path}: TODO {row.get('id')}"
    if "hint_en" in row or "hint_es" in row:
        raise ValueError(f"{where}: hints are lists of levels: hints_en = [...], hints_es = [...]")
    levels = {}
    for key in ("hints_en", "hints_es"):
        value = row.pop(key, None)
        if not (isinstance(value, list) and all(isinstance(h, str) and h.strip() for h in value)):
            raise ValueError(f"{where}: {key} must be a list of non-empty strings")
        if not HINT_LEVELS[0] <= len(value) <= HINT_LEVELS[1]:
            raise ValueError(f"{where}: {key} has {len(value)} levels, not {HINT_LEVELS[0]}-{HINT_LEVELS[1]}")
        levels[key] = tuple(value)
    if len(levels["hints_en"]) != len(levels["hints_es"]):
        raise ValueError(f"{where}: hints_en has {len(levels['hints_en'])} levels, hints_es {len(levels['hints_es'])}")
    return Todo(
        **row,
        hint_en=levels["hints_en"][0],
        hint_es=levels["hints_es"][0],
        hints_en=levels["hints_en"],
        hints_es=levels["hints_es"],
    )


@cache
def _table(path: Path = TODOS_FILE) -> tuple[tuple[Task, ...], tuple[Todo, ...]]:
    """Read and validate the task and TODO tables; raise ValueError on any inconsistency."""
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    tasks = tuple(Task(**{**row, "functions": tuple(row["functions"])}) for row in data["task"])
    todos = tuple(_todo(row, path) for row in data["todo"])
    numbers = [task.number for task in tasks]
    if numbers != sorted(set(numbers)) or len({task.name for task in tasks}) != len(tasks):
        raise ValueError(f"{path}: task numbers must be unique and in order, names unique")
    ids = [todo.id for todo in todos]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate TODO ids in {ids}")
    by_number = {task.number: task for task in tasks}
    for todo in todos:
        if todo.task not in by_number:
            raise ValueError(f"{path}: TODO {todo.id} has unknown task {todo.task}")
        if todo.bonus != by_number[todo.task].bonus:
            raise ValueError(f"{path}: TODO {todo.id}: bonus TODOs are exactly those of the bonus task")
    return tasks, todos


def load_tasks(path: Path = TODOS_FILE) -> tuple[Task, ...]:
    return _table(path)[0]


def load_todos(path: Path = TODOS_FILE) -> tuple[Todo, ...]:
    return _table(path)[1]


def task_by_number() -> dict[int, Task]:
    return {task.number: task for task in load_tasks()}


def task_by_name(name: str) -> Task:
    """The task the CLI calls ``name`` ("1" … "4", "bonus"); KeyError if none."""
    return {task.name: task for task in load_tasks()}[name]


def find_task(text: str) -> Task:
    """The task a student names: by its CLI name ("1" … "4", "bonus", any case), by its
    number (``5`` is the bonus) or by the prefix of its TODO ids (``B``: B.1, B.2);
    KeyError if none."""
    key = text.strip().lower()
    for task in load_tasks():
        prefixes = {todo.id.partition(".")[0].lower() for todo in load_todos() if todo.task == task.number}
        if key in {task.name.lower(), str(task.number), *prefixes}:
            return task
    raise KeyError(text)


# Derived views kept for brevity at the call sites.
TASK_MODULES = {task.number: task.module for task in load_tasks()}
TASK_TEST_FILES = {task.number: task.test_file for task in load_tasks()}


def todo_by_id() -> dict[str, Todo]:
    return {todo.id: todo for todo in load_todos()}


def graded_todos() -> list[Todo]:
    """The TODOs that count towards the score out of 15 (bonus excluded)."""
    return [todo for todo in load_todos() if not todo.bonus]


def todo_order(todo_id: str) -> int:
    """Position of ``todo_id`` in the lab (unknown ids sort last)."""
    ids = [todo.id for todo in load_todos()]
    return ids.index(todo_id) if todo_id in ids else len(ids)
