"""One sandboxed call: the keeper and the student child the zygote forks per request,
and how the zygote reads what they report.

* a **keeper** (trusted kit code, never runs student code): with namespaces it
  enters fresh pid/mount/net/IPC/UTS namespaces, forks the student child and waits
  for it; when the zygote asks (SIGTERM: the time is up) or dies, it kills the
  child, and with it every process of the call's pid namespace. Without namespaces
  it is the subreaper of the call's leftovers and kills them by scanning.
* a **student child**: a new root with only what it needs (``confine``), every file
  descriptor closed but its result pipe (fd 3) and an unnamed output file (fds 1, 2),
  resource limits, Landlock, a uid of its own without capabilities, an environment
  built from an allow-list; then it runs the request's probe (``probes``: the student
  module is imported there) and answers in JSON.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import tempfile
import time
import traceback

from grader.sandbox import confine, linux, probes
from grader.sandbox.cgroups import CallGroup
from grader.sandbox.words import english, said

MAX_RESULT_BYTES = 16 * 1024 * 1024
OUTPUT_TAIL_BYTES = 2000
RESULT_FD = 3
KEEPER_GRACE_S = 10  # the keeper's own backstop beyond the call's time limit
# The keeper enters these; the student child then takes a mount namespace of its own,
# so that its new root (pivot_root) never becomes the keeper's.
KEEPER_NAMESPACES = linux.CLONE_NEWPID | linux.CLONE_NEWNET | linux.CLONE_NEWIPC | linux.CLONE_NEWUTS


class TimeUp(Exception):
    """The keeper was told (SIGTERM, SIGALRM) that the call must end now."""


def _time_up(*_) -> None:
    raise TimeUp


def student_child(
    request: dict,
    mechanisms: confine.Mechanisms,
    result_fd: int,
    output_fd: int,
    mountpoint: str,
    group: CallGroup | None,
) -> None:
    """Confine this process as ``mechanisms`` allow, run the probe, answer; never returns."""
    status = 0
    try:
        for number in (signal.SIGTERM, signal.SIGALRM):
            signal.signal(number, signal.SIG_DFL)
        if linux.IS_LINUX:
            linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        view = confine.View.from_request(request)
        confine.first_to_kill()  # before the new root: its /proc is the call's
        if group is not None:
            group.enter()  # before the new root hides /sys
        if mechanisms.namespaces:
            linux.unshare(linux.CLONE_NEWNS)
            confine.enter_new_root(mountpoint, view, request["uid"])
        else:
            os.setsid()  # its own process group: the keeper kills the group afterwards
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.dup2(result_fd, RESULT_FD)
        os.closerange(RESULT_FD + 1, 1 << 16)  # the zygote's protocol pipes, anything else
        confine.limit_resources(request["limits"], own_uid=mechanisms.own_uid)
        if mechanisms.landlock_abi:
            confine.apply_landlock(mechanisms.landlock_abi, view, mechanisms.namespaces)
        if mechanisms.own_uid:
            confine.drop_privileges(request["uid"])
        os.chdir(request["workdir"])
        os.environ.clear()
        os.environ.update(confine.call_environment(request, mechanisms.namespaces))
        tempfile.tempdir = None  # the zygote's cached temp folder is not in this view
        sys.path[:] = [p for p in sys.path if p not in ("", ".")]  # not the work folder
        sys.dont_write_bytecode = True
    except BaseException as error:  # noqa: BLE001 - the kit failed, not the student
        reply = {"ok": False, "kind": "sandbox", "error": f"{type(error).__name__}: {error}"}
        _write_all(result_fd, json.dumps(reply).encode())
        os._exit(71)
    try:
        try:
            reply = {"ok": True, **probes.PROBES[request["probe"]](request)}
        except BaseException as error:  # noqa: BLE001 - student code may raise anything
            probes.on_raise(request, error)  # the preload module's notes on it (probes.NOTES), read below
            reply = {
                "ok": False,
                "kind": probes.error_kind(error),
                "error": f"{type(error).__name__}: {error}".strip().rstrip(":"),
                "words": getattr(error, "words", None),  # checked by the judge (words.render)
                "traceback": "".join(traceback.format_exception(error))[-16000:],  # the student frame may be deep
            }
        if probes.NOTES:
            reply["notes"] = probes.NOTES
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()  # os._exit below would drop what print() buffered
            except BaseException:  # noqa: BLE001 - a closed or replaced stream
                pass
        payload = json.dumps(reply).encode()
        if len(payload) > MAX_RESULT_BYTES:
            payload = json.dumps(
                {"ok": False, "error": english(said("too_large")), "words": said("too_large")}
            ).encode()
        _write_all(RESULT_FD, payload)
    except BaseException:  # noqa: BLE001
        status = 70
    finally:
        os._exit(status)  # no atexit handlers: runs left open stay open, as returned


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view) :]


def keeper(
    request: dict,
    mechanisms: confine.Mechanisms,
    result_fd: int,
    status_fd: int,
    output_fd: int,
    mountpoint: str,
    group: CallGroup | None,
) -> None:
    """Fork the student child, wait for it, make sure nothing of the call survives,
    report the child's wait status on ``status_fd``; never returns."""
    try:
        os.setsid()
        signal.signal(signal.SIGTERM, _time_up)
        signal.signal(signal.SIGALRM, _time_up)
        if linux.IS_LINUX:
            linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGTERM)  # the zygote died: clean up
            if mechanisms.namespaces:
                linux.unshare(KEEPER_NAMESPACES)
            else:
                linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
        # Where the call has no cgroup of its own, a child killed outright while the OOM
        # killer struck somewhere (its processes are its first choice: confine.first_to_kill)
        # counts as the call's own kill.
        oom_kills = group.oom_kills if group is not None else linux.oom_kills
        kills_before = oom_kills()
        child = os.fork()
        if child == 0:
            os.close(status_fd)
            student_child(request, mechanisms, result_fd, output_fd, mountpoint, group)
        os.close(result_fd)
        os.close(output_fd)
        signal.alarm(int(request["limits"]["timeout_s"]) + KEEPER_GRACE_S)
        try:
            _, status = os.waitpid(child, 0)
        except TimeUp:
            status = None
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.alarm(0)
        if status is None:  # killing the pid namespace's first process kills them all
            kill(child, signal.SIGKILL)
            _, status = os.waitpid(child, 0)
        if not mechanisms.namespaces:
            kill_leftovers(child)
            if mechanisms.own_uid:
                kill_uid(request["uid"])
        out_of_memory = oom_kills() > kills_before and (
            group is not None or (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL)
        )
        _write_all(status_fd, f"{status} {int(out_of_memory)}".encode())
    finally:
        os._exit(0)


