"""What runs inside a Dask worker process for ``kata grade --scheduler``.

A Dask task (``grade_task``) grades one submission, sent as the bytes of a zip of its
staged ``exercises/`` folder: nothing on the worker's disk is trusted or shared with
the ``kata grade`` process. The Dask worker process keeps a ``KataHost`` between tasks
(one per process, made on first use): its own workspace (``$TMPDIR/kata-grade-*``, as a
local run's, so the next run on that machine sweeps it should this process be killed),
warm kata workers (``python -m grader.classroom.worker``, the same sandbox as a local run), one per
task running at once, and the kit's model server for the bonus: the one the task names
(``local:N``: ``kata grade`` serves one for its machine, as a local run does), else this
Dask worker's own, started on first use. They go away with the Dask worker (``KataWorkerPlugin.teardown``, ``atexit``; the
kata workers also by ``PR_SET_PDEATHSIG`` should it be killed).

Every answer carries the worker's kit hash, the seed it graded with and the hash of the
submission's bytes it received: ``kata grade`` refuses answers from another kit version,
and one for another seed or other bytes than it sent (``grader.classroom.dask_pool``). This module imports
``distributed``: only Dask workers and ``grader.classroom.dask_pool`` (once Dask is known to be
installed) import it.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import io
import shutil
import signal
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from distributed import WorkerPlugin, get_worker

from grader.judge.model_server import SERVER_ENV
from grader.core.quiet import silence_mlflow
from grader.classroom.grade import (BelowFloor, GradingError, Worker, WorkerSettings, grading_deadline_s, grading_workspace,
                          kata_worker_env, kit_has_bonus, kit_sha256, start_model_server)

PLUGIN_NAME = "mlflow-kata"


@dataclass(frozen=True)
class GradeTask:
    """One submission to grade on a Dask worker."""

    id: str
    stem: str  # grader.classroom.grade.file_stem(id): a safe folder name
    exercises_zip: bytes  # the staged exercises/ folder (flat: the task files)
    exercises_sha256: str  # what kata grade holds the answer to: the hash of exercises_zip
    want_log: bool  # return the pytest-html log
    kit_sha256: str  # the kit of the `kata grade` that sent it
    settings: WorkerSettings
    topic: str  # the Dask event topic where "begin" is announced
    model_server: str | None = None  # a model server on the worker's machine; None: the worker's own


@dataclass(frozen=True)
class TaskAnswer:
    """What a Dask worker sends back: its kit and seed, the hash of the submission's bytes
    it graded, and the kata worker's reply (None: the kata worker stopped or hung), the
    log's bytes, the sandbox's isolation."""

    kit_sha256: str
    seed: str
    exercises_sha256: str  # of the exercises_zip received, checked by kata grade against what it sent
    worker: str  # the Dask worker's address, for messages
    reply: dict | None = None
    log: bytes | None = None
    isolation: dict = field(default_factory=dict)


def zip_folder(folder: Path) -> bytes:
    """The files directly in ``folder`` (a staged exercises/ folder) as zip bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.is_symlink():
                bundle.writestr(path.name, path.read_bytes())
    return buffer.getvalue()


def unzip_flat(data: bytes, target: Path) -> None:
    """Write ``zip_folder``'s files into ``target``; only plain names are taken (the
    bytes come from the trusted ``kata grade``, but a name is never a path)."""
    target.mkdir(parents=True)
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        for name in bundle.namelist():
            if "/" in name or "\\" in name or name in ("", ".", ".."):
                continue
            (target / name).write_bytes(bundle.read(name))


