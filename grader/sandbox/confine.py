"""What a sandboxed call may see and do, and how a forked child is confined to it.

Two mechanisms, used together where the OS has them (``Mechanisms``):

* **namespaces** (Linux, root): the call gets its own pid, mount, network, IPC and
  UTS namespaces and a new root file system built on an empty tmpfs, in which exist
  only read-only binds of the system libraries, the Python installation, the kit's
  ``labkit/`` and the call's inputs, the call's own folder (read-write), a private
  size-capped ``/tmp`` and ``/dev/shm``, a few device nodes and a fresh ``/proc``.
  Nothing else exists for it. The network namespace has no interface up. It then
  runs as a uid of its own, with no capabilities. When its first process exits, the
  kernel kills every process of the namespace: nothing it started outlives it.
* **Landlock** (Linux >= 5.13, no privilege needed): the same paths as a rule set
  the process can never widen; with ABI >= 4 no TCP, with ABI >= 6 no signal and no
  abstract unix socket leaves the call.

* **a uid of its own** (root, with or without namespaces: only CAP_SETUID/CAP_SETGID,
  which a default Docker container keeps): the student child becomes an unprivileged
  uid that owns nothing but its own folder, with no supplementary group, no capability
  and ``no_new_privs``. Root-owned files are then read-only (or unreadable) to it.

``Mechanisms.missing()`` says, in words, which guarantees a machine cannot give, and
``unconfined()`` whether student code would run below the floor: as root with no
file-system confinement at all (grading refuses that unless the instructor allows it).
"""

from __future__ import annotations

import os
import resource
import signal
import site
import stat
import sys
from dataclasses import dataclass

from grader.core.paths import KIT_ROOT
from grader.sandbox import linux

SANDBOX_UID_BASE = 2_000_000_000  # + the judge's pid: a uid no one else uses
SYSTEM_READABLE = (
    "/usr",
    "/lib",
    "/lib32",
    "/lib64",
    "/bin",
    "/sbin",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/mime.types",
)
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
STUDENT_USER = "student"
LABKIT = str(KIT_ROOT / "labkit")


ALLOW_UNCONFINED_ENV = "KATA_ALLOW_UNCONFINED"  # "1": the instructor accepts the floor's breach
# Each process of a call inherits the zygote's mappings (~1.7 GiB of address space with
# MLflow, sklearn and pandas preloaded): an RLIMIT_AS below that fails every call. A
# memory cap below this floor (the Gradescope bundle's, fitted to its container) is the
# call's cgroup's to enforce; each process's address space stays capped at the floor.
ADDRESS_SPACE_MIN_MB = 2048
# The kernel's OOM killer takes a process of the call first, wherever memory runs out
# (the call's cgroup, a container's, the machine's): never the judge or the kit's own
# servers (their score adjustment is 0; lowering one's own needs CAP_SYS_RESOURCE).
OOM_SCORE_ADJ = 1000


@dataclass(frozen=True)
class Mechanisms:
    """What this machine lets the zygote use, found by trying (``zygote.probe``)."""

    namespaces: bool = False  # pid/mount/net namespaces, a new root
    landlock_abi: int = 0
    cgroups: bool = False  # memory and processes counted for the call as a whole
    own_uid: bool = False  # the child runs as an unprivileged uid of its own (needs root)
    # Why a uid of its own could not be had where the judge is root ("" when it could).
    own_uid_gap: str = ""

    def __post_init__(self) -> None:
        if self.namespaces:  # a new root is always entered as a uid of its own
            object.__setattr__(self, "own_uid", True)

    @property
    def level(self) -> str:
        if self.namespaces and self.landlock_abi >= 6:
            return "full"
        return "partial" if self.namespaces or self.landlock_abi or self.own_uid else "none"

    def to_json(self) -> dict:
        return {
            "level": self.level,
            "namespaces": self.namespaces,
            "own_uid": self.own_uid,
            "landlock_abi": self.landlock_abi,
            "cgroups": self.cgroups,
            "missing": self.missing(),
        }

    def unconfined(self, euid: int) -> str:
        """Why student code would run below the floor (as root, confined by nothing that
        keeps it off the file system), in one line; "" when it would not."""
        if euid != 0 or self.own_uid or self.namespaces or self.landlock_abi:
            return ""
        why = self.own_uid_gap or "this process cannot change uid (no CAP_SETUID/CAP_SETGID)"
        return (
            "student code would run as root with no file-system confinement: no namespaces "
            f"(no CAP_SYS_ADMIN), no Landlock, and no uid of its own ({why})"
        )

    def missing(self) -> list[str]:
        """Each guarantee of a full sandbox this machine cannot give, in one line."""
        gaps = []
        if not self.own_uid:
            gaps.append(
                "own uid: student code runs as the judge's user"
                + (f" ({self.own_uid_gap})" if self.own_uid_gap else " (a uid of its own needs root)")
            )
        if not self.namespaces:
            gaps.append("process cleanup: leftovers are found by a scan, not a pid namespace")
            gaps.append("private /tmp: TMPDIR is the call's own folder")
            if self.landlock_abi < 4:
                gaps.append("no network: student code can open network connections")
            else:
                gaps.append("no network: TCP is blocked (Landlock), UDP is not")
        if not self.landlock_abi and not self.namespaces:
            gaps.append(
                "file system: student code can read every file its uid may read"
                + (
                    " (world-readable files) and write world-writable folders such as /tmp"
                    if self.own_uid
                    else " (the judge's)"
                )
            )
        elif 0 < self.landlock_abi < 6 and not self.namespaces and not self.own_uid:
            gaps.append("signals: student code can signal the judge's other processes")
        if not self.cgroups:
            gaps.append("memory is capped per process (RLIMIT_AS), not for the call as a whole")
        return gaps


