"""A submission handed in as a zip (or the single ``.zip`` a submission folder holds):
its task files read straight out of the archive, never extracted, from the folder the
rule for folders and zips alike picks (``task_files.choose``). A zip comes from the
student as it is, so it has its own defences, all here:

Zip entry names written with Windows backslashes (``lab\\exercises\\task1.py``) are
read as paths. A zip inside a submission zip is refused: "unzip it once".

A zip is read entry by entry, so its other entries (a 300 MB dataset, a virtualenv)
cost nothing and count toward no limit, with two exceptions: a zip listing more than
``MAX_ZIP_ENTRIES`` entries is refused before its listing is loaded, and an entry named
with an absolute path, ``..`` or a drive letter refuses the whole zip (no archiver writes
such names: the zip was crafted). A link entry or an encrypted one is reported, never
read, and a damaged zip is a one-line reason (``UNREADABLE_ZIP``), never a crash.
"""

from __future__ import annotations

import lzma
import re
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from grader.classroom.task_files import (
    MAX_FILE_BYTES,
    STUDENT_FILES,
    BadSubmission,
    choose,
    first_problem,
    no_exercises,
    take_notes,
    too_large,
)
from grader.core.i18n import _
from grader.results.journal import READ_MAX_BYTES, handed_in_paths

MAX_ZIP_ENTRIES = 200_000  # a longer listing is refused unread (it would fill memory)
UNREADABLE_ZIP = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    RuntimeError,
    NotImplementedError,
    EOFError,
    ValueError,
    KeyError,
    zlib.error,
    lzma.LZMAError,
)


JOURNAL_KEY = ".kata/journal.jsonl"  # the journal among a reader's files (prepare stages it apart)


def files_from_zip(archive: Path) -> tuple[dict[str, bytes], list[str]]:
    """The task files of the zip at ``archive`` (file name → bytes) and notes; BadSubmission
    with the one-line reason when the zip cannot be used."""
    try:
        count = zip_entry_count(archive)
        if count is not None and count > MAX_ZIP_ENTRIES:
            raise BadSubmission(
                _("the zip lists {count} entries (at most {limit})").format(count=count, limit=MAX_ZIP_ENTRIES)
            )
        with zipfile.ZipFile(archive) as bundle:
            return files_from_bundle(bundle)
    except UNREADABLE_ZIP as error:
        detail = " ".join(str(error).split()) or type(error).__name__
        raise BadSubmission(_("unreadable zip file ({detail})").format(detail=detail)) from None


def files_from_bundle(bundle: zipfile.ZipFile) -> tuple[dict[str, bytes], list[str]]:
    entries: dict[PurePosixPath, zipfile.ZipInfo] = {}
    for entry in bundle.infolist():
        path = zip_path(entry.filename)
        if path is None or path.parts[0].lower() == "__macosx":
            continue
        entries[path] = entry  # a repeated name: the last entry wins, as when unzipping
    if not entries:
        raise BadSubmission(_("empty zip file"))
    tasks = {path: entry_problem(path, entry) for path, entry in entries.items() if path.name in STUDENT_FILES}
    tops = {path.parts[0] for path in entries}
    top = PurePosixPath(tops.pop()) if len(tops) == 1 and all(len(p.parts) > 1 for p in entries) else None
    folder, notes = choose(tasks, top)
    if folder is None:
        linked = [
            _("{path}/ is a link inside the zip (links are not followed): zip the folder itself").format(path=path)
            for path, entry in entries.items()
            if path.name == "exercises" and stat.S_ISLNK(entry.external_attr >> 16)
        ]
        problem = first_problem(tasks) or next(iter(linked), "")
        if problem:
            raise BadSubmission(problem)
        if any(path.suffix.lower() == ".zip" for path in entries):
            raise BadSubmission(_("the zip holds another zip, not an exercises/ folder: unzip it once"))
        raise no_exercises()
    files = {}
    for name in STUDENT_FILES:
        path = folder / name
        if path in tasks and not tasks[path]:
            with bundle.open(entries[path]) as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                notes.append(too_large(path))
            else:
                files[name] = data
    handed_in = journal_from_bundle(bundle, entries, folder)
    if handed_in is not None:
        files[JOURNAL_KEY] = handed_in
    return files, notes + take_notes(tasks, folder)


def journal_from_bundle(
    bundle: zipfile.ZipFile, entries: dict[PurePosixPath, zipfile.ZipInfo], folder: PurePosixPath
) -> bytes | None:
    """The student's journal beside the task files taken from ``folder`` (its first
    ``READ_MAX_BYTES + 1`` bytes), when the zip holds one as a plain entry; never raises:
    a journal never changes a grade."""
    for path in handed_in_paths(folder):
        entry = entries.get(path)
        if entry is None or stat.S_ISLNK(entry.external_attr >> 16) or entry.flag_bits & 0x1:
            continue
        try:
            with bundle.open(entry) as handle:
                return handle.read(READ_MAX_BYTES + 1)
        except UNREADABLE_ZIP:
            continue
    return None


def zip_path(name: str) -> PurePosixPath | None:
    """An entry's path inside the zip (backslashes read as folders), or None for a
    folder entry; BadSubmission for a name that points outside the submission."""
    unified = name.replace("\\", "/")
    parts = unified.split("/")
    if unified.startswith("/") or ".." in parts or re.match(r"[A-Za-z]:", unified):
        raise BadSubmission(_("unsafe path in zip: {name} points outside the submission").format(name=repr(name)))
    if unified.endswith("/"):
        return None
    path = PurePosixPath(unified)
    return path if path.parts else None


def entry_problem(path: PurePosixPath, entry: zipfile.ZipInfo) -> str:
    if stat.S_ISLNK(entry.external_attr >> 16):
        return _("{path} is a link inside the zip (links are not followed): zip the file itself").format(path=path)
    if entry.flag_bits & 0x1:
        return _("{path} is encrypted in the zip: zip it without a password").format(path=path)
    if entry.file_size > MAX_FILE_BYTES:
        return too_large(path)
    return ""


def zip_entry_count(archive: Path) -> int | None:
    """The entry count the zip's end record declares, read without loading the listing
    (None when it cannot be read here: opening the zip then says why)."""
    end_record = getattr(zipfile, "_EndRecData", None)
    if end_record is None:
        return None
    try:
        with archive.open("rb") as handle:
            end = end_record(handle)
        return int(end[zipfile._ECD_ENTRIES_TOTAL]) if end else None  # type: ignore[attr-defined]  # private, not in typeshed
    except Exception:  # noqa: BLE001 — a damaged zip is reported by ZipFile itself
        return None
