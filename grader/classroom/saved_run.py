"""What a class run keeps in OUT as it goes (``OUT/.kata-progress``): each submission's
result as soon as it is known, and the run's seed, so that ``--resume`` grades only what
is missing, with the same seed, kit and language as the results it keeps.

The seed: the tests vary their inputs (names, samples) by a seed. A student's ``pytest``
and ``kata check`` use the public default, so a run draws a fresh one (``new_seed``) or
takes ``--seed``, and ``--resume`` keeps the seed of the results it resumes."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from pathlib import Path

from grader.classroom.errors import GradingError
from grader.core.defaults import SEED_BYTES, SEED_PATTERN
from grader.results.model import SubmissionResult

PROGRESS_DIR = ".kata-progress"  # per-submission results, for --resume
SEED_FILE = "seed.json"  # in PROGRESS_DIR: the seed of the run that saved them


def new_seed() -> str:
    """A seed no student can know in advance (``SEED_BYTES`` of entropy)."""
    return secrets.token_hex(SEED_BYTES)


def check_seed(seed: str) -> str:
    """``seed`` if it is one (``SEED_PATTERN``), else the one-line reason it is not."""
    if not SEED_PATTERN.fullmatch(seed):
        raise GradingError(f"--seed {seed!r}: use 1-64 letters, digits, '.', '_' or '-'")
    return seed


def file_stem(submission_id: str) -> str:
    """A safe, unique file name for a submission id (ids may hold any character)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", submission_id)[:60].strip("._") or "submission"
    return f"{safe}-{hashlib.sha256(submission_id.encode()).hexdigest()[:8]}"


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

    def saved_seed(self) -> str | None:
        """The seed of the last run into OUT with this kit, if any."""
        try:
            data = json.loads((self.folder / SEED_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("tests_sha256") != self.tests_sha256:
            return None
        seed = data.get("seed")
        return seed if isinstance(seed, str) and SEED_PATTERN.fullmatch(seed) else None

    def save_seed(self, seed: str) -> None:
        from grader.core.files import write_atomic

        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(self.folder / SEED_FILE, json.dumps({"seed": seed, "tests_sha256": self.tests_sha256}))

    def saved_result(self, submission_id: str, seed: str) -> SubmissionResult | None:
        """The result saved for ``submission_id`` by a run with this kit, ``seed`` and
        language, if any."""
        saved = self.folder / f"{file_stem(submission_id)}.json"
        if not saved.is_file():
            return None
        try:
            data = json.loads(saved.read_text(encoding="utf-8"))
        except ValueError:
            return None
        if (
            data.get("tests_sha256") != self.tests_sha256
            or data.get("seed") != seed
            or data.get("lang", "en") != self.lang  # one language per report
            or data["result"]["id"] != submission_id
        ):
            return None
        return SubmissionResult.from_json(data["result"])

    def save(self, result: SubmissionResult, seed: str) -> None:
        from grader.core.files import write_atomic

        write_atomic(
            self.folder / f"{file_stem(result.id)}.json",
            json.dumps(
                {"tests_sha256": self.tests_sha256, "seed": seed, "lang": self.lang, "result": result.to_json()}
            ),
        )
