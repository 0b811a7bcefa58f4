"""The OUT lock: one ``kata grade`` at a time writes to an OUT folder (``OUT/.kata-lock``,
``flock``'ed for the whole run), so two runs never race on its results and progress."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from grader.classroom.errors import GradingError

LOCK_FILE = ".kata-lock"  # flock'ed for the whole run: one `kata grade` per OUT


def lock_out(out: Path) -> int | None:
    """Hold ``OUT/.kata-lock`` (``flock``) or refuse: two runs never race on one OUT.
    Returns the descriptor to close when done (None where locks are unsupported)."""
    path = out / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        holder = (
            os.pread(fd, 32, 0).decode(errors="replace").strip()
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
            else None
        )
        os.close(fd)
        if holder is None:  # e.g. ENOLCK on some network file systems: go on unlocked
            return None
        who = f" (pid {holder})" if holder.isdigit() else ""
        raise GradingError(
            f"another kata grade{who} is writing to {out}: wait for it to finish, or choose another --out"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def unlock_out(fd: int | None) -> None:
    """Let go of what ``lock_out`` returned."""
    if fd is not None:
        os.close(fd)