class KataHost:
    """A Dask worker process's grading state, kept between tasks (see module docstring)."""

    def __init__(self):
        silence_mlflow()  # the model server's model is saved in this process
        self.kit = kit_sha256()
        self.lock = threading.Lock()
        self.stack = contextlib.ExitStack()
        self.workspace = self.stack.enter_context(grading_workspace())
        # Kata workers die with the thread that started them (PDEATHSIG): this one lives
        # as long as the process, unlike Dask's task threads.
        self.launcher = ThreadPoolExecutor(1, thread_name_prefix="kata-launcher")
        self.own_server_env: dict[str, str] | None = None  # set when its own server is started
        self.server = None
        self.idle: list[Worker] = []
        self.busy: set[Worker] = set()
        self.isolation: dict = {}
        self.closed = False

    def grade(self, task: GradeTask) -> TaskAnswer:
        address = get_worker().address
        received = hashlib.sha256(task.exercises_zip).hexdigest()
        if task.kit_sha256 != self.kit:
            return TaskAnswer(self.kit, task.settings.seed, received, address)
        folder = self.workspace / "staging" / task.stem
        shutil.rmtree(folder, ignore_errors=True)
        unzip_flat(task.exercises_zip, folder / "exercises")
        if self.server is not None:  # its own model server, restarted if a submission left it dead
            with contextlib.suppress(Exception):
                self.server.ensure_alive()
        try:
            try:
                worker = self.take(task.settings, task.model_server)
            except BelowFloor as refused:  # an answer, not a task error: kata grade stops in one line
                return TaskAnswer(self.kit, task.settings.seed, received, address,
                                  isolation=dict(refused.isolation))
            log = folder / "log.html" if task.want_log else None
            job = {"id": task.id, "exercises": str(folder / "exercises"), "log": str(log) if log else None}
            reply = worker.grade(job, grading_deadline_s(task.settings.timeout))
            self.give_back(worker, healthy=reply is not None)
            log_bytes = log.read_bytes() if log is not None and log.is_file() else None
            return TaskAnswer(self.kit, task.settings.seed, received, address, reply, log_bytes,
                              dict(self.isolation))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def take(self, settings: WorkerSettings, model_server: str | None) -> Worker:
        """An idle kata worker with ``settings`` and ``model_server``, else a new one
        (started by the launcher thread); idle ones of another run are stopped."""
        with self.lock:
            if self.closed:
                raise GradingError("this Dask worker is closing")
            env = self.server_env(model_server)
            fits = [worker for worker in self.idle if (worker.settings, worker.env) == (settings, env)]
            stale = [worker for worker in self.idle if worker not in fits]
            self.idle = fits
            worker = self.idle.pop() if self.idle else Worker(settings, env, self.workspace / "tmp")
            self.busy.add(worker)
        for old in stale:
            old.stop()
        if worker.process is None:
            try:
                self.launcher.submit(worker.start).result()
                self.isolation = worker.wait_ready()
            except BelowFloor as refused:
                refused.isolation = worker.isolation
                self.give_back(worker, healthy=False)
                raise
            except BaseException:
                self.give_back(worker, healthy=False)
                raise
        return worker

    def server_env(self, model_server: str | None) -> dict[str, str]:
        """The kata workers' environment, naming the model server they use (called
        under ``lock``: its own server is started once)."""
        if model_server is not None:
            return {**kata_worker_env(), SERVER_ENV: model_server}
        if self.own_server_env is None:
            env = kata_worker_env()
            if kit_has_bonus():
                self.server = self.launcher.submit(
                    start_model_server, self.workspace / "served-model", env).result()
            self.own_server_env = env
        return dict(self.own_server_env)

    def give_back(self, worker: Worker, healthy: bool) -> None:
        with self.lock:
            self.busy.discard(worker)
            if healthy and not self.closed:
                self.idle.append(worker)
                return
        worker.stop()

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            workers = [*self.idle, *self.busy]
        for worker in workers:
            worker.stop()
        if self.server is not None:
            self.server.stop()
        self.launcher.shutdown(wait=False)
        self.stack.close()


_host: KataHost | None = None
_host_lock = threading.Lock()


def host() -> KataHost:
    """This process's ``KataHost``, made on first use."""
    global _host
    with _host_lock:
        if _host is None or _host.closed:
            _host = KataHost()
            atexit.register(_host.close)
        return _host


def close_host() -> None:
    with _host_lock:
        if _host is not None:
            _host.close()


def grade_task(task: GradeTask) -> TaskAnswer:
    """The Dask task: announce the submission (``kata grade``'s "begin" progress event),
    then grade it on this worker's ``KataHost``."""
    with contextlib.suppress(Exception):  # progress only: never a reason to fail
        get_worker().log_event(task.topic, {"id": task.id})
    return host().grade(task)


class KataWorkerPlugin(WorkerPlugin):
    """Stops the kata workers, the model server and the workspace when the Dask worker
    closes (registered by ``kata grade`` on every worker, present and future)."""

    def teardown(self, worker) -> None:
        close_host()


class LeaveInterruptsToKataGrade(WorkerPlugin):
    """``local:N``'s workers ignore SIGINT: a terminal's Ctrl-C reaches the whole process
    group, and ``kata grade`` alone must handle it (it stops the cluster in order, and
    the workers would otherwise die with a traceback each)."""

    def setup(self, worker) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
