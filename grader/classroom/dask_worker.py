"""What runs inside a Dask worker process for ``kata grade --scheduler``.

A Dask task (``grade_task``) grades one submission, sent as the bytes of a zip of its
staged ``exercises/`` folder: nothing on the worker's disk is trusted or shared with
the ``kata grade`` process. The Dask worker process keeps a ``KataHost`` between tasks
(one per process, made on first use): its own workspace (``$TMPDIR/kata-grade-*``, as a
local run's, so the next run on that machine sweeps it should this process be killed),
warm kata workers (``python -m grader.classroom.worker``, the same sandbox as a local run), one per
task running at once, and the kit's model server for the bonus: the one the task names
(``local:N``: ``kata grade`` serves one for its machine, as a local run does), else this
Dask worker's own, started on first use. They go away with the Dask worker: when it
closes (``KataWorkerPlugin.teardown``, ``atexit``); at once on SIGINT, SIGTERM or SIGHUP,
even mid-grading, before Dask handles the signal (a terminal's Ctrl-C reaches the whole
process group, and Dask's own close may never reach the plugin's teardown, or is cut short
by the nanny after a few seconds: ``grader.classroom.interrupts.clean_up_first``); and, should
it be killed outright, by ``PR_SET_PDEATHSIG`` (the kata workers and the model server are
started from one launcher thread that lives as long as the process; the workspace is
then swept by the next run on that machine). A task under way when its host closes goes
back to the scheduler, for another worker.

Every answer carries the worker's kit hash, the seed it graded with and the hash of the
submission's bytes it received: ``kata grade`` refuses answers from another kit version,
and one for another seed or other bytes than it sent (``grader.classroom.dask_pool``). This module imports
``distributed``: only Dask workers and ``grader.classroom.dask_pool`` (once Dask is known to be
installed) import it.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import io
import shutil
import signal
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from distributed import Reschedule, WorkerPlugin, get_worker

from grader.classroom.errors import BelowFloor, GradingError
from grader.classroom.interrupts import clean_up_first
from grader.classroom.pool import WorkerPool
from grader.classroom.protocol import GradeTask, Job, TaskAnswer, WorkerSettings
from grader.classroom.serving import kata_worker_env, kit_has_bonus, start_model_server
from grader.classroom.workspace import grading_workspace, remove_tree
from grader.core.manifest import kit_sha256
from grader.core.quiet import silence_mlflow
from grader.judge.model_server import SERVER_ENV

PLUGIN_NAME = "mlflow-kata"


class Closing(GradingError):
    """This Dask worker's host is closing (or closed while a task graded): the task is
    given back to the scheduler (``Reschedule``), never answered with a kata worker it
    stopped."""

    def __init__(self):
        super().__init__("this Dask worker is closing")


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
    """A Dask worker process's grading state, kept between tasks (see module docstring):
    one ``WorkerPool`` per run's settings and model server (a task of another run finds
    the idle workers of the last one stopped), all started by one launcher thread."""

    def __init__(self):
        silence_mlflow()  # the model server's model is saved in this process
        self.kit = kit_sha256()
        # Reentrant: a signal's cleanup (``close``, in the main thread) may come while the
        # main thread is in ``close`` already (the plugin's teardown). Never held while the
        # model server starts (``server_lock``): a signal's cleanup never waits ~7 s for it.
        self.lock = threading.RLock()
        self.server_lock = threading.Lock()
        self.stack = contextlib.ExitStack()
        self.workspace = self.stack.enter_context(grading_workspace())
        # Kata workers and the model server die with the thread that started them
        # (PDEATHSIG): this one lives as long as the process, unlike Dask's task threads.
        self.launcher = ThreadPoolExecutor(1, thread_name_prefix="kata-launcher")
        self.own_server_env: dict[str, str] | None = None  # set when its own server is started
        self.server = None
        self.pools: dict[tuple, WorkerPool] = {}  # by (settings, environment)
        self.closed = False

    def grade(self, task: GradeTask) -> TaskAnswer:
        """``task`` graded; ``Closing`` if the host is closed before or while it is (its
        kata worker stopped, or none started: no verdict)."""
        try:
            answer = self._grade(task)
        except Exception:
            if self.closed:
                raise Closing() from None
            raise
        if self.closed:
            raise Closing()
        return answer

    def _grade(self, task: GradeTask) -> TaskAnswer:
        address = get_worker().address
        received = hashlib.sha256(task.exercises_zip).hexdigest()
        if self.closed:
            raise Closing()
        folder = self.workspace / "staging" / task.stem
        shutil.rmtree(folder, ignore_errors=True)
        unzip_flat(task.exercises_zip, folder / "exercises")
        if self.server is not None:  # its own model server, restarted if a submission left it dead
            with contextlib.suppress(Exception):  # from the launcher, as it was started (PDEATHSIG)
                self.launcher.submit(self.server.ensure_alive).result()
        try:
            pool = self.pool(task.settings, task.model_server)
            log = folder / "log.html" if task.want_log else None
            job = Job(task.id, str(folder / "exercises"), str(log) if log else None)
            try:
                outcome = pool.grade_one(job)
            except BelowFloor as refused:  # an answer, not a task error: kata grade stops in one line
                return TaskAnswer(self.kit, task.settings.seed, received, address, isolation=dict(refused.isolation))
            log_bytes = log.read_bytes() if log is not None and log.is_file() else None
            return TaskAnswer(
                self.kit, task.settings.seed, received, address, outcome.reply, log_bytes, dict(pool.isolation)
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def pool(self, settings: WorkerSettings, model_server: str | None) -> WorkerPool:
        """The pool of kata workers with ``settings`` and ``model_server``; the idle
        workers of the others (another run's) are stopped, and a pool left with none busy
        is forgotten."""
        env = self.server_env(model_server)
        with self.lock:
            if self.closed:
                raise Closing()
            key = (settings, tuple(sorted(env.items())))
            for other_key, other in list(self.pools.items()):
                if other_key != key:
                    other.stop_idle()
                    if not other.in_use:
                        other.close()
                        del self.pools[other_key]
            if key not in self.pools:
                self.pools[key] = WorkerPool(settings, env, self.workspace / "tmp", launcher=self.launcher)
            return self.pools[key]

    def server_env(self, model_server: str | None) -> dict[str, str]:
        """The kata workers' environment, naming the model server they use (its own
        server is started once, from the launcher: it dies with this process)."""
        if model_server is not None:
            return {**kata_worker_env(), SERVER_ENV: model_server}
        with self.server_lock:
            if self.own_server_env is None:
                env = kata_worker_env()
                if kit_has_bonus():
                    self.server = self.launcher.submit(self.start_server, env).result()
                self.own_server_env = env
            return dict(self.own_server_env)

    def start_server(self, env: dict[str, str]):
        """Its own model server (in the launcher thread); none once ``close`` has begun. One
        that ``close`` missed (it had no process yet when ``close`` killed what works in the
        workspace) is stopped here, its files removed."""
        if self.closed:
            raise Closing()
        server = start_model_server(self.workspace / "served-model", env, dies_with_thread=True)
        if self.closed:
            if server is not None:
                server.stop()
            remove_tree(self.workspace)
            raise Closing()
        return server

    def close(self) -> None:
        """Stop every kata worker and the model server and remove the workspace, at once,
        even mid-grading (the task then fails; the Dask worker is closing). Idempotent."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            pools, self.pools = list(self.pools.values()), {}
        self.launcher.shutdown(wait=False)  # no kata worker or server starts after this
        for pool in pools:
            pool.close()
        if self.server is not None:
            self.server.stop()
        self.stack.close()  # also kills whatever still works in the workspace (a server starting)


