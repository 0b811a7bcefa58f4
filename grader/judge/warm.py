"""The warm judge: one process per user and kit version that outlives a pytest run.

A student reruns ``pytest tests/test_task1.py`` dozens of times. Cold, each run pays
for importing MLflow, scikit-learn and pandas in the judge and for starting and
warming the sandbox's zygote. Warm, the ``pytest`` the student types is a thin
client: it collects the tests (cheap), sends their node ids to the warm judge over a
Unix socket, and replays the test reports it streams back, so the terminal output,
the exit code and plugins such as pytest-html see an ordinary run. The warm judge
runs those tests with ``pytest.main`` in its own long-lived process, whose sandbox is
the same as a cold run's (same zygote, same confinement per call): only the waiting
is gone.

* Per user: the socket lives in a private folder (``$XDG_RUNTIME_DIR`` or the temp
  folder, ``mlflow-kata-<uid>``, mode 0700, refused otherwise), and the judge
  answers only peers of its own uid (``SO_PEERCRED``).
* Per kit version: the socket's name carries a hash of the kit's files, the Python
  and MLflow versions and the environment that shapes the sandbox, so a changed kit,
  Python or MLflow gets a new judge; an old one leaves after ``IDLE_S`` unused.
* Stale or crashed judges are replaced without the student noticing: a socket
  nobody answers is removed and a new judge started; a judge that does not
  acknowledge a request in time is killed and replaced; when no judge can be had,
  the run simply happens in the pytest process, as a cold run.

``KATA_WARM=0`` turns it off. Runs that pass plugin objects to ``pytest.main`` (the
grader, ``kata check``, ``kata validate``) always judge in their own process.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import gc
import hashlib
import io
import os
import queue
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import IO

from grader.core import jsonlines
from grader.core.manifest import kit_sha256
from grader.core.paths import KIT_ROOT, PYTEST_INI, TESTS_DIR

SWITCH_ENV = "KATA_WARM"  # "0": never use a warm judge
IDLE_ENV = "KATA_WARM_IDLE_S"
IDLE_S = 15 * 60  # a judge nobody used for this long leaves
START_TIMEOUT_S = 180  # the first run waits for the judge's imports and warm-up
ACK_TIMEOUT_S = 15  # a judge that does not acknowledge a request in time is stale
EVENT_TIMEOUT_S = 30 * 60  # no report for this long: the judge is hung
KEY_ENV = ("KATA_ISOLATION_MAX", "TMPDIR")  # they shape the sandbox (not the locale nor PATH:
# the sandbox's are fixed, sandbox.client.ZYGOTE_LOCALE and ZYGOTE_PATH, and the language
# travels per request): a new terminal with another PATH or locale reuses the same judge.


class WarmUnavailable(RuntimeError):
    """No warm judge could be had: the run happens in the pytest process instead."""


# -- where and which -------------------------------------------------------------------
def enabled() -> bool:
    return os.environ.get(SWITCH_ENV, "1") != "0" and hasattr(socket, "AF_UNIX")


def session_runtime_dir() -> str | None:
    """``/run/user/<uid>`` where the system made it for this user (private): a terminal
    without ``$XDG_RUNTIME_DIR`` (``su``, some ``ssh``) still finds the same judge."""
    path = f"/run/user/{os.getuid()}"
    try:
        info = os.lstat(path)
    except OSError:
        return None
    private = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077
    return path if private else None


def private_dir() -> Path:
    """This user's folder for judge sockets; refuse one another user could enter."""
    base = os.environ.get("XDG_RUNTIME_DIR") or session_runtime_dir() or tempfile.gettempdir()
    path = Path(base) / f"mlflow-kata-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise WarmUnavailable(f"{path} is not a private folder of this user")
    return path


def interpreter() -> str:
    """The Python a judge runs: its environment (``sys.prefix``, the virtualenv) and the
    real interpreter, never the name it was started by (``kata`` runs ``.venv/bin/python3``,
    ``pytest`` ``.venv/bin/python``: one judge for both)."""
    return f"{sys.prefix}\0{os.path.realpath(sys.executable)}"


def judge_key() -> str:
    """What a judge must match to be reused: the kit (where it is: two copies of the
    kit are two judges; and its files), Python, MLflow, pytest, and the environment that
    shapes the sandbox."""
    digest = hashlib.sha256()
    for part in (str(KIT_ROOT), interpreter(), sys.version, version("mlflow"), version("pytest")):
        digest.update(part.encode() + b"\0")
    for name in KEY_ENV:
        digest.update(f"{name}={os.environ.get(name, '')}\0".encode())
    digest.update(kit_sha256().encode())
    return digest.hexdigest()[:20]


