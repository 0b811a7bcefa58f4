"""A run's workspace and the sweep of abandoned ones: every temp file of a run (staged
submissions, the workers' sandboxes, the served model) lives in one private folder,
``$TMPDIR/kata-grade-*``, removed at exit with whatever still works in it (found by
scanning /proc) and, should the run be killed, by the next run, which tells a dead owner
from a live one by the ``owner.pid`` it recorded."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import tempfile
import time
from pathlib import Path

from grader.classroom.interrupts import cleanup_section
from grader.core.files import write_atomic
from grader.sandbox import untrusted_tree

WORKSPACE_PREFIX = "kata-grade-"  # $TMPDIR/kata-grade-*: one run's temp files
OWNER_FILE = "owner.pid"  # "<pid> <start time>" of the run owning a workspace


def process_start(pid: int) -> str:
    """The process's start time (clock ticks since boot) on Linux, to tell a live owner
    from a recycled pid; "" where unknown."""
    from grader.sandbox.linux import proc_stat

    return "".join(proc_stat(pid)[19:20])


def owner_alive(stamp: str) -> bool:
    """Whether the run that wrote ``stamp`` still runs. A stamp that does not parse is
    taken as alive: ``grading_workspace`` writes it whole (``write_atomic``), so an empty
    or partial one is a workspace being made, never an abandoned one (two Dask workers
    starting side by side once swept each other's new workspace so)."""
    try:
        pid_text, _, started = stamp.strip().partition(" ")
        pid = int(pid_text)
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    except ValueError:
        return True
    current = process_start(pid)
    return not (started and current and current != started)


def processes_using(folder: Path) -> list[int]:
    """Pids (Linux) working in ``folder/tmp`` (the workers' sandboxes, student children)
    or whose command line names something in ``folder``."""
    found: list[int] = []
    root, sandboxes = str(folder), str(folder / "tmp")
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
        if (
            cwd == sandboxes
            or cwd.startswith(sandboxes + "/")
            or any(mark in command for mark in (root + "/", root + "\0"))
        ):
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
        write_atomic(root / OWNER_FILE, f"{os.getpid()} {process_start(os.getpid())}\n")
        for name, mode in (("staging", 0o700), ("served-model", 0o700), ("tmp", 0o711)):
            (root / name).mkdir(mode=mode)
        root.chmod(0o711)
        yield root
    finally:
        with cleanup_section():
            kill_processes_using(root)
            remove_tree(root)
