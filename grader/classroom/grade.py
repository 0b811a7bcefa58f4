"""``kata grade``: grade a whole class in parallel, safely, and write the reports.

Each submission's task files are copied to a private workspace (``submissions``),
graded by one of ``--jobs`` long-lived worker processes (``worker``) that share one
``mlflow models serve`` for the bonus, and its result is saved as soon as it is
known (so ``--resume`` grades only what is missing). At the end ``results.json``,
``grades.csv`` and ``index.html`` are written atomically (``exports``). Where a job is
graded is one seam, a ``GradingPool``: ``LocalPool`` here, or ``grader.classroom.dask_pool``'s
``DaskPool`` on a Dask cluster (``--scheduler``); everything else is the same.

Seed: the tests vary their inputs (names, samples) by a seed. A student's ``pytest``
and ``kata check`` use the public default, so ``kata grade`` draws a fresh one per run
(or takes ``--seed``), gives it to every worker and records it in ``results.json``
(``kit.seed``): a regrade with ``--seed`` that seed reproduces every verdict, and
``--resume`` keeps the seed of the results it resumes.

Robustness: one run at a time per ``OUT`` (``OUT/.kata-lock``); every temp file of a
run (staged submissions, the workers' sandboxes, the served model) lives in one
workspace, ``$TMPDIR/kata-grade-*``, removed at exit and, should the run be killed,
by the next run (it records its owner in ``owner.pid``); workers and the model
server die with the run even on ``kill -9`` (``PR_SET_PDEATHSIG``, pid namespace);
SIGINT/SIGTERM/SIGHUP become ``Interrupted`` once cleanup-safe (``interrupts``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import platform
import queue
import re
import secrets
import select
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from grader.core import i18n
from grader.core.i18n import _
from grader.core.paths import KIT_ROOT
from grader.results.model import ClassResults, KataRun, SubmissionResult
from grader.sandbox import untrusted_tree
from grader.classroom.submissions import BadSubmission, Submission, discover, prepare
from grader.lab.todos import load_todos
from grader.core.manifest import kit_sha256

PROGRESS_DIR = ".kata-progress"  # per-submission results, for --resume
SEED_FILE = "seed.json"  # in PROGRESS_DIR: the seed of the run that saved them
SEED_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
LOGS_DIR = "logs"
LOCK_FILE = ".kata-lock"  # flock'ed for the whole run: one `kata grade` per OUT
WORKSPACE_PREFIX = "kata-grade-"  # $TMPDIR/kata-grade-*: one run's temp files
OWNER_FILE = "owner.pid"  # "<pid> <start time>" of the run owning a workspace
WORKER_START_TIMEOUT_S = 300


class GradingError(Exception):
    """The grader itself cannot do its job (one-line reason, non-zero exit)."""


# -- interruption ------------------------------------------------------------------------
class Interrupted(BaseException):
    """``kata grade`` got SIGINT, SIGTERM or SIGHUP (``signum``); raised in the main
    thread once, never in the middle of a cleanup (see ``interrupts``)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _InterruptState:
    def __init__(self):
        self.installed = False
        self.deferring = 0  # depth of cleanup sections in progress
        self.signum: int | None = None
        self.raised = False

    def handler(self, signum, frame) -> None:
        if self.signum is None:
            self.signum = signum
        if not self.deferring and not self.raised:  # repeats are ignored: cleanup is running
            self.raised = True
            raise Interrupted(signum)


_interrupts = _InterruptState()
INTERRUPT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def interrupts():
    """Turn SIGINT/SIGTERM/SIGHUP into one ``Interrupted`` in the main thread while in
    this block (``kata grade``'s command line uses it); restores the handlers after."""
    global _interrupts
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _interrupts = _InterruptState()
    previous = {number: signal.signal(number, _interrupts.handler) for number in INTERRUPT_SIGNALS}
    _interrupts.installed = True
    try:
        yield
    finally:
        _interrupts.installed = False
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def cleanup_section():
    """A cleanup that a signal must not cut short: an interruption arriving meanwhile
    is raised when it is done (when ``interrupts`` is active)."""
    state = _interrupts
    state.deferring += 1
    try:
        yield
    finally:
        state.deferring -= 1
    if state.installed and not state.deferring and state.signum is not None and not state.raised:
        state.raised = True
        raise Interrupted(state.signum)


