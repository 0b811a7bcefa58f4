"""Drop a sandboxed child to an unprivileged uid that can still *read* everything.

As ``nobody`` a child cannot write the kit's files, the instructor's files or other
children's stores, nor signal the judge. But Python itself may live under a private
home (``/root/.pyenv``), so the child keeps exactly one capability,
CAP_DAC_READ_SEARCH: it may read and traverse any file, and write none but its own.
"""

from __future__ import annotations

import ctypes
import os
import sys

NOBODY = 65534
PR_SET_KEEPCAPS = 8
LINUX_CAPABILITY_VERSION_3 = 0x20080522
CAP_DAC_READ_SEARCH = 2


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_to(uid: int) -> None:
    """Become ``uid`` (group too, no supplementary groups) keeping read access only."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_KEEPCAPS) failed")
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    data[0].effective = data[0].permitted = 1 << CAP_DAC_READ_SEARCH
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset(CAP_DAC_READ_SEARCH) failed")
    emulate_access_with_capabilities()


def emulate_access_with_capabilities() -> None:
    """``os.access`` checks the *real* uid without capabilities, so it denies paths
    under ``/root`` that the kept capability can in fact read (alembic, for one, asks
    ``os.access(migrations_dir, F_OK)``). Answer existence/read/search questions by
    trying them; write questions keep the kernel's (correct) answer for ``nobody``."""
    real_access = os.access

    def access(path, mode, *args, **kwargs):
        if real_access(path, mode, *args, **kwargs):
            return True
        if mode & os.W_OK:
            return False
        try:
            if os.path.isdir(path):
                os.listdir(path)
            elif mode & os.R_OK:
                open(path, "rb").close()
            else:
                os.stat(path)
        except OSError:
            return False
        return True

    os.access = access


def can_drop_to(uid: int, must_read: list[str]) -> bool:
    """Whether a child can drop to ``uid`` here and still read ``must_read``."""
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        return False
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            drop_to(uid)
            for path in must_read:  # open(), not os.access(): access() ignores capabilities
                open(path, "rb").close()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