def unreadable_for_others(paths) -> str:
    """The first of ``paths`` an unprivileged uid could not reach (a folder on the way
    without search permission for others, e.g. a Python installed under ``/root``), or ""."""
    for path in paths:
        current = os.path.abspath(path)
        while True:
            try:
                mode = os.stat(current).st_mode
            except OSError:
                break
            needed = stat.S_IXOTH if stat.S_ISDIR(mode) else stat.S_IROTH
            if not mode & needed:
                return (
                    f"{path} is not readable by other users ({current} is "
                    f"{stat.filemode(mode)}): install the kit and its Python where every user can read them"
                )
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
    return ""


@dataclass(frozen=True)
class View:
    """The paths one call may see: read-only inputs and its own read-write folder."""

    readable: tuple[str, ...] = ()
    writable: tuple[str, ...] = ()
    tmp_mb: int = 256

    @staticmethod
    def from_request(request: dict) -> View:
        return View(
            tuple(request.get("readable", ())),
            tuple(request.get("writable", ())),
            int(request["limits"].get("tmp_mb", 256)),
        )


def python_readable() -> list[str]:
    """The Python installation and its site-packages, and the kit's ``labkit/``."""
    paths = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))),
    }
    paths.update(site.getsitepackages())
    paths.update(p for p in sys.path if p and "site-packages" in p)
    paths.add(LABKIT)
    found = {os.path.abspath(p) for p in paths if p and os.path.exists(p)}
    # Both spellings of a path reached through a symlink (a venv under a linked folder):
    # modules remember the path they were imported by, and read their data files by it.
    return sorted(found | {os.path.realpath(p) for p in found})


def outermost(paths) -> list[str]:
    """``paths`` without those lying inside another one (binding them twice is waste)."""
    kept: list[str] = []
    for path in sorted(set(paths)):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


