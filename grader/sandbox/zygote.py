"""The sandbox server: preload the heavy libraries once, fork a child per call.

Protocol: one JSON request per line on stdin, one JSON reply per line on the
original stdout (see ``client.Sandbox``). This process never imports student code;
each child does, after it has cut itself off:

* its own session and process group (everything it spawns is killed afterwards),
* an unprivileged uid when the judge runs as root (it cannot touch the kit's files),
* resource limits: address space (memory), file size, CPU seconds,
* its own working directory, HOME, TMPDIR and MLflow store (from the request),
* stdout/stderr into a log file in its working directory (only the tail is read).

Run as ``python -m grader.sandbox.zygote``.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import signal
import sys
import time
import traceback

MAX_RESULT_BYTES = 16 * 1024 * 1024
OUTPUT_TAIL_BYTES = 2000
OUTPUT_LOG = ".kata-output.log"
PR_SET_CHILD_SUBREAPER = 36


def preload() -> None:
    """Import what every call needs, so that a forked child starts warm."""
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    import mlflow  # noqa: F401
    import mlflow.models  # noqa: F401
    import mlflow.pyfunc  # noqa: F401
    import mlflow.sklearn  # noqa: F401
    import mlflow.store.model_registry.sqlalchemy_store  # noqa: F401
    import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
    import pandas  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import labkit  # noqa: F401
    import labkit.registry  # noqa: F401
    from grader.sandbox import probes  # noqa: F401
    from grader.quiet import silence_mlflow

    silence_mlflow()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    skip_requirement_inference()


WARM_UP_PARTS = ("tracking", "models")
_warmed: set[str] = set()


def warm_up(parts) -> None:
    """Walk once through the MLflow calls the lab makes, in a throwaway store.

    MLflow imports a lot lazily: the tracking calls pull in IPython (databricks
    checks) and SQLAlchemy's machinery (~1 s); logging and loading models pull in
    skops, requirement checks and pyfunc loaders (~5 s). Every forked child would
    pay that again. Doing it here, then resetting MLflow's global state, makes a
    child's first call warm. ``parts`` picks what the session's tests need.
    """
    parts = set(parts) - _warmed
    if not parts:
        return
    _warmed.update(parts)
    import tempfile
    from pathlib import Path

    import mlflow
    import mlflow.tracking.fluent as fluent
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.tree import DecisionTreeRegressor

    from grader.store import new_store

    with tempfile.TemporaryDirectory(prefix="kata-warm-up-") as scratch:
        os.environ["MLFLOW_TRACKING_URI"] = new_store(Path(scratch))
        previous = os.getcwd()
        os.chdir(scratch)
        try:
            X = pd.DataFrame({"a": np.arange(8.0), "b": np.arange(8.0) ** 2})
            model = DecisionTreeRegressor(max_depth=2).fit(X, X["a"])
            mlflow.set_experiment("warm-up")
            with mlflow.start_run(run_name="warm-up") as run:
                mlflow.log_param("p", 1)
                mlflow.log_params({"q": 2})
                mlflow.log_metric("m", 1.0)
                mlflow.log_metrics({"n": 2.0})
                mlflow.set_tags({"t": "x"})
                if "models" not in parts:
                    return
                mlflow.sklearn.log_model(
                    model, name="model", signature=infer_signature(X, model.predict(X)),
                    skops_trusted_types=["sklearn.tree._tree.Tree"],
                )
            client = mlflow.MlflowClient()
            client.search_runs([run.info.experiment_id], order_by=["metrics.m DESC"])
            version = mlflow.register_model(f"runs:/{run.info.run_id}/model", "warm-up")
            client.set_model_version_tag("warm-up", version.version, "k", "v")
            client.update_model_version("warm-up", version.version, description="d")
            client.set_registered_model_alias("warm-up", "staging", version.version)
            mlflow.pyfunc.load_model("models:/warm-up@staging").predict(X)
        finally:
            os.chdir(previous)
            for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID"):
                os.environ.pop(name, None)
            fluent._active_experiment_id = None
            fluent._last_active_run_id.set(None)
            fluent._last_logged_model_id.set(None)


def skip_requirement_inference() -> None:
    """``log_model`` without ``pip_requirements`` spends ~4 s in a subprocess inferring
    them; in the sandbox the flavor's default requirements are recorded instead."""
    import mlflow.models

    def default_requirements(model_uri, flavor, fallback=None, **_):
        return fallback or []

    mlflow.models.infer_pip_requirements = default_requirements


def set_limit(kind: int, soft: int, hard: int) -> None:
    try:
        resource.setrlimit(kind, (soft, hard))
    except (ValueError, OSError):
        if sys.platform == "linux":
            raise  # elsewhere (macOS) some limits are not supported: the timeout still holds