# -- the workspace and the OUT lock --------------------------------------------------------
def process_start(pid: int) -> str:
    """The process's start time (clock ticks since boot) on Linux, to tell a live owner
    from a recycled pid; "" where unknown."""
    from grader.sandbox.linux import proc_stat

    return "".join(proc_stat(pid)[19:20])


def owner_alive(stamp: str) -> bool:
    try:
        pid_text, _, started = stamp.strip().partition(" ")
        pid = int(pid_text)
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    except ValueError:
        return False
    current = process_start(pid)
    return not (started and current and current != started)


def processes_using(folder: Path) -> list[int]:
    """Pids (Linux) working in ``folder/tmp`` (the workers' sandboxes, student children)
    or whose command line names something in ``folder``."""
    found, root, sandboxes = [], str(folder), str(folder / "tmp")
    if not os.path.isdir("/proc"):
        return found
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            cwd = ""
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read().decode(errors="replace")
        except OSError:
            command = ""
        if cwd == sandboxes or cwd.startswith(sandboxes + "/") or any(
                mark in command for mark in (root + "/", root + "\0")):
            found.append(int(entry))
    return found


def kill_processes_using(folder: Path, patience_s: float = 3.0) -> None:
    """SIGKILL every process working in ``folder`` (see above), until none is left."""
    deadline = time.monotonic() + patience_s
    while True:
        pids = processes_using(folder)
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if not pids or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def remove_tree(folder: Path) -> bool:
    """Remove a workspace whatever its calls left in it (folders nested thousands deep,
    made unwritable, links): ``untrusted_tree.remove``, iterative, never following a
    link, never raising. Returns whether it is gone."""
    return untrusted_tree.remove(folder)


def remove_abandoned_workspaces() -> list[Path]:
    """Remove the workspaces of runs that died without cleaning up (their owner pid
    is gone), with whatever still runs in them; return what was removed."""
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{WORKSPACE_PREFIX}*"):
        try:
            info = folder.lstat()
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
                continue
            stamp = (folder / OWNER_FILE).read_text()
        except OSError:  # no owner recorded: not ours to judge (or being created)
            continue
        if owner_alive(stamp):
            continue
        kill_processes_using(folder)
        remove_tree(folder)  # never raises: a workspace it cannot remove is retried next run
        removed.append(folder)
    return removed


@contextlib.contextmanager
def grading_workspace():
    """One private folder for all of a run's temp files, removed on exit (see the
    module docstring). Mode 0711: sandboxed children (another uid) traverse into
    ``tmp/`` (the workers' temp files: their sandboxes); ``staging/`` and
    ``served-model/`` are 0700."""
    remove_abandoned_workspaces()
    root = Path(tempfile.mkdtemp(prefix=WORKSPACE_PREFIX))
    try:
        (root / OWNER_FILE).write_text(f"{os.getpid()} {process_start(os.getpid())}\n")
        for name, mode in (("staging", 0o700), ("served-model", 0o700), ("tmp", 0o711)):
            (root / name).mkdir(mode=mode)
        root.chmod(0o711)
        yield root
    finally:
        with cleanup_section():
            kill_processes_using(root)
            remove_tree(root)


def lock_out(out: Path) -> int | None:
    """Hold ``OUT/.kata-lock`` (``flock``) or refuse: two runs never race on one OUT.
    Returns the descriptor to close when done (None where locks are unsupported)."""
    path = out / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() if error.errno in (
            errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES) else None
        os.close(fd)
        if holder is None:  # e.g. ENOLCK on some network file systems: go on unlocked
            return None
        who = f" (pid {holder})" if holder.isdigit() else ""
        raise GradingError(f"another kata grade{who} is writing to {out}: wait for it to "
                           "finish, or choose another --out") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


