"""The mistake matrix's mistakes, loaded from ``mistakes.toml`` (typed, validated).

A mistake is one small edit of a reference solution (find this exact text, replace it)
with the TODOs a fair judge must fail it on. ``kata validate`` applies each one alone
and requires that exactly those TODOs fail.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from grader.authoring.stubgen import MarkerError, render
from grader.core.paths import SOLUTIONS_DIR
from grader.lab.todos import TASK_MODULES, todo_by_id, todo_order

MISTAKES_FILE = Path(__file__).with_name("mistakes.toml")
SOLUTIONS = SOLUTIONS_DIR
TASK_OF_FILE = {f"{module}.py": task for task, module in TASK_MODULES.items()}


@dataclass(frozen=True)
class Mistake:
    name: str
    file: str
    what: str
    find: str
    replace: str
    expected: tuple[str, ...]

    @property
    def task(self) -> int:
        return TASK_OF_FILE[self.file]

    def apply(self, source: str) -> str:
        """``source`` (the solution file's text) with this mistake made."""
        return source.replace(self.find, self.replace, 1)


class MistakeError(ValueError):
    """``mistakes.toml`` is malformed or no longer fits the solutions."""


def _mistake(row: dict, where: str) -> Mistake:
    names = {field.name for field in fields(Mistake)}
    if set(row) != names:
        missing, unknown = sorted(names - set(row)), sorted(set(row) - names)
        raise MistakeError(
            f"{where}: "
            + "; ".join(
                f"{label} {', '.join(keys)}"
                for label, keys in (("missing fields:", missing), ("unknown fields:", unknown))
                if keys
            )
        )
    for key in names - {"expected"}:
        if not isinstance(row[key], str):
            raise MistakeError(f"{where}: {key} must be a string, not {type(row[key]).__name__}")
    expected = row["expected"]
    if not isinstance(expected, list) or not all(isinstance(i, str) for i in expected):
        raise MistakeError(f"{where}: expected must be a list of TODO ids (strings)")
    return Mistake(**{**row, "expected": tuple(sorted(expected, key=todo_order))})


def check_mistake(mistake: Mistake, solutions: Path, where: str) -> None:
    """Raise MistakeError unless ``mistake`` is a well-formed edit of its solution file."""
    if not mistake.name.strip() or not mistake.what.strip():
        raise MistakeError(f"{where}: name and what must not be empty")
    if mistake.file not in TASK_OF_FILE:
        raise MistakeError(f"{where}: file {mistake.file!r} is not a task file ({', '.join(sorted(TASK_OF_FILE))})")
    todos = todo_by_id()
    if not mistake.expected:
        raise MistakeError(f"{where}: expected names no TODO (a mistake must cost at least one)")
    for todo_id in mistake.expected:
        if todo_id not in todos:
            raise MistakeError(f"{where}: expected TODO {todo_id} is not in todos.toml")
        if todos[todo_id].task != mistake.task:
            raise MistakeError(
                f"{where}: expected TODO {todo_id} is not a TODO of {mistake.file} (only that file's task is rerun)"
            )
    if len(set(mistake.expected)) != len(mistake.expected):
        raise MistakeError(f"{where}: expected lists a TODO twice")
    if not mistake.find or mistake.find == mistake.replace:
        raise MistakeError(f"{where}: find must be non-empty and differ from replace")
    source = (solutions / mistake.file).read_text(encoding="utf-8")
    count = source.count(mistake.find)
    if count != 1:
        raise MistakeError(
            f"{where}: find text occurs {count} times in solutions/{mistake.file} "
            f"(it must occur exactly once): {mistake.find!r}"
        )
    try:
        code = render(mistake.apply(source), (), mistake.file)
        compile(code, f"{mistake.file} with mistake {mistake.name!r}", "exec")
    except (MarkerError, SyntaxError) as error:
        raise MistakeError(f"{where}: the edited file is not valid: {error}") from None


def load_mistakes(path: Path = MISTAKES_FILE, solutions: Path = SOLUTIONS) -> tuple[Mistake, ...]:
    """Read and validate every mistake against ``solutions``; raise MistakeError if any is off."""
    with open(path, "rb") as handle:
        try:
            rows = tomllib.load(handle).get("mistake", [])
        except tomllib.TOMLDecodeError as error:
            raise MistakeError(f"{path}: {error}") from None
    mistakes = []
    for index, row in enumerate(rows, start=1):
        where = f"{path.name}: mistake {row.get('name', f'#{index}')!r}"
        mistake = _mistake(row, where)
        check_mistake(mistake, solutions, where)
        mistakes.append(mistake)
    names = [mistake.name for mistake in mistakes]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise MistakeError(f"{path}: duplicate mistake names {duplicates}")
    return tuple(mistakes)