def socket_path(key: str) -> Path:
    return private_dir() / f"judge-{key}.sock"


SUN_PATH_MAX = 100  # a Unix socket's path must fit in ~108 bytes
_folder_fds: dict[Path, int] = {}


def reachable(path: Path) -> str:
    """``path`` as ``bind``/``connect`` can take it: a long one (a deep ``$TMPDIR``) is
    reached through an open descriptor of its folder, ``/proc/self/fd/N/name``."""
    if len(str(path)) < SUN_PATH_MAX:
        return str(path)
    if not os.path.isdir("/proc/self/fd"):
        raise WarmUnavailable(f"the socket path {path} is too long")
    if path.parent not in _folder_fds:
        _folder_fds[path.parent] = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    return f"/proc/self/fd/{_folder_fds[path.parent]}/{path.name}"


# -- the client (the student's pytest) -------------------------------------------------
def peer_pid(connection: socket.socket) -> int | None:
    if not hasattr(socket, "SO_PEERCRED"):
        return None
    pid, _, _ = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return pid


def connect(path: Path) -> socket.socket | None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(reachable(path))
    except OSError:
        connection.close()
        return None
    return connection


def alive_path(key: str) -> Path:
    """The file a judge for ``key`` holds locked from its first instruction to its exit: a
    judge still starting (no socket yet) is seen by the next run, which waits for it instead
    of starting another (a Ctrl-C on the first run left the one it started warming up)."""
    return private_dir() / f"judge-{key}.alive"


def judge_alive(key: str) -> bool:
    """Whether a judge for ``key`` lives (starting or serving)."""
    try:
        with open(alive_path(key), "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            return False
    except OSError:
        return False


def idle_s() -> float:
    """How long a judge nobody uses stays (``$KATA_WARM_IDLE_S``, else ``IDLE_S``)."""
    try:
        return float(os.environ.get(IDLE_ENV, IDLE_S))
    except ValueError:
        return IDLE_S


def announce() -> None:
    """The one line a run that starts a judge prints (on stderr, in the current language):
    what it is and why this run is slower. A run that finds one says nothing."""
    from grader.core.i18n import _

    print(
        _(
            "Starting the kata's judge in the background (it keeps MLflow loaded so that your next runs "
            "are quick): this first run takes a few seconds more. `kata stop` stops it; it leaves by "
            "itself after {minutes} idle minutes."
        ).format(minutes=f"{idle_s() / 60:g}"),
        file=sys.stderr,
        flush=True,
    )


def start_judge(key: str) -> subprocess.Popen:
    """Start a judge for ``key`` in its own session (it outlives this pytest run), saying
    so in one line (``announce``)."""
    announce()
    folder = private_dir()
    log = open(folder / f"judge-{key}.log", "ab")
    judge = subprocess.Popen(
        [sys.executable, "-m", "grader.judge.warm", "--key", key],
        cwd=KIT_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(KIT_ROOT), os.environ.get("PYTHONPATH")]))},
    )
    log.close()
    return judge


_started: dict[str, subprocess.Popen] = {}  # judges this process started ahead (prestart)


def prestart() -> None:
    """Start this user's judge now when it has no socket, without waiting for it: the
    student's pytest calls this before collecting, so the judge's imports and the
    zygote's warm-up overlap with collection. ``judge_connection`` then waits for it."""
    try:
        key = judge_key()
        path = socket_path(key)
        if path.exists() or key in _started or judge_alive(key):
            return  # a judge, one starting, or a stale socket (which judge_connection replaces)
        with open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # busy: another run starts one
            if not path.exists():
                _started[key] = start_judge(key)
    except (OSError, WarmUnavailable):
        return


def judge_connection(key: str) -> socket.socket:
    """A connection to this user's judge for ``key``, starting one if there is none."""
    path = socket_path(key)
    connection = connect(path)
    if connection is not None:
        return connection
    with open(path.with_suffix(".lock"), "w") as lock:  # one starter at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        connection = connect(path)
        if connection is not None:
            return connection
        judge = _started.pop(key, None)
        if (judge is None or judge.poll() is not None) and not judge_alive(key):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # a socket nobody answers: its judge is gone
            judge = start_judge(key)

        def starting() -> bool:  # ours, or one an interrupted run started
            return (judge is not None and judge.poll() is None) or judge_alive(key)

        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and starting():
            connection = connect(path)
            if connection is not None:
                return connection
            time.sleep(0.05)
    if judge is not None and judge.poll() is None:
        judge.kill()
    raise WarmUnavailable(f"the warm judge did not start (see {path.with_suffix('.log')})")