# -- the new root (namespaces) -------------------------------------------------------
def _bind(root: str, source: str, writable: bool, device: bool = False) -> None:
    if not os.path.lexists(source):
        return
    target = root + source
    if os.path.islink(source) and os.path.dirname(source) == "/":
        if not os.path.lexists(target):
            os.symlink(os.readlink(source), target)  # /lib -> usr/lib, as on the host
        return
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            open(target, "wb").close()
    linux.mount(source, target, None, linux.MS_BIND | linux.MS_REC)
    flags = linux.MS_BIND | linux.MS_REMOUNT | linux.MS_NOSUID | (0 if device else linux.MS_NODEV)
    linux.mount(None, target, None, flags | (0 if writable else linux.MS_RDONLY))


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def enter_new_root(mountpoint: str, view: View, uid: int) -> None:
    """Build the call's file system on a tmpfs at ``mountpoint`` and pivot into it.
    Must run as root, as the first process of fresh pid and mount namespaces."""
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    linux.mount("tmpfs", mountpoint, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "size=4m,mode=755")
    root = mountpoint
    cap = f"size={view.tmp_mb}m"
    os.makedirs(root + "/tmp")
    linux.mount("tmpfs", root + "/tmp", "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, cap + ",mode=1777")
    for path in outermost([*SYSTEM_READABLE, *python_readable(), *view.readable]):
        _bind(root, path, writable=False)
    for path in outermost(view.writable):
        _bind(root, path, writable=True)
    for device in DEVICES:
        _bind(root, device, writable=True, device=True)
    os.makedirs(root + "/dev/shm")
    linux.mount("tmpfs", root + "/dev/shm", "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, cap + ",mode=1777")
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        os.symlink(target, f"{root}/dev/{name}")
    os.makedirs(root + "/proc")
    linux.mount("proc", root + "/proc", "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    _write(
        root + "/etc/passwd", f"root:x:0:0::/:/usr/sbin/nologin\n{STUDENT_USER}:x:{uid}:{uid}::/tmp:/usr/sbin/nologin\n"
    )
    _write(root + "/etc/group", f"root:x:0:\n{STUDENT_USER}:x:{uid}:\n")
    _write(root + "/etc/hosts", "127.0.0.1 localhost\n")
    _write(root + "/etc/hostname", "kata\n")
    os.chdir(root)
    linux.pivot_root(".", ".")
    linux.umount2(".", linux.MNT_DETACH)  # the host's tree, stacked under ours: gone
    os.chdir("/")
    linux.mount(None, "/", None, linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV)


def drop_privileges(uid: int) -> None:
    """Become ``uid`` (and gid), no supplementary groups, no capabilities (setuid from
    root without KEEPCAPS clears them all), and ``no_new_privs``: no setuid program
    (su, sudo, a planted one) can give any of it back."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise PermissionError(f"still uid {os.geteuid()} after setresuid({uid})")
    if linux.IS_LINUX:
        linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)


def landlock_rules(view: View, namespaces: bool) -> list[tuple[str, int]]:
    everything = linux.handled_fs_rights(7)
    read = [*SYSTEM_READABLE, *python_readable(), *view.readable]
    writable = list(view.writable)
    if namespaces:
        read += ["/etc", "/proc"]  # synthetic /etc; /proc shows only the call's processes
        writable += ["/tmp", "/dev/shm"]
    rules = [(path, linux.FS_READ) for path in read]
    rules += [(path, everything) for path in writable]
    rules += [(device, linux.FS_READ_FILE | linux.FS_WRITE_FILE) for device in DEVICES]
    return rules


def apply_landlock(abi: int, view: View, namespaces: bool) -> None:
    linux.landlock_restrict(abi, landlock_rules(view, namespaces))


# -- limits and environment ----------------------------------------------------------
def set_limit(kind: int, soft: int, hard: int) -> None:
    try:
        resource.setrlimit(kind, (soft, hard))
    except (ValueError, OSError):
        if linux.IS_LINUX:
            raise  # elsewhere (macOS) some limits are not supported: the timeout still holds


def first_to_kill() -> None:
    """Make this process (and what it starts) the OOM killer's first choice
    (``OOM_SCORE_ADJ``). Best effort: where /proc is not there, the cgroup still counts."""
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write(str(OOM_SCORE_ADJ))
    except OSError:
        pass


def limit_resources(limits: dict, own_uid: bool) -> None:
    memory = max(limits["memory_mb"], ADDRESS_SPACE_MIN_MB) * 1024 * 1024
    set_limit(resource.RLIMIT_AS, memory, memory)
    file_size = limits["file_size_mb"] * 1024 * 1024
    set_limit(resource.RLIMIT_FSIZE, file_size, file_size)
    cpu = int(limits["timeout_s"]) + 5
    set_limit(resource.RLIMIT_CPU, cpu, cpu + 5)
    set_limit(resource.RLIMIT_CORE, 0, 0)
    if own_uid:  # counted per uid: only meaningful when the uid is the call's own
        processes = limits.get("processes", 256)
        set_limit(resource.RLIMIT_NPROC, processes, processes)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails, not kills


def call_environment(request: dict, namespaces: bool) -> dict[str, str]:
    """An environment built from nothing: never the judge's variables."""
    from grader.core.quiet import QUIET_ENV

    workdir = request["workdir"]
    python_bin = os.path.dirname(sys.executable)
    env = {
        "PATH": f"{python_bin}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": workdir,
        "USER": STUDENT_USER,
        "LOGNAME": STUDENT_USER,
        "TMPDIR": "/tmp" if namespaces else workdir,
        **QUIET_ENV,
    }
    env.update(request.get("env", {}))
    return env
