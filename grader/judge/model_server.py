"""A real ``mlflow models serve`` on 127.0.0.1 for the bonus tests.

Starting one takes ~7 s, so there is one per process (shared by every pytest
session the grader or ``kata validate`` runs in it), stopped at exit.

The server never outlives its starter: as root on Linux it runs in its own pid
namespace (``unshare --pid --fork --kill-child``), so killing ``unshare`` kills
mlflow's uvicorn children too, and ``unshare`` itself dies with the starting
process (``PR_SET_PDEATHSIG``) when started from the main thread or from a thread
that lives as long as the process (``dies_with_thread``: a Dask worker's launcher), the
signal being tied to the creating *thread*; elsewhere it gets its own session, killed
at exit.

The served model itself is saved once per kit and library versions, in the kit's cache
(``kit_model_dir``): saving it costs an MLflow import, ~4 s of CPU that a ``kata grade``
process otherwise never makes. Whoever uses a server it did not start (``$KATA_MODEL_SERVER``)
first checks that it serves the kit's model (``check_serves_kit_model``): a stale server of
another kit would otherwise fail every student's bonus as if it were their doing.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Mapping
from pathlib import Path

from grader.core.paths import DATA_PATH
from grader.core.quiet import QUIET_ENV

STARTUP_TIMEOUT_S = 120
SERVER_ENV = "KATA_MODEL_SERVER"  # set by `kata grade` for its workers: one server per class
SERVER_ERROR_ENV = "KATA_MODEL_SERVER_ERROR"  # set instead when that server could not start
# Set (to "1") by a run that wants the least memory (the Gradescope bundle: one submission in
# a container of 768 MB): its kata worker serves the model itself, only while the tests that
# use it run (``grader.judge.plugin``), instead of a server for the whole run beside it.
LAZY_SERVER_ENV = "KATA_MODEL_SERVER_LAZY"


def lazy() -> bool:
    """Whether this process serves the model only while the tests that use it run."""
    return os.environ.get(LAZY_SERVER_ENV) == "1"


SERVED_DATA = DATA_PATH


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kit_bin_path(env: Mapping[str, str]) -> str:
    """``$PATH`` with the kit's interpreter folder first: mlflow runs ``uvicorn`` from
    PATH, which misses the virtualenv's when ``kata`` is run by its full path."""
    kit_bin = str(Path(sys.executable).parent)  # not resolved: the venv's bin, not /usr/bin
    rest = [entry for entry in env.get("PATH", os.defpath).split(os.pathsep) if entry and entry != kit_bin]
    return os.pathsep.join([kit_bin, *rest])


def die_with_parent():
    """A ``preexec_fn``: the child gets SIGKILL when the thread that started it exits
    (even by ``kill -9``). None where ``prctl`` does not exist."""
    from grader.sandbox import linux  # libc is resolved on import, not in the child

    if not linux.IS_LINUX:
        return None
    parent = os.getpid()

    def preexec() -> None:
        try:
            linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass
        if os.getppid() != parent:  # the parent died before prctl: nobody will signal us
            os._exit(1)

    return preexec


def server_preexec(dies_with_thread: bool = False):
    """The server's ``preexec_fn``: its address space capped (``SERVER_MEMORY_BYTES``: a
    flood makes its requests fail, not the machine swap) and, started from the main thread
    or with ``dies_with_thread`` (the calling thread lives as long as the process), it dies
    with its starter (from another thread PDEATHSIG would fire when that thread ends;
    mlflow ties uvicorn to its own death, by SIGTERM)."""
    import resource

    tied = dies_with_thread or threading.current_thread() is threading.main_thread()
    die = die_with_parent() if tied else None

    def preexec() -> None:
        try:
            resource.setrlimit(resource.RLIMIT_AS, (SERVER_MEMORY_BYTES, SERVER_MEMORY_BYTES))
        except (ValueError, OSError):
            pass
        if die is not None:
            die()

    return preexec


