"""A disk quota per case folder: each one its own size-capped tmpfs (issue 18, row 10).

A call writes only its own case folder, and without a quota it could fill the disk the
whole class is graded on (on a 3-GB TMPDIR both honest copies beside a filler lost
TODOs to "database or disk is full"). Where the judge is root on Linux, a kata worker
(``grader.classroom.worker``) first takes a mount namespace of its own (``enter_private_mounts``):
every mount it makes there is invisible to the host and disappears with the namespace,
even when the worker is killed with -9 (no mount is ever left on the host). Its case
folders (``Sandbox.fixed_dir(…, quota_mb=…)``) are then fresh tmpfs mounts of
``CASE_FOLDER_MB``, detached (``MNT_DETACH``: instant, whatever is in them) when the case
closes. The zygote and its calls are the worker's children: they share the namespace,
and a call's new root binds its case folder with the mount in it.

tmpfs pages are memory: they are charged to the memory cgroup of the process that
writes them, i.e. a call's own group (``SandboxLimits.memory_mb``, 2 GiB) for what student
code writes, the kata worker's group for what the judge copies in. A filler therefore
costs its own call's memory and its own TODOs, and is gone when its case closes.

Elsewhere (not root, no CAP_SYS_ADMIN, not Linux, or any other process than a kata
worker: a student's pytest, the warm judge, the Gradescope run) case folders are plain
folders as before, bounded per file (RLIMIT_FSIZE) and by the call's time only
(``missing()`` says so).
"""

from __future__ import annotations

import contextlib
import os

from grader.sandbox import linux

CASE_FOLDER_MB = 1024  # an honest case holds a store and a few models: ~1-10 MB (README)
FULL_MARGIN_MB = 16  # less free space than this after a call: the call filled its folder
CASE_FOLDER_INODES = 200_000  # files and folders; the judge reads 10,000 (untrusted_tree.CAPS)

_private = False  # this process is in a mount namespace of its own (enter_private_mounts)
_why_not = "case folders get a quota only in a kata worker (kata grade, kata validate)"


def enter_private_mounts() -> bool:
    """Move this process into a mount namespace of its own, with no propagation to or
    from the host, so that case folders can be mounted (``mount``). Must run before
    any thread starts (``unshare(CLONE_NEWNS)`` refuses a multi-threaded process).
    Returns whether it worked; where it did not, ``missing`` says why."""
    global _private, _why_not
    if not linux.IS_LINUX or os.geteuid() != 0:
        _why_not = "a quota per case folder needs root on Linux (a tmpfs mount each)"
        return False
    try:
        linux.unshare(linux.CLONE_NEWNS)
        linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    except OSError as error:
        _why_not = f"a quota per case folder needs a mount namespace ({error.strerror})"
        return False
    _private = True
    return True


def mount(path: os.PathLike | str, size_mb: int) -> bool:
    """Make the empty folder ``path`` a fresh tmpfs of ``size_mb``; False (and the folder
    left as it is) where this process has no mount namespace of its own or the mount
    fails. Owned by root, 0755: the caller hands it over to the call's uid."""
    global _why_not
    if not _private:
        return False
    try:
        linux.mount(
            "tmpfs",
            os.fspath(path),
            "tmpfs",
            linux.MS_NOSUID | linux.MS_NODEV,
            f"size={size_mb}m,nr_inodes={CASE_FOLDER_INODES},mode=755",
        )
    except OSError as error:
        _why_not = f"a tmpfs per case folder could not be mounted ({error.strerror})"
        return False
    return True


def unmount(path: os.PathLike | str) -> None:
    """Detach every mount on ``path`` (what is in it goes at once, once the last open
    file in it is closed); nothing when it is no mount point. Never raises."""
    path = os.fspath(path)
    for _ in range(8):  # a mount stacked on a mount: each detach uncovers the next
        if not _private or not os.path.ismount(path):
            return
        with contextlib.suppress(OSError):
            linux.umount2(path, linux.MNT_DETACH)


def full(path: os.PathLike | str) -> bool:
    """Whether the file system holding ``path`` is (all but) full: less than
    ``FULL_MARGIN_MB`` free, or almost no inode left; False if unknown."""
    try:
        info = os.statvfs(path)
    except OSError:
        return False
    return info.f_bavail * info.f_frsize < FULL_MARGIN_MB << 20 or (info.f_files > 0 and info.f_favail < 64)


def active() -> bool:
    """Whether case folders made in this process get their quota."""
    return _private


def missing() -> str:
    """Why case folders have no quota here ("" when they do), in one line."""
    return (
        ""
        if _private
        else f"disk: no quota per case folder ({_why_not}); a call's files are "
        "bounded per file (256 MiB) and by its time"
    )