def kill(pid: int, number: int, group: bool = False) -> None:
    try:
        (os.killpg if group else os.kill)(pid, number)
    except (ProcessLookupError, PermissionError):
        pass


def kill_leftovers(group: int) -> None:
    """Without a pid namespace: kill the child's process group, then whatever was
    re-parented to this keeper (its subreaper), until nothing is left."""
    kill(group, signal.SIGKILL, group=True)
    me = str(os.getpid())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = False
        for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
            if entry.isdigit() and linux.proc_stat(entry)[1:2] == [me]:
                found = True
                kill(int(entry), signal.SIGKILL)
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            if not found:
                return
        time.sleep(0.01)


def kill_uid(uid: int) -> None:
    """Without a pid namespace, a uid of its own is the call's other fence: kill every
    process of that uid (a leftover that escaped the subreaper's scan by any route). A
    throwaway child becomes the uid and signals -1: all processes of the uid but itself."""
    pid = os.fork()
    if pid == 0:
        try:
            confine.drop_privileges(uid)
            os.kill(-1, signal.SIGKILL)
        except BaseException:  # noqa: BLE001 - nothing of that uid left (ESRCH)
            pass
        os._exit(0)
    os.waitpid(pid, 0)
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def read_result(fd: int, deadline: float) -> tuple[bytes, bool]:
    """Read the child's reply until EOF or the deadline; returns (data, timed_out)."""
    chunks: list[bytes] = []
    size = 0
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


def read_status(fd: int, timeout: float) -> tuple[int | None, bool]:
    """The keeper's report: the child's wait status and whether the call ran out of
    memory (its cgroup's OOM killer struck)."""
    ready, _, _ = select.select([fd], [], [], timeout)
    fields = (os.read(fd, 64) if ready else b"").split()
    if len(fields) != 2 or not fields[0].lstrip(b"-").isdigit():
        return None, False
    return int(fields[0]), fields[1] == b"1"


def output_tail(output) -> str:
    output.seek(0, os.SEEK_END)
    output.seek(max(0, output.tell() - OUTPUT_TAIL_BYTES))
    return output.read().decode("utf-8", "replace")


def describe_exit(status: int | None) -> dict | None:
    """How the child ended without a result, as ``words``; None: it could not be waited for."""
    if status is None:
        return None
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else number
        if number == signal.SIGXCPU:
            return said("cpu_time")
        return said("signal", signal=name)
    return said("exit", code=os.WEXITSTATUS(status))
