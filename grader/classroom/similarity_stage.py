"""The similarity stage of a class run: after the grades are written, pairs of the
class's submissions whose task code is suspiciously alike (``grader.classroom.
similarity``) are found in the class the run staged (``staging``, also the submissions
``--resume`` did not regrade) and written to ``OUT/similarity.json`` with a side-by-side
page per pair. It is optional and has a deadline: the grades never wait on it."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from grader.classroom.staging import StagedClass

SIMILARITY_DEADLINE_S = 600  # the optional similarity section; the grades never wait on it


def within_deadline(work, seconds: float):
    """``work()``'s value, or None if it raised or is still running after ``seconds`` (it
    is then left to finish in a daemon thread, which the process does not wait for)."""
    box: list = []

    def run() -> None:
        with contextlib.suppress(Exception):
            box.append(work())

    thread = threading.Thread(target=run, daemon=True, name="kata-optional-section")
    thread.start()
    thread.join(seconds)
    return box[0] if box else None


def similar_submissions(staged: StagedClass, out: Path, threshold: float | None, progress) -> list:
    """The class's similar pairs (``threshold`` None: the default), written into ``out``."""
    from grader.classroom.similarity import DEFAULT_THRESHOLD, find_similar
    from grader.classroom.similarity_pages import write_similarity

    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    pairs = find_similar(staged.folders, threshold)
    pairs = write_similarity(pairs, staged.folders, out, threshold)
    progress("similarity", pairs=len(pairs), threshold=threshold)
    return pairs


def similarity_section(staged: StagedClass | None, out: Path, threshold: float | None, progress) -> list:
    """``similar_submissions`` within ``SIMILARITY_DEADLINE_S``: its pairs, or none (and a
    progress event saying it ran out of time or failed)."""
    similar = None
    if staged is not None:
        similar = within_deadline(lambda: similar_submissions(staged, out, threshold, progress), SIMILARITY_DEADLINE_S)
    if similar is None:
        progress("similarity", pairs=None, threshold=None, deadline_s=SIMILARITY_DEADLINE_S)
    return similar or []
