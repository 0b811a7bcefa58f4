"""The OUT lock: one ``kata grade`` at a time writes to an OUT folder (``OUT/.kata-lock``,
``flock``'ed for the whole run), so two runs never race on its results and progress; and
``OutBefore``, what the run found in OUT, put back when it is refused before grading."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
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


class OutBefore:
    """What OUT held of the kit's own files before a run locked it (the lock file, the
    saved progress and seed, the logs folder): ``put_back`` undoes what the run wrote there
    when it is refused once workers are up but before it graded anything (its isolation:
    ``errors.IsolationRefused``). The class files (results.json, …) are only written by a
    run that graded."""

    def __init__(self, out: Path, progress: str, logs: str):
        self.out, self.progress, self.logs = out, out / progress, out / logs
        self.existed = out.is_dir()
        self.names = {path.name for path in out.iterdir()} if self.existed else set()
        self.saved = {path.name: path.read_bytes() for path in self._progress_files()}

    def _progress_files(self) -> list[Path]:
        if not self.progress.is_dir() or self.progress.is_symlink():
            return []
        return [path for path in self.progress.iterdir() if path.is_file() and not path.is_symlink()]

    def put_back(self) -> None:
        """Never raises: what cannot be put back is left as the run left it."""
        try:
            for path in self._progress_files():
                if path.name not in self.saved:
                    path.unlink()
            for name, data in self.saved.items():
                path = self.progress / name
                if not path.is_file() or path.read_bytes() != data:
                    path.write_bytes(data)
            for path in (self.progress, self.logs):
                if path.name not in self.names and path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
            if LOCK_FILE not in self.names:
                (self.out / LOCK_FILE).unlink(missing_ok=True)
            if not self.existed:
                self.out.rmdir()  # only if empty
        except OSError:
            pass
