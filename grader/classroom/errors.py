"""The grader's own failures: why a class run (or one submission's grading) stops with
one line and a non-zero exit, never a traceback; and the isolation floor, the one such
decision every grading path shares."""

from __future__ import annotations


class GradingError(Exception):
    """The grader itself cannot do its job (one-line reason, non-zero exit)."""


class IsolationRefused(GradingError):
    """The run is refused for the sandbox's isolation, known only once a kata worker is up
    (below the floor, or ``--require-isolation`` missing a guarantee): ``kata grade`` then
    puts OUT back as it was when nothing was graded yet."""


class BelowFloor(IsolationRefused):
    """Student code would run below the isolation floor and the instructor did not allow it.
    ``isolation`` is what the refusing sandbox could set up (a Dask worker sends it back)."""

    def __init__(self, message: str, isolation: dict | None = None):
        super().__init__(message)
        self.isolation = dict(isolation or {})


UNCONFINED_HINT = (
    "pass --allow-unconfined to grade anyway (recorded in results.json), or grade "
    "where the kit can confine it (README: How student code is isolated)"
)


def refuse_below_floor(isolation: dict) -> None:
    """The one decision every grading path shares (``kata grade`` here or on Dask, ``kata
    validate``, the Gradescope run): a sandbox whose zygote refused to run student code
    (root, and neither namespaces, Landlock nor a uid of its own: ``confine.Mechanisms.
    unconfined``) stops the run with one line. The zygote refuses each call as well, so
    no student code ran whoever forgot to ask."""
    refused = isolation.get("refused")
    if refused:
        raise BelowFloor(f"refusing to grade: {refused}; {UNCONFINED_HINT}", isolation)
