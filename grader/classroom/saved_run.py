"""What a class run keeps in OUT as it goes (``OUT/.kata-progress``): each submission's
result as soon as it is known, and the run's seed, so that ``--resume`` grades only what
is missing, with the same seed, kit and language as the results it keeps.

Reuse: ``--resume`` keeps a saved result only when what it was graded on is what would
be graded now (``SavedRun.reuse``): the same kit (``tests_sha256``), seed and language,
and the same task files (the result's ``files_sha256``, the hash of the files as staged;
for a submission nothing could be taken from, the same one-line reason). Anything else
is graded again, and the reason is counted (``REGRADE_REASONS``) for the run's one line.

The seed: the tests vary their inputs (names, samples) by a seed. A student's ``pytest``
and ``kata check`` use the public default, so a run draws a fresh one (``new_seed``) or
takes ``--seed``, and ``--resume`` keeps the seed of the results it resumes."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from grader.classroom.errors import GradingError
from grader.core.defaults import SEED_BYTES, SEED_PATTERN
from grader.core.files import id_stem
from grader.results.model import SubmissionResult

PROGRESS_DIR = ".kata-progress"  # per-submission results, for --resume
SEED_FILE = "seed.json"  # in PROGRESS_DIR: the seed (and language) of the run that saved them

# Why --resume grades a submission again, in the order they are told apart (a result saved
# with another kit was also saved with another seed: it is counted as "kit changed").
NOT_GRADED = "not graded yet"
KIT_CHANGED = "kit changed"
SEED_CHANGED = "seed changed"
LANG_CHANGED = "language changed"
FILES_CHANGED = "files changed"
REGRADE_REASONS = (FILES_CHANGED, KIT_CHANGED, SEED_CHANGED, LANG_CHANGED, NOT_GRADED)


def new_seed() -> str:
    """A seed no student can know in advance (``SEED_BYTES`` of entropy)."""
    return secrets.token_hex(SEED_BYTES)


def check_seed(seed: str) -> str:
    """``seed`` if it is one (``SEED_PATTERN``), else the one-line reason it is not."""
    if not SEED_PATTERN.fullmatch(seed):
        raise GradingError(f"--seed {seed!r}: use 1-64 letters, digits, '.', '_' or '-'")
    return seed


def file_stem(submission_id: str) -> str:
    """A safe, unique file name for a submission id (``grader.core.files.id_stem``)."""
    return id_stem(submission_id)


def out_lang(out: Path) -> str | None:
    """The language of the last run into ``out``, if it recorded one (``--only`` keeps it)."""
    return SavedRun(out, "").saved_lang()


class SavedRun:
    """``OUT/.kata-progress`` of a run with the kit ``tests_sha256`` in language ``lang``."""

    def __init__(self, out: Path, tests_sha256: str, lang: str = "en"):
        self.folder = out / PROGRESS_DIR
        self.tests_sha256, self.lang = tests_sha256, lang

    def choose_seed(self, given: str | None, resume: bool) -> str:
        """``given`` (``--seed``), else (resuming) the seed of the results saved in OUT,
        else a fresh one. Resuming results saved under another seed than ``--seed`` is
        refused."""
        if given is not None:
            check_seed(given)
        saved = self.saved_seed() if resume else None
        if saved is None:
            return given if given is not None else new_seed()
        if given is not None and given != saved:
            raise GradingError(
                f"--resume keeps the seed of the results in {self.folder.parent} "
                f"({saved}), not --seed {given}: drop one of the two"
            )
        return saved

    def seed_record(self) -> dict:
        """``SEED_FILE``'s content ({} when there is none or it is unreadable)."""
        try:
            data = json.loads((self.folder / SEED_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def saved_seed(self) -> str | None:
        """The seed of the last run into OUT with this kit, if any."""
        data = self.seed_record()
        if data.get("tests_sha256") != self.tests_sha256:
            return None
        seed = data.get("seed")
        return seed if isinstance(seed, str) and SEED_PATTERN.fullmatch(seed) else None

    def saved_lang(self) -> str | None:
        """The language of the last run into OUT, if it recorded one."""
        lang = self.seed_record().get("lang")
        return lang if isinstance(lang, str) else None

    def save_seed(self, seed: str) -> None:
        from grader.core.files import write_atomic

        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(
            self.folder / SEED_FILE, json.dumps({"seed": seed, "tests_sha256": self.tests_sha256, "lang": self.lang})
        )

    def reuse(
        self, submission_id: str, seed: str, files_sha256: str, skipped: str | None = None
    ) -> tuple[SubmissionResult | None, str]:
        """The result saved for ``submission_id`` if it was graded on what would be graded
        now: this kit, ``seed`` and language, and task files hashing to ``files_sha256``
        (or, for a submission that cannot be staged now, ``skipped`` its reason: the same
        reason saved). Else ``(None, why)``, ``why`` one of ``REGRADE_REASONS``. A result
        saved without a ``files_sha256`` (by an older kit) counts as "files changed"."""
        saved = self.folder / f"{file_stem(submission_id)}.json"
        try:
            data = json.loads(saved.read_text(encoding="utf-8"))
            result = SubmissionResult.from_json(data["result"])
        except (OSError, ValueError, KeyError, TypeError):
            return None, NOT_GRADED
        if result.id != submission_id:  # another id's file name (never in practice: file_stem hashes the id)
            return None, NOT_GRADED
        if data.get("tests_sha256") != self.tests_sha256:
            return None, KIT_CHANGED
        if data.get("seed") != seed:
            return None, SEED_CHANGED
        if data.get("lang", "en") != self.lang:  # one language per report
            return None, LANG_CHANGED
        if skipped is None:
            same = bool(files_sha256) and result.files_sha256 == files_sha256
        else:
            same = not result.files_sha256 and result.status == "error" and result.message == skipped
        return (result, "") if same else (None, FILES_CHANGED)

    def save(self, result: SubmissionResult, seed: str) -> None:
        from grader.core.files import write_atomic

        write_atomic(
            self.folder / f"{file_stem(result.id)}.json",
            json.dumps(
                {"tests_sha256": self.tests_sha256, "seed": seed, "lang": self.lang, "result": result.to_json()}
            ),
        )