@dataclass(frozen=True)
class GradeOptions:
    submissions: Path
    out: Path
    jobs: int
    timeout: float
    resume: bool = False
    logs: bool = True
    require_isolation: bool = False  # a guarantee the OS cannot give is an error
    allow_unconfined: bool = False  # grade even below the isolation floor (recorded)
    seed: str | None = None  # the tests' seed; None: a fresh one (or, resuming, the saved one)
    lang: str = "en"  # the language of the verdicts' messages (grader.core.i18n)
    scheduler: str | None = None  # grade on Dask: a scheduler address or "local:N" (grader.classroom.dask_pool)
    similarity_threshold: float | None = None  # None: grader.classroom.similarity's default
    # --scheduler ADDRESS's client credentials (all three, else Dask's configuration's)
    tls_ca_file: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    insecure_scheduler: bool = False  # accept a scheduler address without TLS (recorded in results.json)


def new_seed() -> str:
    """A seed no student can know in advance."""
    return secrets.token_hex(8)  # 64 bits: no brute force recovers it from what a call sees


def kit_info() -> dict:
    from importlib.metadata import version

    return {"mlflow": version("mlflow"), "python": platform.python_version(),
            "tests_sha256": kit_sha256()}


def file_stem(submission_id: str) -> str:
    """A safe, unique file name for a submission id (ids may hold any character)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", submission_id)[:60].strip("._") or "submission"
    return f"{safe}-{hashlib.sha256(submission_id.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class WorkerSettings:
    """What a kata worker grades with; every worker of one run, here or on a Dask
    worker, gets the same (so every verdict of the run is reproducible by the seed)."""

    timeout: float
    seed: str
    lang: str = "en"
    allow_unconfined: bool = False  # run student code below the isolation floor (see refuse_below_floor)


def kata_worker_env() -> dict[str, str]:
    """The environment of kata workers and of the model server: the kit importable,
    its interpreter's folder first on PATH, no model server inherited from a caller."""
    from grader.judge.model_server import SERVER_ENV, SERVER_ERROR_ENV, kit_bin_path

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(KIT_ROOT),
                                                                         os.environ.get("PYTHONPATH")])),
           "PATH": kit_bin_path(os.environ)}
    for name in (SERVER_ENV, SERVER_ERROR_ENV):
        env.pop(name, None)
    return env


def start_model_server(home: Path, env: dict[str, str]):
    """Serve the kit's model for the bonus tests; if that fails, every other TODO is
    still graded and the bonus fixture reports why (``$KATA_MODEL_SERVER_ERROR``).
    Sets ``env`` for the kata workers started after it."""
    from grader.judge.model_server import SERVER_ENV, SERVER_ERROR_ENV, serve_kit_model

    try:
        server = serve_kit_model(home)
    except Exception as error:  # noqa: BLE001 - reported on the bonus TODOs
        reason = next((line.strip() for line in str(error).splitlines() if line.strip()),
                      type(error).__name__)
        env[SERVER_ERROR_ENV] = f"kit error: the model server could not start: {reason}"
        return None
    env[SERVER_ENV] = server.url
    return server


def kit_has_bonus() -> bool:
    return any(todo.task == 5 for todo in load_todos())


WORKER_SEED_ENV = "KATA_WORKER_SEED"  # grader.classroom.worker reads the run's seed from it
# A kata worker's memory cgroup (where cgroups are ours, see Worker.start): the judge
# (~0.5 GB), its zygote (~0.5 GB) and one call at a time (SandboxLimits.memory_mb, 2 GiB,
# tmpfs pages of its case folder included: grader.sandbox.quota), with room to spare.
WORKER_MEMORY_MB = 5 * 1024
WORKER_PROCESSES = 4096  # threads count: the judge's, the zygote's, a call's 256
WORKER_GROUP_PREFIX = "kata-worker-"  # + kata grade's pid: groups of dead runs are removed
LOST_TO_MEMORY = "memory"  # Worker.lost: the kernel killed the worker for memory