def events(stream: IO[str]) -> Iterator[dict]:
    """The judge's messages (``grader.core.jsonlines``) until it closes the connection;
    ``WarmUnavailable`` when it stops answering within the socket's timeout."""
    while True:
        try:
            event = jsonlines.read(stream)
        except TimeoutError:
            raise WarmUnavailable("the warm judge stopped answering") from None
        except jsonlines.ProtocolError as error:
            raise WarmUnavailable(f"the warm judge sent {error}") from None
        if event is None:
            return
        yield event


def judge_remotely(args: list[str]) -> Iterator[dict]:
    """Run ``pytest.main(args)`` in the warm judge; yield its events (see ``Forwarder``).

    Raises ``WarmUnavailable`` before the first event when no judge could run it."""
    key = judge_key()
    for attempt in range(2):
        connection = judge_connection(key)
        try:
            send(connection, {"args": args})
            connection.settimeout(ACK_TIMEOUT_S)
            stream = events(connection.makefile("r", encoding="utf-8", newline="\n"))
            first = next(stream, None)
        except (OSError, WarmUnavailable):
            first = None
        if first is not None and first.get("event") == "accepted":
            break
        pid = peer_pid(connection)  # stale: it accepted the connection but not the run
        connection.close()
        if pid:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            socket_path(key).unlink()
        if attempt:
            raise WarmUnavailable("the warm judge did not accept the run")
    with connection:
        connection.settimeout(EVENT_TIMEOUT_S)
        yield from stream  # the same reader: what it read ahead is not lost


# -- the judge -------------------------------------------------------------------------
class Forwarder:
    """A pytest plugin object (in the judge) that streams what the student's pytest
    needs to replay the run: test reports, feedback warnings, the exit status."""

    def __init__(self, send):
        self.send = send
        self.config = None

    def pytest_configure(self, config) -> None:
        self.config = config

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.send({"event": "collect_error", "nodeid": report.nodeid, "message": report.longreprtext[-4000:]})

    def pytest_runtest_logstart(self, nodeid, location) -> None:
        self.send({"event": "logstart", "nodeid": nodeid})

    def pytest_runtest_logreport(self, report) -> None:
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        self.send({"event": "report", "data": data})

    def pytest_runtest_logfinish(self, nodeid, location) -> None:
        self.send({"event": "logfinish", "nodeid": nodeid})

    def pytest_warning_recorded(self, warning_message, when, nodeid, location) -> None:
        from grader.judge.case import KataFeedback

        if issubclass(warning_message.category, KataFeedback):
            self.send({"event": "feedback", "nodeid": nodeid, "message": str(warning_message.message)})


def peer_is_me(connection: socket.socket) -> bool:
    if not hasattr(socket, "SO_PEERCRED"):
        return True  # the private folder is the only door there
    _, uid, _ = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return uid == os.getuid()


WARM_PARTS = ("tracking", "models")  # what an idle judge warms for the runs to come
WARM_AFTER_S = 3  # after this long without a request (a quick rerun need not wait for it)
REQUEST_TIMEOUT_S = 10  # a client that connects must say what to run by then
# Every pytest.main of the judge: the kit's own configuration, and no cache written into it.
PYTEST_ARGS = ("--rootdir", str(KIT_ROOT), "-c", str(PYTEST_INI), "-p", "no:cacheprovider")


def send(connection: socket.socket, message: dict) -> None:
    """One message either way on the socket (``grader.core.jsonlines``'s framing)."""
    connection.sendall(jsonlines.encode(message).encode())


def accept_runs(listener: socket.socket, runs: queue.Queue) -> None:
    """Acknowledge every request at once (a waiting client must not take a busy judge
    for a stale one), then queue it for the main thread, which runs one at a time."""
    while True:
        connection, _ = listener.accept()
        try:
            if not peer_is_me(connection):
                raise ValueError("another user")
            connection.settimeout(REQUEST_TIMEOUT_S)
            request = jsonlines.read(connection.makefile("r", encoding="utf-8", newline="\n")) or {}
            args = request.get("args")
            if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
                raise ValueError("not a run")
            connection.settimeout(None)
            send(connection, {"event": "accepted", "pid": os.getpid(), "queued": runs.qsize()})
        except (OSError, ValueError, jsonlines.ProtocolError):
            connection.close()
            continue
        runs.put((connection, args))


