"""Reading and removing a folder tree a sandboxed call left, as an outsider would.

The judge runs as root and unconfined; a case folder is the student's to fill. So
whatever the judge does to one (hash it, copy it, hand it to the call's uid, remove
it) must cost bounded time and can neither crash nor be steered by what is there:

* **iterative**: an explicit stack, never recursion (``os.walk`` and
  ``shutil.rmtree`` recurse: 4,000 nested folders raised ``RecursionError``), and
  ``dir_fd``-relative calls, so no path ever grows past ``PATH_MAX``;
* **no link followed**: every entry is ``lstat``-ed, folders are opened with
  ``O_NOFOLLOW``, links are read (``readlink``), never opened;
* **no special file opened**: FIFOs, sockets and devices are listed, never opened (a
  FIFO would block the judge);
* **capped** (``CAPS``, the one place the defaults live): the walks stop at a depth,
  a number of entries and a number of bytes (of regular files, by their size: a
  sparse 200 MB file counts 200 MB, what hashing or copying it would cost) and say
  so with a typed ``Overflow`` the caller turns into the student's verdict;
* **removal never fails**: ``remove`` hoists each folder's subfolders to the top
  before removing it (any depth in O(entries), with two descriptors open), makes
  unwritable folders writable, and swallows every error after trying its best; what
  it could not remove it reports, and the caller moves it aside.

Only the standard library: the zygote imports this module too.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

COPY_CHUNK = 1 << 20
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
HOISTED = ".kata-removing-"  # the names ``remove`` gives the folders it hoists
TAKEN = (errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ENOTEMPTY)  # a hoisted name in use


@dataclass(frozen=True)
class Caps:
    """How far the judge reads a tree a call left."""

    depth: int = 64  # nested folders below the top
    entries: int = 10_000  # files, folders, links and others, all counted
    bytes: int = 128 << 20  # the sizes of its regular files, summed


CAPS = Caps()
NO_BYTE_CAP = 1 << 62


@dataclass(frozen=True)
class Overflow:
    """A cap the tree went past: ``what`` is ``depth``, ``entries`` or ``bytes``;
    ``where``: the entry (relative to the top, printable) at which the walk stopped."""

    what: str
    cap: int
    where: str


@dataclass
class Survey:
    """What a walk saw, up to where it stopped (``overflow`` says why, if it did)."""

    entries: int = 0
    bytes: int = 0
    overflow: Overflow | None = None
    special: list[str] = field(default_factory=list)  # FIFOs, sockets, devices: never opened

    @property
    def within_caps(self) -> bool:
        return self.overflow is None


@dataclass(frozen=True)
class Entry:
    rel: str  # relative to the top, "/"-separated, names as the OS gave them (surrogateescape)
    dir_fd: int  # the folder that holds it, open while the entry is looked at
    name: str
    info: os.stat_result
    depth: int  # 1 for the top's own entries


def printable(rel: str, limit: int = 120) -> str:
    """A relative path for a message: undecodable bytes as ``\\xff``, long ones cut."""
    text = os.fsencode(rel).decode("utf-8", "backslashreplace")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _names(fd: int, room: int) -> list[str]:
    """At most ``room`` names of the folder ``fd``, sorted (the walk is deterministic)."""
    with os.scandir(fd) as entries:
        return sorted(entry.name for entry in itertools.islice(entries, room))


def walk(top: Path | str, caps: Caps = CAPS, survey: Survey | None = None):
    """Every entry under ``top``, parents before children, sorted by name; links and
    special files are yielded, never followed or opened. Stops at ``caps`` and records
    why in ``survey``. Each ``Entry.dir_fd`` is only valid until the next one."""
    survey = survey if survey is not None else Survey()
    try:
        top_fd = os.open(top, DIR_FLAGS)
    except OSError:
        return
    frames: list[tuple[int, str, list[str], int]] = [(top_fd, "", [], 1)]
    try:
        frames[0] = (top_fd, "", _names(top_fd, caps.entries + 1)[::-1], 1)
        while frames:
            fd, prefix, names, depth = frames[-1]
            if not names:
                frames.pop()
                os.close(fd)
                continue
            name = names.pop()
            rel = prefix + name
            if depth > caps.depth:
                survey.overflow = Overflow("depth", caps.depth, printable(rel))
                return
            survey.entries += 1
            if survey.entries > caps.entries:
                survey.overflow = Overflow("entries", caps.entries, printable(rel))
                return
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError:
                continue
            kind = stat.S_IFMT(info.st_mode)
            if kind == stat.S_IFREG:
                survey.bytes += info.st_size
                if survey.bytes > caps.bytes:
                    survey.overflow = Overflow("bytes", caps.bytes, printable(rel))
                    return
            elif kind not in (stat.S_IFDIR, stat.S_IFLNK):
                survey.special.append(printable(rel))
            yield Entry(rel, fd, name, info, depth)
            if kind == stat.S_IFDIR:
                try:
                    sub = os.open(name, DIR_FLAGS, dir_fd=fd)
                except OSError:
                    continue
                try:
                    room = caps.entries + 1 - survey.entries
                    frames.append((sub, rel + "/", _names(sub, room)[::-1], depth + 1))
                except OSError:
                    os.close(sub)
    except OSError:
        return
    finally:
        for fd, *_rest in frames:
            with contextlib.suppress(OSError):
                os.close(fd)


def survey(top: Path | str, caps: Caps = CAPS) -> Survey:
    """How much ``top`` holds, up to ``caps``."""
    found = Survey()
    for _entry in walk(top, caps, found):
        pass
    return found


def digest(top: Path | str, caps: Caps = CAPS) -> tuple[bytes | None, Survey]:
    """A hash of every entry under ``top``: names, kinds, sizes, the contents of regular
    files with one link, the targets of links (read, never followed); special files by
    name and kind only. None past ``caps``."""
    state, found = hashlib.sha256(), Survey()
    for entry in walk(top, caps, found):
        info = entry.info
        state.update(os.fsencode(entry.rel) + b"\0")
        state.update(f"{stat.S_IFMT(info.st_mode)}:{info.st_size}\0".encode())
        try:
            if stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
                _read_into(entry, state.update)
            elif stat.S_ISREG(info.st_mode):  # a hard link: not ours to read
                state.update(f"{info.st_ino}:{info.st_mtime_ns}\0".encode())
            elif stat.S_ISLNK(info.st_mode):
                state.update(os.fsencode(os.readlink(entry.name, dir_fd=entry.dir_fd)))
        except OSError as error:
            state.update(f"unreadable:{error.errno}\0".encode())
    return (None if found.overflow else state.digest()), found


def _read_into(entry: Entry, sink) -> None:
    descriptor = os.open(entry.name, FILE_FLAGS, dir_fd=entry.dir_fd)
    with open(descriptor, "rb") as reader:
        if not stat.S_ISREG(os.fstat(reader.fileno()).st_mode):
            return
        for chunk in iter(lambda: reader.read(COPY_CHUNK), b""):
            sink(chunk)


def copy(source: Path | str, target: Path | str, caps: Caps = CAPS) -> Survey:
    """Copy what a call left into ``target`` (which must not exist): folders, regular
    files with one link (a hard link could name a file the student may not read) and
    links (as links); special files are left out. Nothing is followed. Past ``caps``
    the partial copy is removed and the ``Survey`` says why."""
    found = Survey()
    os.mkdir(target, 0o755)
    targets = [os.open(target, DIR_FLAGS)]  # targets[d - 1]: where entries of depth d go
    try:
        for entry in walk(source, caps, found):
            while len(targets) > entry.depth:
                os.close(targets.pop())
            into, info = targets[-1], entry.info
            if into < 0:  # inside a folder that could not be copied
                if stat.S_ISDIR(info.st_mode):
                    targets.append(-1)
                continue
            try:
                if stat.S_ISDIR(info.st_mode):
                    targets.append(-1)
                    os.mkdir(entry.name, 0o755, dir_fd=into)
                    targets[-1] = os.open(entry.name, DIR_FLAGS, dir_fd=into)
                elif stat.S_ISLNK(info.st_mode):
                    os.symlink(os.readlink(entry.name, dir_fd=entry.dir_fd), entry.name, dir_fd=into)
                elif stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
                    _copy_file(entry, into, stat.S_IMODE(info.st_mode) & 0o755)
            except OSError:
                continue
    finally:
        for fd in targets:
            if fd >= 0:
                os.close(fd)
    if found.overflow:
        remove(target)
    return found


def _copy_file(entry: Entry, into: int, mode: int) -> None:
    written = os.open(
        entry.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=into
    )
    with open(written, "wb") as writer:
        _read_into(entry, writer.write)
        os.fchmod(writer.fileno(), mode)


def hand_over(top: Path | str, uid: int, caps: Caps = CAPS) -> Survey:
    """``lchown`` ``top`` and everything under it (up to ``caps``) to ``uid``."""
    found = Survey()
    with contextlib.suppress(OSError):
        os.lchown(top, uid, uid)
    for entry in walk(top, Caps(caps.depth, caps.entries, NO_BYTE_CAP), found):
        with contextlib.suppress(OSError):
            os.chown(entry.name, uid, uid, dir_fd=entry.dir_fd, follow_symlinks=False)
    return found


def remove(path: Path | str) -> bool:
    """Remove ``path`` whatever a call left in it (any depth, any number of entries,
    folders it made unwritable); never follows a link, never raises. Returns whether
    ``path`` is gone."""
    path = os.fspath(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    parent, name = os.path.split(os.path.abspath(path))
    try:
        parent_fd = os.open(parent, DIR_FLAGS)
    except OSError:
        return False
    try:
        if stat.S_ISDIR(info.st_mode):
            _empty(parent_fd, name)
            with contextlib.suppress(OSError):
                os.rmdir(name, dir_fd=parent_fd)
        else:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=parent_fd)
    except Exception:  # noqa: BLE001 - removal never fails the run
        pass
    finally:
        os.close(parent_fd)
    return not os.path.lexists(path)


def _open_writable(name: str, dir_fd: int) -> int:
    """Open the folder ``name`` (no link followed) and make it the judge's to empty."""
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except PermissionError:  # a folder its owner made unreadable (not root)
        if not stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            raise
        os.chmod(name, stat.S_IRWXU, dir_fd=dir_fd)
        fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    with contextlib.suppress(OSError):
        os.fchmod(fd, stat.S_IRWXU)
    return fd