class Worker:
    """One ``python -m grader.classroom.worker`` process."""

    def __init__(self, settings: WorkerSettings, env: dict[str, str], tmpdir: Path):
        self.settings, self.env, self.tmpdir = settings, env, tmpdir
        self.process: subprocess.Popen | None = None
        self.isolation: dict = {}  # what its sandbox could set up (its hello)
        self.group = None  # its memory cgroup (grader.sandbox.cgroups.CallGroup), where ours
        self.lost = ""  # why the last job got no reply, when known (LOST_TO_MEMORY)

    def start(self) -> None:
        """Start the process, in its own session (a terminal's Ctrl-C goes to ``kata
        grade`` alone, which stops everything in order) and killed when the starting
        thread exits: the main thread, or the one thread that serves (and restarts)
        this worker until the queue is empty."""
        from grader.judge.model_server import die_with_parent

        settings = self.settings
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader.classroom.worker", "--timeout", str(settings.timeout),
             "--tmpdir", str(self.tmpdir), "--lang", settings.lang,
             *(["--allow-unconfined"] if settings.allow_unconfined else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            # The seed in the environment, not the command line: /proc/PID/cmdline is anyone's
            # to read (another local user; student code where it has no pid namespace).
            text=True, bufsize=1, env={**self.env, WORKER_SEED_ENV: settings.seed}, cwd=KIT_ROOT,
            start_new_session=True, preexec_fn=die_with_parent(),
        )
        self.enter_group()

    def enter_group(self) -> None:
        """Bound the worker with everything it starts (its zygote, its calls) by a memory
        cgroup of its own, ``WORKER_MEMORY_MB``: a judge that reads too much of what a
        submission left is killed alone, and that submission is told so (``lost``).
        The worker is moved in right after it started, before it starts anything (its
        imports take far longer). Optional: where cgroups are not ours (or v2, see
        ``CallGroup.for_judge``) the worker runs as before."""
        from grader.sandbox.cgroups import CallGroup

        if self.group is None:
            CallGroup.remove_abandoned(WORKER_GROUP_PREFIX)
            self.group = CallGroup.for_judge(f"{WORKER_GROUP_PREFIX}{os.getpid()}-{id(self):x}",
                                             WORKER_MEMORY_MB << 20, WORKER_PROCESSES)
        if self.group is not None:
            try:
                self.group.add(self.process.pid)
            except OSError:  # it died at once: its hello says so
                pass

    def wait_ready(self) -> dict:
        """Wait for the worker's hello; return the isolation its sandbox could set up.
        A sandbox below the floor that was not allowed stops here (``refuse_below_floor``)."""
        line = self.read_line(WORKER_START_TIMEOUT_S)
        hello = json.loads(line) if line else {}
        if not hello.get("ready"):
            raise GradingError("a grading worker did not start (run `kata validate` to check the kit)")
        self.isolation = hello.get("isolation", {})
        refuse_below_floor(self.isolation)
        return self.isolation

    def read_line(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 1.0)
            if ready:
                return self.process.stdout.readline()
            if self.process.poll() is not None:
                return ""
        return ""

    def grade(self, job: dict, deadline_s: float) -> dict | None:
        """The worker's reply to ``job``, or None when it died or hung (``lost`` then
        says why, when known)."""
        self.lost = ""
        kills_before = self.group.oom_kills() if self.group is not None else 0
        try:
            self.process.stdin.write(json.dumps(job) + "\n")
            self.process.stdin.flush()
            line = self.read_line(deadline_s)
        except (BrokenPipeError, OSError):
            line = ""
        if line:
            return json.loads(line)
        with contextlib.suppress(subprocess.TimeoutExpired):  # its pipe closes before it is waitable
            self.process.wait(timeout=5)
        # v1 counts a kill in the group of the process killed: the judge's or its zygote's
        # (a call is killed in its own group, nested, and that is its own verdict)
        if (self.group is not None and self.process.poll() == -signal.SIGKILL
                and self.group.oom_kills() > kills_before):
            self.lost = LOST_TO_MEMORY
        return None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.group is not None:  # what the worker started goes with it: its zygote, a call
            self.group.remove()
            self.group = None


