"""Thin ctypes wrappers for the Linux calls the sandbox needs (Python 3.11 has none).

Namespaces (``unshare``), mounts (``mount``, ``umount2``, ``pivot_root``), process
controls (``prctl``) and Landlock (``landlock_create_ruleset`` …). Each wrapper raises
``OSError`` with the kernel's errno; none has policy: that lives in ``confine``.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

IS_LINUX = sys.platform.startswith("linux")

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36

# Landlock (include/uapi/linux/landlock.h)
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

FS_READ = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV

# Syscall numbers for the calls glibc does not wrap: Landlock's are the same on every
# architecture (added after the tables were unified); pivot_root's are not.
_LANDLOCK_SYSCALLS = {"landlock_create_ruleset": 444, "landlock_add_rule": 445, "landlock_restrict_self": 446}
_SYSCALLS = {
    machine: {"pivot_root": number, **_LANDLOCK_SYSCALLS} for machine, number in (("x86_64", 155), ("aarch64", 41))
}

_libc = ctypes.CDLL(None, use_errno=True) if IS_LINUX else None
_libc_syscall = _libc.syscall if _libc is not None else None
if _libc_syscall is not None:
    _libc_syscall.restype = ctypes.c_long


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def _lib() -> ctypes.CDLL:
    """The C library; elsewhere than Linux none of these calls exists (ENOSYS)."""
    if _libc is None:
        raise OSError(38, f"no Linux calls on {sys.platform}")
    return _libc


def _syscall(name: str, *args) -> int:
    numbers = _SYSCALLS.get(platform.machine())
    if _libc_syscall is None:
        raise OSError(38, f"{name}: no Linux calls on {sys.platform}")
    if numbers is None:
        raise OSError(38, f"{name}: unknown syscall number on {platform.machine()}")
    return _check(_libc_syscall(ctypes.c_long(numbers[name]), *args), name)


def proc_stat(pid: int | str) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name (state, ppid, …, so
    ``[1]`` is the parent pid and ``[19]`` the start time); [] when unreadable."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def oom_kills() -> int:
    """How many processes the kernel's OOM killer has killed since boot, machine-wide
    (``/proc/vmstat``'s ``oom_kill``; 0 where it cannot be read)."""
    try:
        with open("/proc/vmstat") as handle:
            for line in handle:
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def unshare(flags: int) -> None:
    _check(_lib().unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encode = lambda text: text.encode() if text is not None else None  # noqa: E731
    _check(
        _lib().mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)),
        f"mount {target}",
    )


def umount2(target: str, flags: int) -> None:
    _check(_lib().umount2(target.encode(), ctypes.c_int(flags)), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    _syscall("pivot_root", new_root.encode(), put_old.encode())


def prctl(option: int, value: int) -> None:
    _check(
        _lib().prctl(
            ctypes.c_int(option), ctypes.c_ulong(value), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)
        ),
        f"prctl({option})",
    )


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is missing or disabled."""
    if not IS_LINUX or platform.machine() not in _SYSCALLS:
        return 0
    try:
        return _syscall(
            "landlock_create_ruleset", None, ctypes.c_size_t(0), ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION)
        )
    except OSError:
        return 0


def handled_fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: execute … make_sym
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def landlock_restrict(abi: int, rules: list[tuple[str, int]]) -> None:
    """Confine this process (and its future children) to ``rules``: (path, rights)
    pairs; with ABI >= 4 no TCP bind/connect at all, with ABI >= 6 no signals and no
    abstract unix sockets outside its own domain. Sets ``no_new_privs`` first."""
    handled = handled_fs_rights(abi)
    attr = _RulesetAttr(
        handled,
        (NET_BIND_TCP | NET_CONNECT_TCP) if abi >= 4 else 0,
        (SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0,
    )
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = _syscall("landlock_create_ruleset", ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    try:
        for path, rights in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # an optional path that does not exist here
            try:
                if not os.path.isdir(path):
                    rights &= FILE_RIGHTS
                rule = _PathBeneathAttr(rights & handled, fd)
                _syscall(
                    "landlock_add_rule",
                    ctypes.c_int(ruleset),
                    ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH),
                    ctypes.byref(rule),
                    ctypes.c_uint32(0),
                )
            finally:
                os.close(fd)
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        _syscall("landlock_restrict_self", ctypes.c_int(ruleset), ctypes.c_uint32(0))
    finally:
        os.close(ruleset)
