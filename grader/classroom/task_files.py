"""A submission's task files, whatever holds them: which files they are
(``STUDENT_FILES``, none larger than ``MAX_FILE_BYTES``), which folder of a submission
they are taken from (``choose``: steps 1 and 2 of ``submissions``' docstring), and the
one-line refusal every reader raises (``BadSubmission``). Folders (``submissions``) and
zips (``archives``) both apply it, so it lives below both: one rule for the two, and a
folder can hand the zip it holds to ``archives`` without the two importing each other.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from grader.core.i18n import _
from grader.lab.todos import TASK_MODULES

STUDENT_FILES = [f"{module}.py" for module in TASK_MODULES.values()]
MAX_FILE_BYTES = 1024 * 1024  # a task file larger than this is not student code
MAX_DEPTH = 4  # exercises/ is looked for up to this many folders below a submission's root
ROOT = PurePosixPath(".")


class BadSubmission(Exception):
    """Nothing gradable; the message is the one-line reason shown to the instructor."""


def choose(tasks: dict[PurePosixPath, str], top: PurePosixPath | None) -> tuple[PurePosixPath | None, list[str]]:
    """The folder to take task files from, and notes. ``tasks`` maps every file named
    like a task file to "" when it can be taken, else the reason it cannot."""
    groups: dict[PurePosixPath, int] = {}
    for path, why in tasks.items():
        if not why and path.parent.name == "exercises" and len(path.parent.parts) <= MAX_DEPTH + 1:
            groups[path.parent] = groups.get(path.parent, 0) + 1
    if groups:
        ranked = sorted(groups, key=lambda f: (len(f.parts), -groups[f], f.as_posix()))
        others = ranked[1:]
        if not others:
            return ranked[0], []
        listed = ", ".join(f"{folder}/" for folder in others[:3]) + (", …" if len(others) > 3 else "")
        return ranked[0], [
            _("took {folder}/, not the other exercises/ folders with task files ({others})").format(
                folder=ranked[0], others=listed
            )
        ]
    for folder in (ROOT, top):
        if folder is not None and any(path.parent == folder and not why for path, why in tasks.items()):
            if folder == ROOT:
                return folder, [_("no exercises/ folder: took the task files at the root")]
            return folder, [_("no exercises/ folder: took the task files in {folder}/").format(folder=folder)]
    return None, []


def no_exercises(extra: str = "") -> BadSubmission:
    return BadSubmission(
        _("no exercises/ folder with task files (looked {depth} folders down) and no task files at its root").format(
            depth=MAX_DEPTH
        )
        + extra
    )


def first_problem(tasks: dict[PurePosixPath, str]) -> str:
    return next((tasks[path] for path in sorted(tasks) if tasks[path]), "")


def take_notes(tasks: dict[PurePosixPath, str], folder: PurePosixPath) -> list[str]:
    """The task files of the chosen folder that could not be taken, and why."""
    return [tasks[folder / name] for name in STUDENT_FILES if tasks.get(folder / name)]


def too_large(path: PurePosixPath) -> str:
    return _("{path} is larger than {size} MB: not taken").format(path=path, size=MAX_FILE_BYTES // 1024 // 1024)