class BelowFloor(GradingError):
    """Student code would run below the isolation floor and the instructor did not allow it."""


UNCONFINED_HINT = ("pass --allow-unconfined to grade anyway (recorded in results.json), or grade "
                   "where the kit can confine it (README: How student code is isolated)")


def refuse_below_floor(isolation: dict) -> None:
    """The one decision every grading path shares (``kata grade`` here or on Dask, ``kata
    validate``, the Gradescope run): a sandbox whose zygote refused to run student code
    (root, and neither namespaces, Landlock nor a uid of its own: ``confine.Mechanisms.
    unconfined``) stops the run with one line. The zygote refuses each call as well, so
    no student code ran whoever forgot to ask."""
    refused = isolation.get("refused")
    if refused:
        raise BelowFloor(f"refusing to grade: {refused}; {UNCONFINED_HINT}")


def grading_deadline_s(timeout: float) -> float:
    """How long one submission may take in a kata worker: a backstop, as every call of
    student code has its own limit."""
    return 25 * timeout + 300


def worker_job(job: dict) -> dict:
    """The line a kata worker reads for ``job`` (see ``grader.classroom.worker``)."""
    return {key: job[key] for key in ("id", "exercises", "log")}


@dataclass(frozen=True)
class Graded:
    """One job's outcome, wherever it was graded: the kata worker's reply (``KataRun``
    JSON plus ``id``, or ``{"id", "error"}``), or None when the grader gave up on it."""

    job: dict
    reply: dict | None
    lost: str = ""  # why the grader gave up on it, when known (Worker.lost)


class GradingPool(Protocol):
    """Where jobs are graded: the one seam between ``--jobs`` (``LocalPool``) and
    ``--scheduler`` (``grader.classroom.dask_pool.DaskPool``). ``grade`` yields each job's outcome
    in the calling (main) thread as soon as it is known, so that recording, progress and
    interruptions work alike; ``close`` stops everything the pool started, even
    half-way through ``grade``."""

    def grade(self, jobs: list[dict]) -> Iterator[Graded]: ...

    def close(self) -> None: ...


class LocalPool:
    """``--jobs`` kata workers on this machine, one thread each, sharing one model server."""

    def __init__(self, grader: "ClassGrader", workspace: Path):
        self.grader, self.workspace = grader, workspace
        self.settings = grader.worker_settings()
        self.env = kata_worker_env()
        self.server = None
        self.workers: list[Worker] = []
        self.done: queue.Queue[Graded] = queue.Queue()
        self.lock = threading.Lock()
        self.stopping = False  # set (under ``lock``) when the workers are being stopped

    def grade(self, jobs: list[dict]) -> Iterator[Graded]:
        if kit_has_bonus():
            self.server = start_model_server(self.workspace / "served-model", self.env)
        self.workers = [Worker(self.settings, self.env, self.workspace / "tmp")
                        for _ in range(max(1, min(self.grader.options.jobs, len(jobs))))]
        for worker in self.workers:
            worker.start()
        isolation = [worker.wait_ready() for worker in self.workers][0]
        self.grader.record_isolation(isolation)
        pending: queue.Queue = queue.Queue()
        for job in jobs:
            pending.put(job)
        threads = [threading.Thread(target=self.serve_jobs, args=(worker, pending), daemon=True)
                   for worker in self.workers]
        for thread in threads:
            thread.start()
        left = len(jobs)
        while left:
            try:
                outcome = self.done.get(timeout=0.5)  # a timed wait: signals are handled meanwhile
            except queue.Empty:
                if not any(thread.is_alive() for thread in threads) and self.done.empty():
                    return
                continue
            left -= 1
            yield outcome

    def serve_jobs(self, worker: Worker, pending: queue.Queue) -> None:
        deadline = grading_deadline_s(self.settings.timeout)
        while True:
            try:
                job = pending.get_nowait()
            except queue.Empty:
                return
            self.grader.progress("begin", id=job["id"])
            self.revive_server()
            reply = worker.grade(worker_job(job), deadline)
            if self.stopping:  # a worker killed now is no verdict on its submission
                return
            self.done.put(Graded(job, reply, worker.lost))
            if reply is None:
                try:
                    with self.lock:  # never start a worker once close() is stopping them
                        if self.stopping:
                            return
                        worker.stop()
                        worker.start()
                    worker.wait_ready()
                except GradingError:
                    pass

    def revive_server(self) -> None:
        """The class's model server, restarted if the last submission left it dead (its
        failure to restart reaches the bonus TODOs as the server's refusal)."""
        if self.server is not None:
            with contextlib.suppress(Exception):
                self.server.ensure_alive()

    def close(self) -> None:
        with self.lock:
            self.stopping = True
        for worker in self.workers:
            worker.stop()
        if self.server is not None:
            self.server.stop()


