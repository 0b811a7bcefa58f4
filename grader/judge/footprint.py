"""What the kata leaves running in the background for a student, and stopping it.

A student's first run starts a warm judge (``grader.judge.warm``): the judge, its sandbox's
zygote and, once the bonus's tests ran, the model server they talk to (``mlflow models
serve`` and its uvicorn). ``kata check`` says in one line what of it runs and how much
memory it holds; ``kata stop`` stops it now and says what it freed.

Found through this user's judge sockets (the judge's pid by ``SO_PEERCRED``, so only a
process of this user listening where only this user can), then every descendant of each
judge; memory is each process's proportional share (``Pss``: the zygote's children share
its pages) where ``/proc`` says it, else its resident size. Linux only: elsewhere no
process is found and ``kata stop`` says nothing runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.judge import warm

PROC = Path("/proc")
STOP_WAIT_S = 10.0  # a judge in the middle of a run ends it first (its tests are interrupted)
KILL_WAIT_S = 3.0


@dataclass(frozen=True)
class Process:
    pid: int
    started: int  # clock ticks after boot: with the pid, this very process (pids are reused)
    memory: int  # bytes: its proportional share, else its resident size
    serves_model: bool  # ``mlflow models serve`` or its uvicorn: the bonus's model server


@dataclass
class Judge:
    """A warm judge of this user and every process it started."""

    pid: int
    socket: Path
    processes: list[Process] = field(default_factory=list)

    @property
    def memory(self) -> int:
        return sum(process.memory for process in self.processes)

    @property
    def serves_model(self) -> bool:
        return any(process.serves_model for process in self.processes)


def stat_fields(pid: int) -> list[str] | None:
    """``/proc/PID/stat`` after the command's name (field 3, the state, first)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def children_by_parent() -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if entry.name.isdigit():
            fields = stat_fields(int(entry.name))
            if fields is not None and len(fields) > 1:
                found.setdefault(int(fields[1]), []).append(int(entry.name))
    return found


def memory_of(pid: int) -> int:
    try:
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        pages = int((PROC / str(pid) / "statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def command_of(pid: int) -> list[str]:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def serves_model(command: list[str]) -> bool:
    words = [Path(word).name for word in command]
    return ("mlflow" in words and "serve" in words) or any(word.startswith("uvicorn") for word in words)


def process(pid: int) -> Process | None:
    fields = stat_fields(pid)
    if fields is None or len(fields) < 20 or fields[0] == "Z":
        return None
    return Process(pid, int(fields[19]), memory_of(pid), serves_model(command_of(pid)))


def tree(pid: int, children: dict[int, list[int]]) -> list[Process]:
    """``pid`` and every descendant of it that is alive (not a zombie)."""
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        described = process(current)
        if described is not None:
            found.append(described)
        stack.extend(children.get(current, ()))
    return found


def judges() -> list[Judge]:
    """This user's warm judges that answer on their socket, with their processes. A
    socket nobody answers is a judge that is gone: removed."""
    try:
        folder = warm.private_dir()
    except (OSError, warm.WarmUnavailable):
        return []
    found = []
    children: dict[int, list[int]] | None = None
    for path in sorted(folder.glob("judge-*.sock")):
        connection = warm.connect(path)
        if connection is None:
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        with connection:
            pid = warm.peer_pid(connection)
        if pid is None:
            continue
        if children is None:
            children = children_by_parent()
        processes = tree(pid, children)
        if processes:
            found.append(Judge(pid, path, processes))
    return found


def alive(target: Process) -> bool:
    fields = stat_fields(target.pid)
    return fields is not None and len(fields) > 19 and fields[0] != "Z" and int(fields[19]) == target.started


def stop(judge: Judge) -> None:
    """Stop ``judge`` and everything it started: SIGTERM to the judge (it ends a run under
    way, stops its model server and its zygote, and leaves), then, what is still there
    after ``STOP_WAIT_S``, SIGTERM and SIGKILL. Only the processes found (same pid and
    start time): never a process that took a freed pid."""
    head = next((target for target in judge.processes if target.pid == judge.pid), None)
    if head is not None and alive(head):
        with contextlib.suppress(OSError):
            os.kill(head.pid, signal.SIGTERM)
        wait_gone([head], STOP_WAIT_S)
    for sent in (signal.SIGTERM, signal.SIGKILL):
        left = [target for target in judge.processes if alive(target)]
        if not left:
            break
        for target in left:
            with contextlib.suppress(OSError):
                os.kill(target.pid, sent)
        wait_gone(left, KILL_WAIT_S)
    with contextlib.suppress(OSError):
        judge.socket.unlink()


def wait_gone(targets: list[Process], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(alive(target) for target in targets):
        time.sleep(0.1)


# -- what the student reads --------------------------------------------------------------


def size_text(memory: int, lang: str) -> str:
    """``420 MB`` or ``1.2 GB`` (``1,2 GB`` in Spanish)."""
    from babel.numbers import format_decimal

    if memory >= 1 << 30:
        return f"{format_decimal(round(memory / (1 << 30), 1), locale=lang or 'en')} GB"
    return f"{max(1, round(memory / (1 << 20)))} MB"


def what_runs(found: list[Judge]) -> str:
    """What ``found`` is, in the current language: the judge, and the model server."""
    from grader.core.i18n import _

    judges_text = _("the kata's judge") if len(found) == 1 else _("{n} judges of the kata").format(n=len(found))
    if any(judge.serves_model for judge in found):
        return _("{judges} and the bonus's model server").format(judges=judges_text)
    return judges_text


def background_line(found: list[Judge], lang: str) -> str | None:
    """``kata check``'s line on what runs in the background, or None when nothing does."""
    from grader.core.i18n import _

    if not found:
        return None
    return _("In the background: {what} ({processes}, {memory}); `kata stop` stops it now.").format(
        what=what_runs(found), processes=processes_text(found), memory=size_text(total_memory(found), lang)
    )


def processes_text(found: list[Judge]) -> str:
    from grader.core.i18n import ngettext

    count = sum(len(judge.processes) for judge in found)
    return ngettext("{n} process", "{n} processes", count).format(n=count)


def total_memory(found: list[Judge]) -> int:
    return sum(judge.memory for judge in found)