def run(connection: socket.socket, args: list[str]) -> None:
    import pytest

    with contextlib.redirect_stdout(io.StringIO()):
        status = pytest.main(
            [*args, *PYTEST_ARGS, "-q"],
            plugins=[Forwarder(lambda event: send(connection, event))],
        )
    send(connection, {"event": "done", "status": int(status)})


def warm_judging() -> None:
    """Import what judging reads with (MLflow, pandas, the oracle's scikit-learn): beside
    the zygote's preload, on the other core, so that the first run's tests start warm. The
    zygote is not waited for: the first call does, while the rest of the run is already
    under way. The store template is built here first (in a fresh home): the zygote, still
    importing, then finds it instead of migrating one too. What the other tests import is
    left to ``warm_collection``, once the judge is idle: a first run collects only its own."""
    import mlflow  # noqa: F401

    from grader.judge.store import template_path

    template_path()
    import pandas  # noqa: F401
    import pytest  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.linear_model  # noqa: F401

    gc.collect()
    gc.freeze()  # what is loaded by now lives as long as the judge: no collection walks it again


def warm_collection() -> None:
    """Import what every kata test imports, by collecting them once (the judge is idle)."""
    import pytest

    with contextlib.redirect_stdout(io.StringIO()):
        pytest.main([str(TESTS_DIR), "--collect-only", "-q", *PYTEST_ARGS])
    gc.collect()
    gc.freeze()


MODEL_SERVER_IDLE_ENV = "KATA_MODEL_SERVER_IDLE_S"
MODEL_SERVER_IDLE_S = 120  # the bonus's model server stays this long after a run (~0.5 GB)


def model_server_idle_s() -> float:
    try:
        return float(os.environ.get(MODEL_SERVER_IDLE_ENV, MODEL_SERVER_IDLE_S))
    except ValueError:
        return MODEL_SERVER_IDLE_S


def serve(key: str) -> None:
    """Warm up, then run what is asked, one run at a time (pytest in the main thread),
    until ``IDLE_S`` pass without a request or SIGTERM (``kata stop``) comes. The bonus's
    model server, which a run of its tests starts, is stopped ``MODEL_SERVER_IDLE_S``
    after the last run (the next run of the bonus starts it again)."""
    alive = open(alive_path(key), "a")  # held to the end (never inherited: not inheritable)
    try:
        fcntl.flock(alive, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return  # another judge for this key lives: runs go to it
    from grader.core.quiet import silence_mlflow
    from grader.judge import model_server
    from grader.judge.preload import shared_sandbox

    sandbox = shared_sandbox()  # first: the zygote's preload runs beside our imports
    sandbox.warm_up(["tracking"])  # models and the server when a run asks (the plugin does)
    silence_mlflow()
    warm_judging()
    path = socket_path(key)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    listener.bind(reachable(draft))
    listener.listen(8)
    os.replace(draft, path)  # appears only when ready to answer
    mine = os.stat(path).st_ino
    runs: queue.Queue = queue.Queue()
    threading.Thread(target=accept_runs, args=(listener, runs), daemon=True).start()
    print(f"warm judge {os.getpid()} ready for {key}", flush=True)  # its log, for people and tests
    stopping = threading.Event()

    def stop(*_) -> None:  # SIGTERM (``kata stop``): a run under way is interrupted, then leave
        stopping.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    idle = idle_s()
    server_idle = model_server_idle_s()
    warmed = False
    last_run = time.monotonic()
    try:
        while not stopping.is_set():
            serving = model_server.serving()
            waits = [idle if warmed else WARM_AFTER_S]
            if serving:  # the bonus's model server leaves a short while after its tests
                waits.append(max(0.0, last_run + server_idle - time.monotonic()))
            try:
                connection, args = runs.get(timeout=min(waits))
            except queue.Empty:
                if serving and time.monotonic() >= last_run + server_idle:
                    if not model_server.stop_shared():  # still starting: another while
                        last_run = time.monotonic()
                    continue
                if warmed:
                    break
                sandbox.warm_up(WARM_PARTS)  # idle a moment: make the next run warm whatever
                warm_collection()  # it tests (a run that needs more asks for it meanwhile)
                warmed = True
                continue
            with connection, contextlib.suppress(OSError, ValueError):
                run(connection, args)
            last_run = time.monotonic()
    except KeyboardInterrupt:
        pass
    finally:
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino == mine:  # not a successor's socket
                path.unlink()
        listener.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="the kata's warm judge (started by pytest)")
    parser.add_argument("--key", required=True, help="the judge key it serves (see judge_key)")
    serve(parser.parse_args().key)


if __name__ == "__main__":
    main()