class ClassGrader:
    """Grades every submission of ``options.submissions``; see module docstring."""

    def __init__(self, options: GradeOptions, progress=None):
        self.options = options
        self.progress = progress or (lambda event, **data: None)
        self.kit = kit_info()
        self.seed = ""  # chosen by run()
        self.results: dict[str, SubmissionResult] = {}
        self.lock = threading.Lock()
        self.stopping = False  # set (under ``lock``) when the workers are being stopped
        self.out_lock: int | None = None  # OUT/.kata-lock, held from run() until close()

    # -- the whole run -----------------------------------------------------------------
    def run(self) -> ClassResults:
        options = self.options
        if not options.submissions.is_dir():
            raise GradingError(f"{options.submissions} is not a folder of submissions")
        if options.out.resolve().is_relative_to(options.submissions.resolve()):
            raise GradingError(f"--out {options.out} is inside the submissions folder, which kata grade "
                               "never writes to: choose a folder outside it")
        # before anything is written: no Dask, a bad address, a cluster nobody vouches for
        from grader.classroom.dask_pool import check_scheduler_options, is_insecure

        spec = check_scheduler_options(options)
        if spec is not None and is_insecure(spec):
            self.kit["insecure_scheduler"] = True  # the instructor accepted it: say so in results.json
        options.out.mkdir(parents=True, exist_ok=True)
        if self.out_lock is None:
            self.out_lock = lock_out(options.out)
        (options.out / PROGRESS_DIR).mkdir(exist_ok=True)
        self.seed = self.kit["seed"] = self.choose_seed()
        self.save_seed()
        submissions = discover(options.submissions)
        self.progress("start", total=len(submissions))
        todo = [s for s in submissions if not self.resumed(s)]
        with grading_workspace() as workspace:
            jobs = self.prepare_all(todo, workspace / "staging")
            if jobs:
                self.grade_all(jobs, workspace)
        if kit_sha256() != self.kit["tests_sha256"]:
            raise GradingError("the kit's files changed while grading: reinstall the kit and regrade")
        ordered = [self.results[s.id] for s in submissions if s.id in self.results]
        return ClassResults(kit=self.kit, submissions=ordered)

    def close(self) -> None:
        """Release ``OUT/.kata-lock``."""
        if self.out_lock is not None:
            os.close(self.out_lock)
            self.out_lock = None

    def choose_seed(self) -> str:
        """``--seed``, else (resuming) the seed of the results saved in OUT, else a fresh one.
        Resuming results saved under another seed than ``--seed`` is refused."""
        given = self.options.seed
        if given is not None and not SEED_PATTERN.fullmatch(given):
            raise GradingError(f"--seed {given!r}: use 1-64 letters, digits, '.', '_' or '-'")
        saved = self.saved_seed() if self.options.resume else None
        if saved is None:
            return given if given is not None else new_seed()
        if given is not None and given != saved:
            raise GradingError(f"--resume keeps the seed of the results in {self.options.out} "
                               f"({saved}), not --seed {given}: drop one of the two")
        return saved

    def saved_seed(self) -> str | None:
        """The seed of the last run into OUT with this kit, if any."""
        try:
            data = json.loads((self.options.out / PROGRESS_DIR / SEED_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("tests_sha256") != self.kit["tests_sha256"]:
            return None
        seed = data.get("seed")
        return seed if isinstance(seed, str) and SEED_PATTERN.fullmatch(seed) else None

    def save_seed(self) -> None:
        from grader.core.files import write_atomic

        write_atomic(self.options.out / PROGRESS_DIR / SEED_FILE,
                     json.dumps({"seed": self.seed, "tests_sha256": self.kit["tests_sha256"]}))

    def resumed(self, submission: Submission) -> bool:
        saved = self.options.out / PROGRESS_DIR / f"{file_stem(submission.id)}.json"
        if not (self.options.resume and saved.is_file()):
            return False
        try:
            data = json.loads(saved.read_text(encoding="utf-8"))
        except ValueError:
            return False
        if (data.get("tests_sha256") != self.kit["tests_sha256"] or data.get("seed") != self.seed
                or data.get("lang", "en") != self.options.lang  # one language per report
                or data["result"]["id"] != submission.id):
            return False
        self.results[submission.id] = SubmissionResult.from_json(data["result"])
        self.progress("done", result=self.results[submission.id], resumed=True)
        return True

    def prepare_all(self, submissions: list[Submission], workspace: Path) -> list[dict]:
        jobs = []
        for number, submission in enumerate(submissions):
            target = workspace / f"{number:05d}" / "exercises"
            try:
                notes = prepare(submission, target)
            except BadSubmission as reason:
                self.record(SubmissionResult(submission.id, "error", message=str(reason)))
                continue
            except OSError as error:  # unreadable files, permissions…
                self.record(SubmissionResult(submission.id, "error", message=_(
                    "could not read the submission ({reason})").format(reason=error.strerror)))
                continue
            log = None
            if self.options.logs:
                (self.options.out / LOGS_DIR).mkdir(exist_ok=True)
                log = str((self.options.out / LOGS_DIR / f"{file_stem(submission.id)}.html").resolve())
            jobs.append({"id": submission.id, "exercises": str(target), "log": log, "notes": notes})
        return jobs

    def grade_all(self, jobs: list[dict], workspace: Path) -> None:
        pool = self.pool(workspace)
        try:
            for outcome in pool.grade(jobs):
                self.record(self.result_of(outcome))
        finally:
            with cleanup_section():
                with self.lock:
                    self.stopping = True
                pool.close()

    def pool(self, workspace: Path) -> GradingPool:
        """Where this run's jobs are graded: ``--scheduler``'s Dask cluster, else here."""
        if self.options.scheduler is not None:
            from grader.classroom.dask_pool import DaskPool

            return DaskPool(self, workspace)
        return LocalPool(self, workspace)

    # kept here for callers that serve the model the way a local run does
    start_model_server = staticmethod(start_model_server)

    def worker_settings(self) -> WorkerSettings:
        """What every kata worker of this run grades with, wherever it runs."""
        return WorkerSettings(self.options.timeout, self.seed, self.options.lang,
                              allow_unconfined=self.options.allow_unconfined)

    def record_isolation(self, isolation: dict) -> None:
        """Put the sandbox's isolation in ``kit`` (results.json) and say what is missing;
        with ``--require-isolation`` a missing guarantee stops the run. Called once per
        kata worker hello (every Dask worker's may differ): a guarantee one of them
        lacks is recorded as missing for the run."""
        refuse_below_floor(isolation)
        level, missing = isolation.get("level", "none"), list(isolation.get("missing", []))
        known = self.kit.get("isolation")
        if known is not None:
            new = [item for item in missing if item not in known["missing"]]
            if not new:
                return
            missing = known["missing"] + new
        self.kit["isolation"] = {"level": level, "missing": missing}
        if self.options.allow_unconfined:
            self.kit["isolation"]["allow_unconfined"] = True
        if missing and self.options.require_isolation:
            raise GradingError(f"--require-isolation: this machine cannot give: {'; '.join(missing)}")
        self.progress("isolation", **self.kit["isolation"])

    @staticmethod
    def result_of(outcome: Graded) -> SubmissionResult:
        job, reply = outcome.job, outcome.reply
        if reply is None and outcome.lost == LOST_TO_MEMORY:
            return SubmissionResult(job["id"], "error", message=_(
                "the grader ran out of memory reading what this submission left"))
        if reply is None:
            return SubmissionResult(job["id"], "error",
                                    message=_("the grader gave up on this submission (its worker stopped or hung)"))
        if "error" in reply:
            return SubmissionResult(job["id"], "error", message=reply["error"])
        run = KataRun.from_json(reply)
        return SubmissionResult(job["id"], "graded", run.todos, run.duration_s,
                                message="; ".join(job["notes"] + run.problems))

    def record(self, result: SubmissionResult) -> None:
        from grader.core.files import write_atomic

        with self.lock:
            if self.stopping:
                return
            self.results[result.id] = result
            saved = self.options.out / PROGRESS_DIR / f"{file_stem(result.id)}.json"
            write_atomic(saved, json.dumps({"tests_sha256": self.kit["tests_sha256"], "seed": self.seed,
                                            "lang": self.options.lang, "result": result.to_json()}))
        self.progress("done", result=result, resumed=False)


SIMILARITY_DEADLINE_S = 600  # the optional similarity section; the grades never wait on it


def grade(options: GradeOptions, progress=None) -> ClassResults:
    """Grade the class and write ``results.json``, ``grades.csv`` and ``index.html``.
    The grades are written first, before the optional similarity section (which has a
    deadline) and the report (whose failure clusters quote student-made text): nothing
    a submission left can keep a class's grades from being written."""
    from grader.reports.class_files import write_all, write_grades_csv, write_results_json

    grader = ClassGrader(options, progress)
    progress = progress or (lambda event, **data: None)
    try:
        with i18n.use(options.lang):  # a broken submission's reason and the notes, as its verdicts
            results = grader.run()
            write_results_json(results, options.out)
            write_grades_csv(results, options.out)
        logs = {}
        for submission in results.submissions:
            log = options.out / LOGS_DIR / f"{file_stem(submission.id)}.html"
            if log.is_file():
                logs[submission.id] = f"{LOGS_DIR}/{log.name}"
        similar = within_deadline(lambda: similar_submissions(options, progress), SIMILARITY_DEADLINE_S)
        if similar is None:
            progress("similarity", pairs=None, threshold=None, deadline_s=SIMILARITY_DEADLINE_S)
        with i18n.use(options.lang):  # the report's TODO titles in the verdicts' language
            write_all(results, options.out, logs, similar_pairs=similar or [])
    finally:
        grader.close()
    return results


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


def similar_submissions(options: GradeOptions, progress) -> list:
    """Pairs of the class's submissions whose task code is suspiciously alike
    (grader.classroom.similarity): ``OUT/similarity.json`` and a side-by-side page per pair. The
    whole class is compared, also the submissions ``--resume`` did not regrade."""
    from grader.classroom.similarity import DEFAULT_THRESHOLD, find_similar, staged_class, write_similarity

    threshold = DEFAULT_THRESHOLD if options.similarity_threshold is None else options.similarity_threshold
    with staged_class(options.submissions, exclude=options.out) as staged:
        pairs = find_similar(staged.folders, threshold)
        pairs = write_similarity(pairs, staged.folders, options.out, threshold)
    progress("similarity", pairs=len(pairs), threshold=threshold)
    return pairs
