"""Progressive hints: ``kata hint x.y`` shows a TODO's next hint level each time it is
asked (a nudge, then the MLflow call, then nearly the code; ``grader/lab/todos.toml``), and
``kata check`` and ``kata watch`` show the level the student has reached. The first
``kata hint`` of a TODO shows level 1 alone (a failing test may have shown another TODO's
hint), each later one the next level; ``kata check`` shows level 1 until then.

What a student has seen is remembered per user and per exercises folder (its resolved
path) in one small JSON file, ``hints.json``, in the user's state folder:
``$KATA_STATE_DIR``, else ``$XDG_STATE_HOME/mlflow-kata``, else
``~/.local/state/mlflow-kata`` (``%LOCALAPPDATA%\\mlflow-kata`` on Windows). Never in the
kit (an install may be shared) and never in the student's repository (nothing to commit
or to ignore). A missing, unreadable or corrupt file means no hint seen yet.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from grader.core import i18n
from grader.core.i18n import _
from grader.lab.todos import Todo, load_todos, todo_by_id

STATE_ENV = "KATA_STATE_DIR"
STATE_NAME = "hints.json"


def texts(lang: str) -> dict[str, str]:
    """Every line ``kata hint`` prints (and the hint lines of ``kata check`` and ``kata
    watch``), in ``lang`` (``grader/core/i18n.py``)."""
    with i18n.use(lang):
        return {
            "header": _("TODO {id} — {title} — hint {level}/{total}"),
            "next": _("Next time: `kata hint {id}` shows hint {next}/{total}."),
            "last": _("That was the last hint for TODO {id}."),
            "no_more": _(
                "No more hints for TODO {id}: you have seen all {total}. `kata hint {id} --reset` starts over."
            ),
            "reset_one": _("Hints of TODO {id} start again at hint 1."),
            "reset_all": _("Hints of every TODO start again at hint 1."),
            "unknown": _("kata hint: there is no TODO {id}; the TODOs are {ids}."),
            "which": _("kata hint: which TODO? For example `kata hint 1.3`; the TODOs are {ids}."),
            "unsaved": _("(could not remember this in {path}: {error})"),
            "level": _("hint {level}/{total}"),
            "more": _("More help: `kata hint {id}` (hint {next}/{total})."),
            "ladder": _("More help, one level at a time: `kata hint {id}` ({total} levels)."),
        }


# -- where the levels seen are kept ------------------------------------------------


def state_file() -> Path:
    """``hints.json`` in the user's state folder (see the module docstring)."""
    if os.environ.get(STATE_ENV):
        return Path(os.environ[STATE_ENV]) / STATE_NAME
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "mlflow-kata" / STATE_NAME
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "mlflow-kata" / STATE_NAME


def folder_key(exercises: Path) -> str:
    return str(Path(exercises).resolve())


def _load() -> dict:
    try:
        data = json.loads(state_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"folders": {}}
    if not isinstance(data, dict) or not isinstance(data.get("folders"), dict):
        return {"folders": {}}
    return data


def _save(data: dict) -> None:
    """Write atomically (a temporary file in the same folder, then a rename)."""
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".hints-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1, sort_keys=True)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def seen(exercises: Path) -> dict[str, int]:
    """``{TODO id: highest hint level shown}`` for this exercises folder."""
    levels = _load()["folders"].get(folder_key(exercises), {})
    return {k: v for k, v in levels.items() if isinstance(v, int)} if isinstance(levels, dict) else {}


def current_level(todo: Todo, exercises: Path) -> int:
    """The level a student has reached: 1 (what every failing test and ``kata check``
    show) until ``kata hint`` showed more."""
    return max(1, min(seen(exercises).get(todo.id, 0), len(todo.hints())))


def next_level(todo: Todo, exercises: Path) -> int:
    """What ``kata hint`` shows next: level 1 on the first ask, then the level after the
    one it showed last, at most the last."""
    return min(seen(exercises).get(todo.id, 0) + 1, len(todo.hints()))


