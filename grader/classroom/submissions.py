"""Find a class's submissions and take each one's five task files to a private place.

What ``discover(SUBMISSIONS)`` returns, one ``Submission`` per direct child:

- A folder, or a regular ``.zip`` file, is a submission. Its id is its name, without
  ``.zip`` for a zip. **Duplicate ids**: when a zip's short id is also another entry's
  id (``s01/`` and ``s01.zip``), the zip is named in full instead: ``s01`` and
  ``s01.zip`` are graded separately, and each result carries a note saying so. (Any
  zip whose short id clashes uses its file name, and file names are unique in a
  folder, so no result is ever lost.)
- Anything else is not graded but still gets a row: a ``Submission`` with a
  ``reason``, which ``prepare`` raises as ``BadSubmission``, so ``kata grade`` records
  it as status ``error`` with that one-line reason. That is: links (never followed: a
  link out of SUBMISSIONS would grade files the instructor did not hand in), hidden
  folders and zips (``.git``, ``.alice.zip``), other archives (``lab.tar.gz``,
  ``.rar``, ``.7z``), loose files (``notes.txt``, ``task1_baseline.py``), special files.
- Ignored on purpose, without a row: operating-system clutter (``__MACOSX``,
  ``Thumbs.db``, ``desktop.ini``, ``._*`` shadows of macOS, and hidden files that are
  not zips: ``.DS_Store``, ``.gitignore``) and the instructor's own ``README*`` files.

Where ``prepare`` finds the task files, in a folder or a zip alike (steps 1 and 2 are
``task_files.choose``, the one rule for both; a zip is read by ``archives``):

1. an ``exercises/`` folder holding task files, at the root or up to four folders down
   (``repo-main/src/lab/exercises/``). The shallowest wins; between folders at the
   same depth, the one holding most task files, then the first by path; a note names
   the folders left out;
2. else task files loose at the root, or in the lone top folder (``lab/*.py``);
3. else, for a folder, the single ``.zip`` it holds, searched the same way: a Moodle
   "download all" gives ``<Full Name>_123456_assignsubmission_file_/lab.zip``.

Safety: only the five task files are ever read (never a submission's tests,
conftest.py or pytest.ini), each at most 1 MB; nothing is extracted and nothing in
SUBMISSIONS is written (a zip is read entry by entry, see ``archives``). Links are never
taken out of a submission: a task file linking outside its folder, a link entry in a zip,
a linked folder or zip are reported, never followed. Anything unusable becomes a one-line
reason, never a crash.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.classroom.archives import JOURNAL_KEY, files_from_zip
from grader.classroom.task_files import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    ROOT,
    STUDENT_FILES,
    BadSubmission,
    choose,
    first_problem,
    no_exercises,
    take_notes,
    too_large,
)
from grader.core.i18n import N_, _
from grader.results.journal import READ_MAX_BYTES, handed_in_paths

MAX_FOLDERS_SCANNED = 2_000  # per submission folder: the search is bounded

IGNORED_NAMES = {"__macosx", "thumbs.db", "ehthumbs.db", "desktop.ini"}
SKIPPED_FOLDERS = {"__macosx", "__pycache__", "node_modules", "site-packages"}
OTHER_ARCHIVES = {
    ".tar": N_("a tar archive"),
    ".tgz": N_("a tar archive"),
    ".gz": N_("a gzip file"),
    ".bz2": N_("a bzip2 file"),
    ".xz": N_("an xz file"),
    ".rar": N_("a RAR archive"),
    ".7z": N_("a 7-Zip archive"),
}


@dataclass(frozen=True)
class Submission:
    id: str
    source: Path  # a folder or a .zip inside SUBMISSIONS (or the entry that is neither)
    notes: tuple[str, ...] = ()  # said in the result, e.g. how a duplicate id was settled
    reason: str = ""  # not gradable as found: ``prepare`` raises BadSubmission(reason)


# -- discover -----------------------------------------------------------------------------
def discover(folder: Path) -> list[Submission]:
    """Every direct child of ``folder`` but ignored clutter, sorted by id: folders and
    zips to grade, anything else with its ``reason`` (see the module docstring)."""
    entries = [(child, entry_reason(child)) for child in sorted(folder.iterdir()) if not ignored(child)]
    ids = {child: short_id(child) for child, _reason in entries}
    while True:  # a zip whose short id is taken goes by its (unique) file name
        taken: dict[str, int] = {}
        for child_id in ids.values():
            taken[child_id] = taken.get(child_id, 0) + 1
        clashing = [child for child, child_id in ids.items() if taken[child_id] > 1 and child_id != child.name]
        if not clashing:
            break
        for child in clashing:
            ids[child] = child.name
    found = []
    for child, reason in entries:
        notes: tuple[str, ...] = ()
        twins = sorted(other.name for other in ids if other != child and short_id(other) == short_id(child))
        if twins and not reason:
            notes = (
                _("{name} and {twins} are both in the submissions folder: graded separately, this one as {id}").format(
                    name=child.name, twins=", ".join(twins), id=repr(ids[child])
                ),
            )
        found.append(Submission(ids[child], child, notes, reason))
    return sorted(found, key=lambda submission: submission.id)


def ignored(child: Path) -> bool:
    name = child.name.lower()
    if name in IGNORED_NAMES or name.startswith("._"):  # ._*: macOS AppleDouble shadows
        return True
    if child.is_symlink() or child.is_dir() or name.endswith(".zip"):
        return False
    return name.startswith(".") or name.startswith("readme")


def short_id(child: Path) -> str:
    name = child.name
    is_zip = name.lower().endswith(".zip") and not (child.is_dir() and not child.is_symlink())
    return name[:-4] if is_zip and len(name) > 4 else name


def entry_reason(child: Path) -> str:
    """Why a direct child of SUBMISSIONS is not a submission ("" when it is one)."""
    name = child.name
    if child.is_symlink():
        if inside(child, child.parent):
            return _(
                "{name} is a link (links are not followed): put the folder or .zip itself in the submissions folder"
            ).format(name=name)
        return _(
            "{name} is a link out of the submissions folder (links are not followed): put the folder "
            "or .zip itself in the submissions folder"
        ).format(name=name)
    if name.startswith(".") and (child.is_dir() or child.is_file()):
        return _("{name} is hidden (its name starts with a dot): not graded; rename it to grade it").format(name=name)
    if child.is_dir() or (child.is_file() and name.lower().endswith(".zip")):
        return ""
    if not child.is_file():
        return _("not a folder or a .zip: {name} is a special file").format(name=name)
    suffixes = Path(name.lower()).suffixes
    kind = OTHER_ARCHIVES[".tar"] if ".tar" in suffixes else OTHER_ARCHIVES.get(suffixes[-1] if suffixes else "")
    if kind:
        return _("not a folder or a .zip: {name} is {kind}; upload a .zip").format(name=name, kind=_(kind))
    return _("not a folder or a .zip: {name}; each student's work goes in a folder or a .zip").format(name=name)


# -- prepare ------------------------------------------------------------------------------
STAGED_JOURNAL = "journal.jsonl"  # a submission's journal, staged beside its exercises/ folder


def prepare(submission: Submission, target: Path) -> list[str]:
    """Copy the submission's task files into ``target``, and the student's journal when
    it holds one beside them (``STAGED_JOURNAL``, next to ``target``: never read by a
    grading, read by ``kata grade`` as untrusted input for the summary in results.json);
    return notes (e.g. missing files). Raises BadSubmission when nothing gradable is there."""
    if submission.reason:
        raise BadSubmission(submission.reason)
    if submission.source.is_symlink():
        raise BadSubmission(_("{name} is a link (links are not followed)").format(name=submission.source.name))
    if submission.source.is_dir():
        files, notes = files_from_folder(submission.source)
    else:
        files, notes = files_from_zip(submission.source)
    target.mkdir(parents=True, exist_ok=True)
    handed_in = files.pop(JOURNAL_KEY, None)
    if handed_in is not None:  # beside the task files, never among them
        (target.parent / STAGED_JOURNAL).write_bytes(handed_in)
    for name, data in files.items():
        (target / name).write_bytes(data)
    missing = [_("missing {file}").format(file=name) for name in STUDENT_FILES if name not in files]
    return [*submission.notes, *notes, *missing]


# -- folders ------------------------------------------------------------------------------
def files_from_folder(root: Path) -> tuple[dict[str, bytes], list[str]]:
    tasks, listing, zips, links = scan_folder(root)
    if not listing:
        raise BadSubmission(_("empty submission folder"))
    dirs = [name for name, is_dir in listing.items() if is_dir]
    top = PurePosixPath(dirs[0]) if len(listing) == 1 and dirs else None
    folder, notes = choose(tasks, top)
    if folder is not None:
        files = {}
        for name in STUDENT_FILES:
            relative = folder / name
            if relative in tasks and not tasks[relative]:
                files[name] = read_capped(root / relative)
        handed_in = journal_from_folder(root, folder)
        if handed_in is not None:
            files[JOURNAL_KEY] = handed_in
        return files, notes + take_notes(tasks, folder)
    problem = first_problem(tasks) or next(iter(links), "")
    if problem:
        raise BadSubmission(problem)
    if len(zips) == 1:
        inner = root / zips[0]
        if inner.is_symlink():
            raise BadSubmission(
                _("{name} is a link (links are not followed): submit the file itself").format(name=zips[0])
            )
        try:
            return files_from_zip(inner)
        except BadSubmission as reason:
            raise BadSubmission(f"{zips[0]}: {reason}") from None
    if len(zips) > 1:
        raise BadSubmission(
            _("no exercises/ folder, and {count} zips ({names}): keep only the one to grade").format(
                count=len(zips), names=", ".join(zips[:3])
            )
        )
    archives = [name for name in listing if Path(name.lower()).suffix in OTHER_ARCHIVES]
    raise no_exercises("; " + _("{name} is not a .zip").format(name=archives[0]) if archives else "")


def scan_folder(root: Path) -> tuple[dict[PurePosixPath, str], dict[str, bool], list[str], list[str]]:
    """Breadth-first and bounded, never into linked folders: every file named like a
    task file (path → "" or why it cannot be taken), the root's listing without
    clutter (name → is a folder), the root's .zip files, and why linked exercises/
    folders were not searched."""
    tasks: dict[PurePosixPath, str] = {}
    listing: dict[str, bool] = {}
    zips: list[str] = []
    links: list[str] = []
    pending = deque([ROOT])
    scanned = 0
    while pending and scanned < MAX_FOLDERS_SCANNED:
        relative = pending.popleft()
        scanned += 1
        try:
            with os.scandir(root / relative) as children:
                entries = sorted(children, key=lambda entry: entry.name)
        except OSError:
            if relative == ROOT:
                raise
            continue
        for entry in entries:
            path = relative / entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if relative == ROOT and not ignored(Path(entry.path)):
                listing[entry.name] = is_dir
                if not is_dir and entry.name.lower().endswith(".zip"):
                    zips.append(entry.name)
            if is_dir:
                deeper = len(path.parts) <= MAX_DEPTH or (
                    len(path.parts) == MAX_DEPTH + 1 and entry.name == "exercises"
                )
                if deeper and not entry.name.startswith(".") and entry.name.lower() not in SKIPPED_FOLDERS:
                    pending.append(path)
            elif entry.name in STUDENT_FILES:
                tasks[path] = file_problem(root, path)
            elif entry.name == "exercises" and entry.is_symlink():
                links.append(
                    _("{path}/ is a link (links are not followed): submit the folder itself").format(path=path)
                )
    return tasks, listing, zips, links


def file_problem(root: Path, relative: PurePosixPath) -> str:
    """Why the task file at ``root / relative`` cannot be taken ("" when it can)."""
    path = root / relative
    if path.is_symlink() and not inside(path, root):
        return _("{path} links outside the submission (links are not followed): submit the file itself").format(
            path=relative
        )
    try:
        info = path.stat()
    except OSError:
        return _("{path} is a broken link or cannot be read").format(path=relative)
    if not stat.S_ISREG(info.st_mode):
        return _("{path} is not a regular file").format(path=relative)
    if info.st_size > MAX_FILE_BYTES:
        return too_large(relative)
    return ""


def journal_from_folder(root: Path, folder: PurePosixPath) -> bytes | None:
    """The student's journal beside the task files taken from ``folder`` (its first
    ``READ_MAX_BYTES + 1`` bytes: a larger one is seen as such), when it is a regular file
    inside the submission; never raises (a journal never changes a grade)."""
    for relative in handed_in_paths(folder):
        path = root / relative
        try:
            if path.is_symlink() or not path.is_file() or not inside(path, root):
                continue
            with path.open("rb") as handle:
                return handle.read(READ_MAX_BYTES + 1)
        except OSError:
            continue
    return None


def read_capped(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(MAX_FILE_BYTES)


def inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):
        return False
    return True