def _empty(parent_fd: int, name: str) -> None:
    """Empty the folder ``name`` of ``parent_fd``: each of its subfolders is emptied of
    files and its own subfolders are renamed up into the top, so the tree is removed
    two levels at a time, whatever its depth. Stops when a pass changes nothing."""
    top = _open_writable(name, parent_fd)
    hoisted = itertools.count()
    try:
        while True:
            progress = False
            with os.scandir(top) as listing:
                names = [entry.name for entry in listing]
            if not names:
                return
            for child in names:
                try:
                    info = os.stat(child, dir_fd=top, follow_symlinks=False)
                    if not stat.S_ISDIR(info.st_mode):
                        os.unlink(child, dir_fd=top)
                        progress = True
                        continue
                    with contextlib.suppress(OSError):
                        os.rmdir(child, dir_fd=top)
                        progress = True
                        continue
                    progress |= _flatten_into(top, child, hoisted)
                    with contextlib.suppress(OSError):
                        os.rmdir(child, dir_fd=top)
                except OSError:
                    continue
            if not progress:
                return
    finally:
        os.close(top)


def _flatten_into(top: int, child: str, hoisted) -> bool:
    """Unlink the files of ``top``/``child`` and rename its folders into ``top``."""
    progress = False
    sub = _open_writable(child, top)
    try:
        with os.scandir(sub) as listing:
            names = [entry.name for entry in listing]
        for name in names:
            try:
                info = os.stat(name, dir_fd=sub, follow_symlinks=False)
                if not stat.S_ISDIR(info.st_mode):
                    os.unlink(name, dir_fd=sub)
                    progress = True
                    continue
                for _attempt in range(8):  # a name the student chose could be taken
                    try:
                        os.rename(name, f"{HOISTED}{next(hoisted)}", src_dir_fd=sub, dst_dir_fd=top)
                        progress = True
                        break
                    except OSError as error:
                        if error.errno not in TAKEN:
                            raise
            except OSError:
                continue
    finally:
        os.close(sub)
    return progress