def advance(todo: Todo, exercises: Path) -> tuple[int, bool]:
    """Count one more ``kata hint`` of ``todo``: ``(level to show, no more after it)``
    where asking past the last level shows the last one again. OSError when the state
    file cannot be written."""
    total = len(todo.hints())
    level = next_level(todo, exercises)
    data = _load()
    folder = data["folders"].setdefault(folder_key(exercises), {})
    if not isinstance(folder, dict):
        folder = data["folders"][folder_key(exercises)] = {}
    folder[todo.id] = level
    _save(data)
    return level, level == total


def reset(exercises: Path, todo_id: str | None = None) -> None:
    """Forget the levels seen of ``todo_id`` (default: every TODO) for this folder."""
    data = _load()
    key = folder_key(exercises)
    if todo_id is None:
        data["folders"].pop(key, None)
    elif isinstance(data["folders"].get(key), dict):
        data["folders"][key].pop(todo_id, None)
    _save(data)


# -- what kata check and kata watch show -------------------------------------------


def hint_line(todo: Todo, exercises: Path, lang: str) -> str:
    """``hint 2/3: …``: the hint at the level the student has reached."""
    level, total = current_level(todo, exercises), len(todo.hints(lang))
    return f"{texts(lang)['level'].format(level=level, total=total)}: {todo.hint(lang, level)}"


def more_line(todo: Todo, exercises: Path, lang: str) -> str | None:
    """Where the next level is, or None when the student has reached the last one.
    Before any ``kata hint`` of the TODO (whose first shows level 1 again), how the
    ladder goes."""
    level, total = current_level(todo, exercises), len(todo.hints(lang))
    if level >= total:
        return None
    if todo.id not in seen(exercises):
        return texts(lang)["ladder"].format(id=todo.id, total=total)
    return texts(lang)["more"].format(id=todo.id, next=level + 1, total=total)


# -- kata hint ------------------------------------------------------------------------


def normalise_id(todo_id: str) -> str:
    return todo_id.strip().upper()


def main_for(todo_id: str | None, exercises: str, lang: str, reset_levels: bool = False) -> int:
    """``kata hint [x.y] [--reset]``: 0 when done, 2 for an unknown or missing TODO id."""
    words = texts(lang)
    todos = todo_by_id()
    ids = ", ".join(todo.id for todo in load_todos())
    folder = Path(exercises)
    if todo_id is not None and normalise_id(todo_id) not in todos:
        print(words["unknown"].format(id=todo_id, ids=ids), file=sys.stderr)
        return 2
    if reset_levels:
        todo_key = normalise_id(todo_id) if todo_id is not None else None
        try:
            reset(folder, todo_key)
        except OSError as error:
            print(words["unsaved"].format(path=state_file(), error=error.strerror or error), file=sys.stderr)
            return 1
        print(words["reset_one"].format(id=todo_key) if todo_key else words["reset_all"])
        return 0
    if todo_id is None:
        print(words["which"].format(ids=ids), file=sys.stderr)
        return 2
    todo = todos[normalise_id(todo_id)]
    total = len(todo.hints(lang))
    already_all = seen(folder).get(todo.id, 0) >= total
    try:
        level, last = advance(todo, folder)
        unsaved = None
    except OSError as error:  # still show a hint; it just will not be remembered
        level = next_level(todo, folder)
        last, unsaved = level == total, error
    print(words["header"].format(id=todo.id, title=todo.shown_title, level=level, total=total))
    print(todo.hint(lang, level))
    if already_all:
        print(words["no_more"].format(id=todo.id, total=total))
    elif last:
        print(words["last"].format(id=todo.id))
    else:
        print(words["next"].format(id=todo.id, next=level + 1, total=total))
    if unsaved is not None:
        print(words["unsaved"].format(path=state_file(), error=unsaved.strerror or unsaved), file=sys.stderr)
    return 0
