"""The class staged once per run: every submission's task files copied, with
``grader.classroom.submissions``' safe discovery and copying, into a private folder of
the run's workspace. Grading reads the staged copies of the submissions it grades, and
the similarity section reads them all (also those ``--resume`` did not regrade), so a
submission that cannot be staged fails once, with one reason, for both.

Each staged submission's files are hashed (``files_digest``): what a result records as
``files_sha256``, so that ``kata grade --resume`` regrades a submission whose files changed.

Student code never sees these copies: the sandbox stages its own copy of the task files
for each call (``Sandbox.stage_exercises``)."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from grader.classroom.submissions import Submission, discover, prepare
from grader.classroom.task_files import BadSubmission
from grader.core.i18n import _


@dataclass(frozen=True)
class StagedClass:
    folders: dict[str, Path]  # submission id -> a private folder holding its task files
    skipped: dict[str, str]  # submission id -> the one-line reason it could not be staged
    notes: dict[str, list[str]] = field(default_factory=dict)  # submission id -> what staging noted
    digests: dict[str, str] = field(default_factory=dict)  # submission id -> files_digest of its folder


def files_digest(folder: Path) -> str:
    """The sha256 of the task files staged in ``folder``: each file's name and bytes, in
    name order (a file added, removed, renamed or edited changes it)."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).iterdir()):
        data = path.read_bytes()
        digest.update(f"{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def stage(submissions: list[Submission], into: Path) -> StagedClass:
    """Copy each submission's task files into ``into/<n>/exercises/``; a bad or unreadable
    submission is skipped with its one-line reason."""
    folders: dict[str, Path] = {}
    skipped: dict[str, str] = {}
    notes: dict[str, list[str]] = {}
    digests: dict[str, str] = {}
    for number, submission in enumerate(submissions):
        target = Path(into) / f"{number:05d}" / "exercises"
        try:
            notes[submission.id] = prepare(submission, target)
            digests[submission.id] = files_digest(target)
        except BadSubmission as reason:
            skipped[submission.id] = str(reason)
            continue
        except OSError as error:  # unreadable files, permissions…
            skipped[submission.id] = _("could not read the submission ({reason})").format(
                reason=error.strerror or error
            )
            continue
        folders[submission.id] = target
    return StagedClass(folders, skipped, notes, digests)


def stage_class(submissions: Path, into: Path, exclude: Path | None = None) -> StagedClass:
    """``stage`` every submission found in the folder SUBMISSIONS; ``exclude`` (an OUT
    folder lying inside it) is no submission."""
    found = [
        submission
        for submission in discover(Path(submissions))
        if exclude is None or submission.source.resolve() != exclude.resolve()
    ]
    return stage(found, into)


@contextmanager
def staged_class(submissions: Path, exclude: Path | None = None) -> Iterator[StagedClass]:
    """``stage_class`` into a temporary folder that is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="kata-staged-") as temp:
        yield stage_class(submissions, Path(temp), exclude)
