"""The one pool of kata workers: ``kata grade`` (``grade.LocalPool``), ``kata validate``
(``grader.authoring.validate``) and a Dask worker's host (``dask_worker.KataHost``) all
grade through a ``WorkerPool``. It starts kata workers (from one launcher thread that
lives as long as the pool: a worker dies with the thread that started it), hands each
one job at a time, stops a worker that gave no reply and starts another for the next
job, and turns every job into a typed ``Graded`` outcome.

Two ways in: ``grade(jobs)`` serves a list of jobs on ``size`` threads and yields each
outcome in the calling thread as soon as it is known (timed waits, so that the main
thread's signal handlers run meanwhile); ``grade_one(job)`` grades one job on the
calling thread (a Dask task's). ``close()`` stops every worker, even half-way through
``grade``; no worker is started once it has begun.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from grader.classroom.errors import BelowFloor, GradingError
from grader.classroom.protocol import Job, Reply, WorkerSettings
from grader.classroom.worker_handle import Worker


def grading_deadline_s(timeout: float) -> float:
    """How long one job may take in a kata worker: a backstop, as every call of student
    code has its own limit (``timeout``)."""
    return 25 * timeout + 300


@dataclass(frozen=True)
class Graded:
    """One job's outcome, wherever it was graded: the kata worker's reply, or None when
    the grader gave up on it (``lost`` then says why, when known: ``Worker.lost``)."""

    job: Job
    reply: Reply | None
    lost: str = ""


class WorkerPool:
    """Kata workers started with ``settings`` and ``env``, their temp files in ``tmpdir``
    (see the module docstring). ``size``: how many ``grade`` serves at once."""

    def __init__(
        self,
        settings: WorkerSettings,
        env: dict[str, str],
        tmpdir: Path,
        size: int = 1,
        launcher: ThreadPoolExecutor | None = None,
    ):
        self.settings, self.env, self.tmpdir, self.size = settings, env, tmpdir, max(1, size)
        self.own_launcher = launcher is None
        self.launcher = launcher or ThreadPoolExecutor(1, thread_name_prefix="kata-launcher")
        self.lock = threading.Lock()
        self.idle: list[Worker] = []
        self.busy: set[Worker] = set()
        self.stopping = False  # set (under ``lock``) by close(): no worker starts after it
        self.isolation: dict = {}  # the last started worker's (its hello)

    # -- workers ---------------------------------------------------------------------
    def start(self, count: int | None = None) -> list[dict]:
        """Start ``count`` (default ``size``) workers now and wait for their hellos in the
        calling thread, so that a worker that cannot start or a sandbox below the floor
        stops the caller at once; their isolations."""
        workers = [Worker(self.settings, self.env, self.tmpdir) for _ in range(count or self.size)]
        with self.lock:
            if self.stopping:
                raise GradingError("the kata workers are being stopped")
            self.busy.update(workers)
        try:
            for worker in workers:
                self.launch(worker)
            isolations = [self.ready(worker) for worker in workers]
        except BaseException:
            for worker in workers:
                self.give_back(worker, healthy=False)
            raise
        for worker in workers:
            self.give_back(worker, healthy=True)
        return isolations

    def take(self) -> Worker:
        """An idle worker, else a new one, started and ready."""
        with self.lock:
            if self.stopping:
                raise GradingError("the kata workers are being stopped")
            worker = self.idle.pop() if self.idle else Worker(self.settings, self.env, self.tmpdir)
            self.busy.add(worker)
        if worker.process is None:
            try:
                self.launch(worker)
                self.ready(worker)
            except BaseException:
                self.give_back(worker, healthy=False)
                raise
        return worker

    def launch(self, worker: Worker) -> None:
        """Start ``worker`` from the launcher thread (see the module docstring)."""

        def start() -> None:
            with self.lock:  # never a worker started once close() is stopping them
                if self.stopping:
                    raise GradingError("the kata workers are being stopped")
                worker.start()

        try:
            self.launcher.submit(start).result()
        except RuntimeError:  # the launcher was shut down by close()
            raise GradingError("the kata workers are being stopped") from None

    def ready(self, worker: Worker) -> dict:
        try:
            self.isolation = worker.wait_ready()
        except BelowFloor as refused:
            refused.isolation = dict(worker.isolation)
            raise
        return self.isolation

    def give_back(self, worker: Worker, healthy: bool) -> None:
        """``worker`` is done with its job: idle again, or stopped (no reply, a closed pool)."""
        with self.lock:
            self.busy.discard(worker)
            if healthy and not self.stopping:
                self.idle.append(worker)
                return
        worker.stop()
        worker.process = None  # the next take starts it again

    def stop_idle(self) -> None:
        """Stop the workers waiting for a job (a Dask host's of another run)."""
        with self.lock:
            idle, self.idle = self.idle, []
        for worker in idle:
            worker.stop()

    @property
    def in_use(self) -> int:
        with self.lock:
            return len(self.busy)

    # -- jobs ------------------------------------------------------------------------
    def grade_one(self, job: Job) -> Graded:
        """Grade ``job`` on an idle worker (or a new one) in the calling thread. Raises
        ``GradingError`` when no worker can start (``BelowFloor`` for the floor)."""
        worker = self.take()
        reply = worker.grade(job, grading_deadline_s(self.settings.timeout))
        lost = worker.lost
        self.give_back(worker, healthy=reply is not None)
        return Graded(job, reply, lost)

    def grade(self, jobs: list[Job], on_begin: Callable[[Job], None] | None = None) -> Iterator[Graded]:
        """Every job, on ``size`` threads at most; each outcome yielded in the calling
        thread as soon as it is known. A job whose worker cannot start is given up on
        (``Graded`` without a reply); a worker stopped by ``close()`` is no verdict on its
        job (nothing is yielded for it)."""
        pending: queue.Queue[Job] = queue.Queue()
        for job in jobs:
            pending.put(job)
        done: queue.Queue[Graded] = queue.Queue()

        def serve() -> None:
            while not self.stopping:
                try:
                    job = pending.get_nowait()
                except queue.Empty:
                    return
                if on_begin is not None:
                    on_begin(job)
                try:
                    outcome = self.grade_one(job)
                except GradingError:
                    outcome = Graded(job, None)
                if self.stopping:
                    return
                done.put(outcome)

        threads = [
            threading.Thread(target=serve, daemon=True, name="kata-serve") for _ in range(min(self.size, len(jobs)))
        ]
        for thread in threads:
            thread.start()
        left = len(jobs)
        while left:
            try:
                outcome = done.get(timeout=0.5)  # a timed wait: signals are handled meanwhile
            except queue.Empty:
                if not any(thread.is_alive() for thread in threads) and done.empty():
                    return
                continue
            left -= 1
            yield outcome

    def close(self) -> None:
        """Stop every worker, busy or idle; none starts after this."""
        with self.lock:
            self.stopping = True
            workers = [*self.idle, *self.busy]
            self.idle, self.busy = [], set()
        for worker in workers:
            worker.stop()
        if self.own_launcher:
            self.launcher.shutdown(wait=False)