@functools.cache
def pid_namespace_prefix() -> tuple[str, ...]:
    """``unshare … --`` when this process may run a command in its own pid namespace
    (root on Linux, with ``unshare`` installed and allowed here); else ()."""
    unshare = shutil.which("unshare") or next(
        (p for p in ("/usr/bin/unshare", "/bin/unshare") if os.access(p, os.X_OK)), None
    )
    if os.geteuid() != 0 or not sys.platform.startswith("linux") or unshare is None:
        return ()
    prefix = (unshare, "--pid", "--fork", "--kill-child", "--mount-proc", "--")
    try:
        probe = subprocess.run(
            [*prefix, "true"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return prefix if probe.returncode == 0 else ()


REASON_CHARS = 400  # of a refusal, in a failure message
# MLflow appends this notice to every "which input field?" refusal: it explains the 1.x to
# 2.0 migration, not what a student's body lacks.
MIGRATION_NOTICE = re.compile(r"\s*IMPORTANT: The MLflow Model scoring protocol has changed.*", re.DOTALL)


def refusal_reason(reply: dict | str) -> str:
    """What a scoring server's error reply says to fix, on one line: MLflow's ``message``
    without its migration notice and, of a schema failure, only the last ``Error:`` (what
    comes before it echoes the student's own request, twice)."""
    message = reply.get("message") if isinstance(reply, dict) else None
    text = MIGRATION_NOTICE.sub("", message) if isinstance(message, str) else str(reply)
    if "\nError: " in text:
        text = text.rsplit("Error: ", 1)[1]
    text = " ".join(text.split())
    if len(text) <= REASON_CHARS:
        return text
    sentence_end = text.rfind(". ", 0, REASON_CHARS)
    return text[: sentence_end + 1] + " …" if sentence_end > REASON_CHARS // 4 else text[:REASON_CHARS] + "…"


# What a bonus body may be before the judge sends it to the class's one server: a request
# for the 1-8 rows B.1 sends is ~1 KB with a dozen keys. A 30,000-key body of 500 KB once
# grew the shared server to 4.9 GB and killed it, and every later student lost the bonus.
MAX_BODY_BYTES = 64 * 1024
MAX_BODY_KEYS = 200  # dictionary keys, counted at every depth
# The server's own address-space cap: it serves a LinearRegression (~0.3 GB resident).
SERVER_MEMORY_BYTES = 3 << 30


def body_refusal(body) -> dict | None:
    """Why the judge will not send ``body`` (``{"bytes": n}`` or ``{"keys": n}``), or None.
    Counted without recursion: a deeply nested body is a student's too."""
    try:
        size = len(json.dumps(body))
    except (TypeError, ValueError, RecursionError):
        return None  # json.dumps in invoke says so; B.1 reports it
    if size > MAX_BODY_BYTES:
        return {"bytes": size}
    keys, stack = 0, [body]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            keys += len(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        if keys > MAX_BODY_KEYS:
            return {"keys": keys}
    return None


class ModelServerClient:
    """Talks to a running scoring server (ours, or one another process started)."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def invoke(self, body) -> tuple[int, dict | str]:
        """POST ``body`` as JSON to /invocations; return (status, parsed reply). A body
        over the caps (``body_refusal``) is never sent: ValueError."""
        refused = body_refusal(body)
        if refused is not None:
            raise ValueError(f"the kit does not send a body over its caps: {refused}")
        return self._post(json.dumps(body).encode(), "application/json")

    def predict_rows(self, rows) -> tuple[int, dict | str]:
        """The kit's own request for the DataFrame ``rows`` (its server check, the bonus
        test of B.2): POSTed as CSV, the scoring server's other input, which a JSON body
        (TODO B.1's) is not. The student kit holds no answer to B.1 this way."""
        data = rows.to_csv(index=False).encode()
        if len(data) > MAX_BODY_BYTES:
            raise ValueError(f"the kit does not send a body over its caps: {len(data)} bytes")
        return self._post(data, "text/csv")

    def _post(self, data: bytes, content_type: str) -> tuple[int, dict | str]:
        request = urllib.request.Request(
            f"{self.url}/invocations",
            data=data,
            headers={"Content-Type": content_type},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, text


def scoring_command(model_dir: Path | str, port: int, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """What ``mlflow models serve --env-manager local`` runs (mlflow's own ``get_cmd``: its
    scoring app under uvicorn, the model named in the environment), as a command of this
    interpreter; ``--app-dir`` names the model's folder on the command line, as ``-m`` does
    (a killed run's leftovers are found by it)."""
    import shlex

    from mlflow.pyfunc.scoring_server import get_cmd

    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        text, command_env = get_cmd(str(model_dir), port, "127.0.0.1", None, 1)  # type: ignore[arg-type]  # mlflow types host as int
    finally:
        os.environ.clear()
        os.environ.update(saved)
    words = shlex.split(text)
    assert words[0] == "uvicorn", text
    return [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(model_dir).parent), *words[1:]], command_env


class ModelServer(ModelServerClient):
    """``mlflow models serve`` for the model saved at ``model_dir`` (or a ``models:/`` URI).
    ``dies_with_thread``: the threads that start it (and restart it: ``ensure_alive``) live
    as long as the process, so it dies with the process even started off the main thread."""

    def __init__(self, model_dir: Path | str, log_path: Path, dies_with_thread: bool = False):
        self.port = free_port()
        super().__init__(f"http://127.0.0.1:{self.port}")
        self.model_dir, self.log_path = model_dir, log_path
        self.dies_with_thread = dies_with_thread
        self.namespaced = bool(pid_namespace_prefix())
        self.lock = threading.Lock()
        self.restarts = 0
        self._launch()
        atexit.register(self.stop)

    def _launch(self) -> None:
        tmp = self.log_path.parent / "tmp"
        tmp.mkdir(exist_ok=True)
        env = {
            **os.environ,
            **QUIET_ENV,
            "PATH": kit_bin_path(os.environ),
            "TMPDIR": str(tmp),
            "MALLOC_ARENA_MAX": "2",
        }  # thread arenas count against the address-space cap
        command = [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            str(self.model_dir),
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
        ]
        if lazy():  # mlflow's scoring app under uvicorn without the CLI waiting above it: ~0.2 GB less
            command, env = scoring_command(self.model_dir, self.port, env)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*pid_namespace_prefix(), *command],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                preexec_fn=server_preexec(self.dies_with_thread),
            )
        try:
            self._wait_until_ready()
        except BaseException:  # not answering, or interrupted while waiting
            self.stop()
            raise

    def alive(self) -> bool:
        if self.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=5) as reply:
                return reply.status == 200
        except OSError:
            return False

    def ensure_alive(self) -> None:
        """Restart the server, on the same port, if it died or stopped answering: one
        student's doing (a body sent past the judge) never costs the next one the bonus.
        Called before each submission by whoever started it; raises if it cannot start."""
        with self.lock:
            if self.alive():
                return
            self.stop()
            self._wait_port_free()
            self.restarts += 1
            self._launch()

    def _wait_port_free(self, timeout_s: float = 10.0) -> None:
        """Until nothing accepts connections on our port: the dead server's uvicorn (in its
        pid namespace, killed after its init) may still hold the socket for a moment, and
        would answer the new server's /ping, then drop the first real request."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                probe.settimeout(0.5)
                if probe.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.1)

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/ping", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        code = self.process.poll()
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-800:]
        last = next((line.strip() for line in reversed(tail.splitlines()) if line.strip()), "no output")
        why = f"exited with code {code}" if code is not None else f"did not answer /ping in {STARTUP_TIMEOUT_S} s"
        # First line: a one-line reason (kata grade reports it); then the log's tail.
        raise RuntimeError(f"mlflow models serve {why}: {last[:300]}\n{tail}")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        if self.namespaced:  # unshare's child (and so the whole namespace) dies with it
            self.process.kill()
            self.process.wait()
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()


_shared: ModelServer | None = None
_starting = None  # a background thread starting the server early
_lock = threading.Lock()


def serving() -> bool:
    """Whether this process serves the kit's model (``shared_model_server``), or is
    starting to."""
    return _shared is not None or (_starting is not None and _starting.is_alive())


def stop_shared() -> bool:
    """Stop this process's model server (the warm judge's, a short while after the
    bonus's tests: ``grader.judge.warm.serve``); the next ``shared_model_server`` starts
    another. False when there is none, or one is still starting (left for later)."""
    global _shared, _starting
    with _lock:
        if _starting is not None and _starting.is_alive():
            return False
        server, _shared, _starting = _shared, None, None
    if server is None:
        return False
    server.stop()
    return True


def start_in_background(sandbox) -> None:
    """Begin saving and serving the model now, so its ~7-s start overlaps other tests."""
    global _starting
    if os.environ.get(SERVER_ENV) or os.environ.get(SERVER_ERROR_ENV) or lazy():
        return
    with _lock:
        if _shared is None and _starting is None:
            _starting = threading.Thread(target=_start_quietly, args=(sandbox,), daemon=True)
            _starting.start()


def _start_quietly(sandbox) -> None:
    try:
        shared_model_server(sandbox)
    except Exception:  # noqa: BLE001 - the fixture retries and reports the error
        pass


def shared_model_server(sandbox) -> ModelServerClient:
    """Save the kit's served model (in a sandbox child) and serve it, once per process;
    or use the server named by $KATA_MODEL_SERVER ($KATA_MODEL_SERVER_ERROR: why it is missing),
    once it was seen to serve the kit's model."""
    if os.environ.get(SERVER_ERROR_ENV):
        raise RuntimeError(os.environ[SERVER_ERROR_ENV])
    if os.environ.get(SERVER_ENV):
        return check_serves_kit_model(ModelServerClient(os.environ[SERVER_ENV]))
    if _starting is not None and threading.current_thread() is not _starting:
        _starting.join()
    with _lock:
        return _start_if_needed(sandbox)


def _start_if_needed(sandbox) -> ModelServer:
    global _shared
    if _shared is None:
        home = sandbox.new_dir("served-model")
        _shared = serve_kit_model(home, sandbox)
    else:
        _shared.ensure_alive()
    return _shared


_checked: set[str] = set()  # servers seen serving the kit's model, by URL


def check_serves_kit_model(client: ModelServerClient) -> ModelServerClient:
    """``client``, once its server answered the kit's own request for two held-out rows
    with what the kit's model predicts (checked once per server and process); else a
    RuntimeError naming the server and what it answered."""
    if client.url in _checked:
        return client
    from grader.judge.oracle import fitted
    from labkit import load_split

    rows = load_split(SERVED_DATA).X_test.head(2)
    expected = fitted("LinearRegression", SERVED_DATA).predict(rows).tolist()
    try:
        status, reply = client.predict_rows(rows)
    except OSError as error:
        raise RuntimeError(f"the model server at {client.url} does not answer: {error}") from None
    got = reply.get("predictions") if isinstance(reply, dict) else None
    if (
        status != 200
        or not isinstance(got, list)
        or len(got) != len(expected)
        or any(
            not isinstance(value, (int, float)) or abs(value - want) > 1e-6 * max(1.0, abs(want))
            for value, want in zip(got, expected)
        )
    ):
        raise RuntimeError(
            f"the model server at {client.url} does not serve this kit's model "
            f"(HTTP {status}: {str(reply)[:200]}, expected {expected})"
        )
    _checked.add(client.url)
    return client


def kit_model_dir() -> Path:
    """The kit's served model, saved by this trusted process once per kit and library
    versions into the kit's cache and reused by every later run (a draft folder renamed
    into place: a run building it beside another never sees half a model). Older kits'
    models are removed after a day (a run of one may still be serving it)."""
    import hashlib
    import platform
    import tempfile
    from importlib.metadata import version

    from grader.core.manifest import kit_sha256
    from grader.judge.store import cache_dir

    versions = [kit_sha256(), version("mlflow"), version("scikit-learn"), platform.python_version()]
    key = hashlib.sha256(" ".join(versions).encode()).hexdigest()[:16]
    folder = cache_dir()
    final = folder / f"served-model-{key}"
    if (final / "MLmodel").is_file():
        return final
    folder.mkdir(parents=True, exist_ok=True)
    from grader.judge.seeding import save_served_model

    draft = Path(tempfile.mkdtemp(prefix=".served-model-", dir=folder))
    try:
        with warnings.catch_warnings():  # MLflow's hints on inferred schemas are not the instructor's
            warnings.simplefilter("ignore")
            save_served_model(str(SERVED_DATA), str(draft / "model"))
        try:
            os.rename(draft / "model", final)
        except OSError:  # another run renamed its own first
            if not (final / "MLmodel").is_file():
                raise
    finally:
        shutil.rmtree(draft, ignore_errors=True)
    day_ago = time.time() - 86400
    for old in folder.glob("served-model-*"):
        if old != final and old.stat().st_mtime < day_ago:
            shutil.rmtree(old, ignore_errors=True)
    return final


def serve_kit_model(home: Path, sandbox=None, dies_with_thread: bool = False) -> ModelServer:
    """Serve the kit's model, its log and temp files under ``home``. Without a sandbox the
    model comes from the kit's cache (``kit_model_dir``, filled by this trusted process);
    with one (a student's pytest session, which keeps MLflow's save off its own process)
    a sandbox child saves it under ``home``. ``dies_with_thread``: see ``ModelServer``."""
    if sandbox is None:
        home.mkdir(parents=True, exist_ok=True)
        # A copy in ``home`` (a few KB; MLflow refuses a link out of it): the server's
        # command line names its run's workspace, by which the next run finds what still
        # works for a run killed with -9.
        model = home / "model"
        shutil.rmtree(model, ignore_errors=True)
        shutil.copytree(kit_model_dir(), model)
        return ModelServer(model, home / "server.log", dies_with_thread)
    from grader.judge.store import new_store

    env = {"MLFLOW_TRACKING_URI": new_store(home / "store"), "HOME": str(home)}
    sandbox.hand_over(home)
    result = sandbox.run(
        "kit",
        home,
        env,
        readable=[SERVED_DATA],
        function="save_served_model",
        kwargs={"data_path": str(SERVED_DATA), "path": str(home / "model")},
    )
    if not result.ok:
        raise RuntimeError(f"could not save the served model: {result.error}")
    return ModelServer(home / "model", home / "server.log", dies_with_thread)
