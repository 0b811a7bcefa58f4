"""The judge's own copy of every input it hands student code.

A test's data sample is written where a call can read it and nothing else: a folder of
its own outside the case folder, root-owned (mode 0755, the file 0444) when the judge is
root, and given to the call as ``readable`` (bound read-only in its new root; read-only
under Landlock too). Expectations never come from that file anyway: ``KataCase`` keeps
the bytes it wrote here, keyed by the path it handed out, and the oracle and the tests
read them from here (``read``, ``split``). A student call that replaced, linked or
emptied its sample (to /dev/zero, a FIFO, /proc/self/environ, a root-only file, or a
file of zeros that makes any metric right) changes no expectation and makes the judge
open nothing.

A path the judge was not handed (the kit's own dataset, or the sample as a sandboxed
seeding call sees it) is read with ``safe_read``: no link followed, never blocking on
a FIFO, regular files only, at most ``MAX_BYTES``.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import threading
from pathlib import Path

MAX_BYTES = 64 << 20  # the kit's dataset is ~1 MB; a sample is a part of it

_lock = threading.Lock()
_kept: dict[str, bytes] = {}


class UnsafeInput(OSError):
    """A data file the judge would have to read is a link, a FIFO, a device or too big."""


def keep(path: Path | str, content: bytes) -> None:
    """Remember ``content`` as what ``path`` holds for the judge, whatever it holds later."""
    with _lock:
        _kept[os.path.abspath(path)] = bytes(content)


def forget(folder: Path | str) -> None:
    """Drop the copies of every path under ``folder`` (its case is over)."""
    prefix = os.path.abspath(folder).rstrip("/") + "/"
    with _lock:
        for path in [path for path in _kept if path.startswith(prefix)]:
            del _kept[path]


def kept(path: Path | str) -> bytes | None:
    with _lock:
        return _kept.get(os.path.abspath(path))


def read(path: Path | str) -> bytes:
    """What ``path`` holds for the judge: the copy kept when it was handed out, else the
    file itself, read safely."""
    content = kept(path)
    return content if content is not None else safe_read(path)


def digest(path: Path | str) -> str:
    return hashlib.sha256(read(path)).hexdigest()


def safe_read(path: Path | str, limit: int = MAX_BYTES) -> bytes:
    """A regular file's bytes, never following a link (at the last component), never
    waiting on a FIFO, never reading more than ``limit``: anything else is ``UnsafeInput``."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise UnsafeInput(f"{path}: cannot be opened safely ({error.strerror})") from None
    with open(descriptor, "rb", buffering=0) as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeInput(f"{path}: not a regular file")
        if info.st_size > limit:
            raise UnsafeInput(f"{path}: larger than {limit} bytes")
        content = handle.read(limit + 1)
    if len(content) > limit:
        raise UnsafeInput(f"{path}: larger than {limit} bytes")
    return content


def frame(path: Path | str):
    """The judge's copy of ``path`` as a DataFrame."""
    import pandas as pd

    return pd.read_csv(io.BytesIO(read(path)))


def split(path: Path | str):
    """``labkit.load_split`` of the judge's copy of ``path``: the split every test uses."""
    from labkit import load_split

    return load_split(io.BytesIO(read(path)))
