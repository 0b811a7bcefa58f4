"""What a class run is asked to do (``GradeOptions``: ``kata grade``'s options), and
what a pool grading for it sees of the run (``GradingRun``): the seam that lets
``grade.ClassGrader`` choose a pool (``LocalPool``, ``dask_pool.DaskPool``) without the
pools importing the class run back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from grader.classroom.protocol import WorkerSettings
from grader.core.defaults import CALL_TIMEOUT_S


@dataclass(frozen=True)
class GradeOptions:
    submissions: Path
    out: Path
    jobs: int
    timeout: float = CALL_TIMEOUT_S
    resume: bool = False
    logs: bool = True
    require_isolation: bool = False  # a guarantee the OS cannot give is an error
    allow_unconfined: bool = False  # grade even below the isolation floor (recorded)
    seed: str | None = None  # the tests' seed; None: a fresh one (or, resuming, the saved one)
    lang: str = "en"  # the language of the verdicts' messages (grader.core.i18n)
    scheduler: str | None = None  # grade on Dask: a scheduler address or "local:N" (grader.classroom.dask_scheduler)
    similarity_threshold: float | None = None  # None: grader.classroom.similarity's default
    # --scheduler ADDRESS's client credentials (all three, else Dask's configuration's)
    tls_ca_file: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    insecure_scheduler: bool = False  # accept a scheduler address without TLS (recorded in results.json)
    lazy_server: bool = False  # the worker serves the model only while the bonus's tests run (least memory)
    budget: float | None = None  # seconds all calls of one submission may take together (grader.judge.budget)
    memory_mb: int | None = None  # MiB one call of student code may use (None: the sandbox's default)
    only: tuple[str, ...] = ()  # regrade just these ids into OUT's results (grader.classroom.regrade)
    journal_summary: Path | None = None  # also write the class's per-message counts here (no student id)


class GradingRun(Protocol):
    """What a pool reads of the class run it grades for (``grade.ClassGrader``)."""

    options: GradeOptions
    kit: dict  # results.json's kit facts: tests_sha256, seed, isolation
    seed: str

    def progress(self, event: str, **data) -> None: ...

    def worker_settings(self) -> WorkerSettings: ...

    def record_isolation(self, isolation: dict) -> None: ...