_host: KataHost | None = None
CLOSING_PAUSE_S = 0.5  # before a task goes back: the scheduler learns this worker is closing
_host_lock = threading.RLock()  # reentrant: a signal's cleanup may come while it is held
_stopping = False  # a signal asked this Dask worker to stop: no new host


def host() -> KataHost:
    """This process's ``KataHost``, made on first use (again after a plugin's teardown:
    the next run's)."""
    global _host
    with _host_lock:
        if _stopping:
            raise Closing()
        if _host is None or _host.closed:
            _host = KataHost()
            atexit.register(_host.close)
        return _host


def close_host() -> None:
    with _host_lock:
        if _host is not None:
            _host.close()


def stop_host() -> None:
    """A signal's cleanup: close this process's host and make no other."""
    global _stopping
    _stopping = True
    close_host()


def grade_task(data: dict) -> dict:
    """The Dask task: a ``GradeTask``'s JSON form, answered by a ``TaskAnswer``'s. A task
    from a ``kata grade`` with another kit is answered at once with this worker's kit
    hash (read before the rest: another kit may shape its tasks otherwise); any other is
    announced (``kata grade``'s "begin" progress event) and graded on this worker's
    ``KataHost``. A task the host is closed under (Ctrl-C on the Dask worker, a plugin's
    teardown) is given back to the scheduler (``Reschedule``), never answered with the
    kata worker it stopped: another worker grades it."""
    kit = kit_sha256() if _host is None else _host.kit
    if data.get("kit_sha256") != kit:
        received = hashlib.sha256(base64.b64decode(str(data.get("exercises_zip") or ""))).hexdigest()
        return TaskAnswer(kit, str(data.get("settings", {}).get("seed", "")), received, get_worker().address).to_json()
    task = GradeTask.from_json(data)
    try:
        kata_host = host()
        with contextlib.suppress(Exception):  # progress only: never a reason to fail
            get_worker().log_event(task.topic, {"id": task.id})
        return kata_host.grade(task).to_json()
    except Closing:  # stopped (Ctrl-C) or torn down mid-task: graded on another worker
        time.sleep(CLOSING_PAUSE_S)
        raise Reschedule() from None


class KataWorkerPlugin(WorkerPlugin):
    """Stops the kata workers, the model server and the workspace when the Dask worker
    closes, or at once when it gets SIGINT, SIGTERM or SIGHUP (registered by ``kata grade``
    on every worker, present and future, before its first task)."""

    def setup(self, worker) -> None:
        # The main thread's handlers (Dask calls setup there). Under a nanny, a terminal's
        # Ctrl-C reaches the nanny too, which then stops this process in order (~2 s); Dask's
        # own SIGINT handling here would leave it stuck until the nanny kills it (8 s).
        clean_up_first(stop_host, leave=(signal.SIGINT,) if getattr(worker, "nanny", None) else ())

    def teardown(self, worker) -> None:
        close_host()


class LeaveInterruptsToKataGrade(WorkerPlugin):
    """``local:N``'s workers ignore SIGINT: a terminal's Ctrl-C reaches the whole process
    group, and ``kata grade`` alone must handle it (it stops the cluster in order, and
    the workers would otherwise die with a traceback each)."""

    def setup(self, worker) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