def limit_resources(limits: dict) -> None:
    memory = limits["memory_mb"] * 1024 * 1024
    set_limit(resource.RLIMIT_AS, memory, memory)
    file_size = limits["file_size_mb"] * 1024 * 1024
    set_limit(resource.RLIMIT_FSIZE, file_size, file_size)
    cpu = int(limits["timeout_s"]) + 5
    set_limit(resource.RLIMIT_CPU, cpu, cpu + 5)
    set_limit(resource.RLIMIT_CORE, 0, 0)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails, not kills


def become_child(request: dict, result_fd: int) -> None:
    """Everything a forked child does; never returns."""
    from grader.sandbox.privileges import drop_to
    from grader.sandbox.probes import PROBES, to_json

    status = 0
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        workdir = request["workdir"]
        log = os.open(os.path.join(workdir, OUTPUT_LOG), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        uid = request.get("uid")
        if uid is not None:
            drop_to(uid)
            processes = request["limits"].get("processes", 512)
            resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))  # fork bombs
        limit_resources(request["limits"])
        os.chdir(workdir)
        os.environ.update(request.get("env", {}))
        sys.dont_write_bytecode = True
        try:
            value = PROBES[request["probe"]](request)
            reply = {"ok": True, "value": to_json(value)}
        except BaseException as error:  # noqa: BLE001 - student code may raise anything
            reply = {
                "ok": False,
                "error": f"{type(error).__name__}: {error}".strip().rstrip(":"),
                "traceback": "".join(traceback.format_exception(error)[-6:]),
            }
        payload = json.dumps(reply).encode()
        if len(payload) > MAX_RESULT_BYTES:
            payload = json.dumps({"ok": False, "error": "the result is too large"}).encode()
        view = memoryview(payload)
        while view:
            view = view[os.write(result_fd, view):]
    except BaseException:  # noqa: BLE001
        status = 70
    finally:
        os._exit(status)  # no atexit handlers: runs left open stay open, as returned


def read_result(fd: int, pid: int, deadline: float) -> tuple[bytes, bool]:
    """Read the child's reply until EOF or the deadline; returns (data, timed_out)."""
    chunks, size = [], 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"".join(chunks), True
        ready, _, _ = select.select([fd], [], [], min(remaining, 0.5))
        if not ready:
            continue
        data = os.read(fd, 1 << 16)
        if not data:
            return b"".join(chunks), False
        size += len(data)
        if size <= MAX_RESULT_BYTES + 1024:
            chunks.append(data)


def output_tail(workdir: str) -> str:
    path = os.path.join(workdir, OUTPUT_LOG)
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - OUTPUT_TAIL_BYTES))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def reap_orphans() -> None:
    """Kill and reap whatever student processes were re-parented to us (subreaper)."""
    me = str(os.getpid())
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            try:
                os.kill(int(entry), signal.SIGKILL)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


def describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else number
        if number == signal.SIGXCPU:
            return "the process used up its CPU time limit"
        return f"the process was killed by signal {name} before returning"
    return f"the process exited with code {os.WEXITSTATUS(status)} before returning (sys.exit or os._exit?)"


def serve_one(request: dict) -> dict:
    started = time.monotonic()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        become_child(request, write_fd)
    os.close(write_fd)
    timeout = request["limits"]["timeout_s"]
    data, timed_out = read_result(read_fd, pid, started + timeout)
    os.close(read_fd)
    kill_group(pid)
    _, status = os.waitpid(pid, 0)
    reap_orphans()
    reply: dict = {"duration_s": round(time.monotonic() - started, 3),
                   "output": output_tail(request["workdir"])}
    if timed_out:
        reply.update(outcome="timeout", error=f"did not return within the {timeout:g} s time limit")
        return reply
    try:
        result = json.loads(data) if data else None
    except ValueError:
        result = None
    if result is None:
        reply.update(outcome="crashed", error=describe_exit(status))
    elif result.get("ok"):
        reply.update(outcome="ok", value=result.get("value"))
    else:
        memory = "MemoryError" in result.get("error", "")
        reply.update(outcome="memory" if memory else "raised", error=result.get("error", ""),
                     traceback=result.get("traceback", ""))
    return reply


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # library chatter must never corrupt the protocol
    if sys.platform == "linux":  # orphans of student code come back to us, to be killed
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    preload()
    protocol.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        if "warm_up" in request:
            warm_up(request["warm_up"])
            continue
        try:
            reply = serve_one(request)
        except Exception as error:  # noqa: BLE001 - report, keep serving
            reply = {"outcome": "crashed", "error": f"sandbox error: {error}"}
        reply["id"] = request.get("id")
        protocol.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
