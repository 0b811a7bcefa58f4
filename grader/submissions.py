"""Find a class's submissions and copy each one's student files to a private place.

Only the five task files (``exercises/*.py``) are ever taken from a submission; its
own tests, conftest.py and pytest.ini are ignored, and nothing in the submissions
folder is changed. Anything unusable becomes a one-line reason, never a crash.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.todos import TASK_MODULES

STUDENT_FILES = [f"{module}.py" for module in TASK_MODULES.values()]
MAX_FILE_BYTES = 1024 * 1024  # a task file larger than this is not student code
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_BYTES = 200 * 1024 * 1024  # uncompressed: zip bombs stop here


@dataclass(frozen=True)
class Submission:
    id: str
    source: Path  # a folder or a .zip inside SUBMISSIONS


class BadSubmission(Exception):
    """Nothing gradable; the message is the one-line reason shown to the instructor."""


def discover(folder: Path) -> list[Submission]:
    """Every direct child that is a folder or a ``.zip``, sorted by id."""
    found = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir() and not child.is_symlink():
            found.append(Submission(child.name, child))
        elif child.suffix.lower() == ".zip" and child.is_file():
            found.append(Submission(child.stem, child))
    return found


def prepare(submission: Submission, target: Path) -> list[str]:
    """Copy the submission's task files into ``target``; return notes (e.g. missing
    files). Raises BadSubmission when nothing gradable is there."""
    target.mkdir(parents=True, exist_ok=True)
    if submission.source.is_dir():
        files = files_from_folder(submission.source)
    else:
        files = files_from_zip(submission.source)
    if not files:
        raise BadSubmission("no exercises/ folder with task files at its root or one folder down")
    for name, data in files.items():
        (target / name).write_bytes(data)
    missing = [name for name in STUDENT_FILES if name not in files]
    return [f"missing {name}" for name in missing]


def exercises_candidates(paths: list[PurePosixPath]) -> list[PurePosixPath]:
    """``exercises/`` at the root or one folder down, root first."""
    folders = {path.parent for path in paths if path.parent.name == "exercises"}
    ranked = sorted((folder for folder in folders if len(folder.parts) <= 2), key=lambda f: len(f.parts))
    return ranked


def files_from_folder(root: Path) -> dict[str, bytes]:
    for exercises in (root / "exercises", *sorted(root.glob("*/exercises"))):
        if exercises.is_symlink() or not exercises.is_dir():
            continue
        if not inside(exercises, root):
            continue
        files, links_out = {}, []
        for name in STUDENT_FILES:
            path = exercises / name
            if path.is_symlink() and not inside(path, root):
                links_out.append(name)  # a link out of the submission is never followed
                continue
            if path.is_file() and path.stat().st_size <= MAX_FILE_BYTES:
                files[name] = path.read_bytes()
        if files:
            return files
        if links_out:
            raise BadSubmission(f"exercises/{links_out[0]} links outside the submission "
                                "(links are not followed): submit the file itself")
    if not any(root.iterdir()):
        raise BadSubmission("empty submission folder")
    return {}


def inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def files_from_zip(archive: Path) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(archive) as bundle:
            entries = bundle.infolist()
            check_zip(entries)
            paths = {PurePosixPath(entry.filename): entry for entry in entries if not entry.is_dir()}
            if not paths:
                raise BadSubmission("empty zip file")
            for folder in exercises_candidates(list(paths)):
                files = {}
                for name in STUDENT_FILES:
                    entry = paths.get(folder / name)
                    if entry and not is_symlink(entry) and entry.file_size <= MAX_FILE_BYTES:
                        files[name] = bundle.read(entry)
                if files:
                    return files
            if any(path.suffix.lower() == ".zip" for path in paths):
                raise BadSubmission("the zip holds another zip, not an exercises/ folder: unzip it once")
            return {}
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as error:
        raise BadSubmission(f"unreadable zip file ({error})") from None


def check_zip(entries: list[zipfile.ZipInfo]) -> None:
    if len(entries) > MAX_ZIP_ENTRIES:
        raise BadSubmission(f"the zip has {len(entries)} entries (at most {MAX_ZIP_ENTRIES})")
    if sum(entry.file_size for entry in entries) > MAX_ZIP_BYTES:
        raise BadSubmission("the zip unpacks to more than 200 MB")
    for entry in entries:
        path = PurePosixPath(entry.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
            raise BadSubmission(f"unsafe path in zip: {entry.filename!r} points outside the submission")


def is_symlink(entry: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(entry.external_attr >> 16)


def clear(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
