"""A control group per sandbox: memory and processes counted for a call as a whole.

Calls of one sandbox run one at a time, so one group (made once, ~15 ms) serves
them all: each student child enters it, and the call's pid namespace is dead
before the next call starts.

RLIMIT_AS caps each process, RLIMIT_NPROC counts per uid; a cgroup counts the call
and everything it spawns together. Where the ``cpu`` controller is ours too, the group
is also one CPU share: the kernel divides the CPU between sandboxes (so between the
submissions graded side by side), not between processes, and a call that spins in 200
processes slows its neighbour by no more than its own share. cgroup v2 (``memory.max``, ``pids.max``) where
its controllers are delegated to us, else the v1 ``memory`` and ``pids`` hierarchies;
where neither is writable, ``CallGroup.create`` returns None and the per-process
limits stand alone (``Mechanisms.missing`` says so).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

CGROUP_ROOT = "/sys/fs/cgroup"


def _own_path(controller: str) -> str | None:
    """This process's cgroup in ``controller``'s hierarchy ('' for v2)."""
    try:
        with open("/proc/self/cgroup") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            return path
    return None


def _writable(path: str) -> bool:
    return os.path.isdir(path) and os.access(path, os.W_OK)


def _v2_parent() -> str | None:
    own = _own_path("")
    base = os.path.join(CGROUP_ROOT, (own or "/").lstrip("/"))
    try:
        with open(os.path.join(base, "cgroup.subtree_control")) as handle:
            enabled = handle.read().split()
    except OSError:
        return None
    if "cpu" not in enabled and _writable(base):  # optional: a CPU share per group
        try:
            with open(os.path.join(base, "cgroup.subtree_control"), "w") as handle:
                handle.write("+cpu")
        except OSError:
            pass
    return base if {"memory", "pids"} <= set(enabled) and _writable(base) else None


def _v1_parents() -> dict[str, str] | None:
    """memory, pids and, where ours, cpu (optional: a CPU share per group)."""
    parents = {}
    for controller in ("memory", "pids", "cpu"):
        own = _own_path(controller)
        base = os.path.join(CGROUP_ROOT, controller, (own or "/").lstrip("/"))
        if own is None or not _writable(base):
            if controller == "cpu":
                break
            return None
        parents[controller] = base
    return parents


def memory_limit() -> int | None:
    """The memory, in bytes, that this process and everything it starts may use together:
    the tightest limit of its memory cgroup and the groups above it (a container's own
    limit: Gradescope's 768 MB), swap counted where the limits say so; None where no
    limit is set or readable. cgroup v1 reads ``hierarchical_memory_limit`` (and
    ``hierarchical_memsw_limit``) of the group's ``memory.stat``; v2 the smallest
    ``memory.max`` on the way up. Inside a container that shows its own group as the
    hierarchy's root (Docker), the root's files are the container's."""
    limits: list[int] = []
    v1 = _own_path("memory")
    if v1 is not None:
        base = os.path.join(CGROUP_ROOT, "memory")
        for folder in (os.path.join(base, v1.lstrip("/")), base):
            try:
                with open(os.path.join(folder, "memory.stat")) as handle:
                    stat = dict(line.split() for line in handle if line.strip())
            except (OSError, ValueError):
                continue
            for key in ("hierarchical_memory_limit", "hierarchical_memsw_limit"):
                if stat.get(key, "").isdigit():
                    limits.append(int(stat[key]))
            break
    else:
        own = _own_path("")
        folder = os.path.join(CGROUP_ROOT, (own or "/").lstrip("/"))
        while folder.startswith(CGROUP_ROOT):
            try:
                with open(os.path.join(folder, "memory.max")) as handle:
                    value = handle.read().strip()
                if value.isdigit():
                    limits.append(int(value))
            except OSError:
                pass
            if folder == CGROUP_ROOT:
                break
            folder = os.path.dirname(folder)
    try:
        with open("/proc/meminfo") as handle:
            total = next((line.split()[1] for line in handle if line.startswith("MemTotal:")), "")
        unlimited = int(total) * 1024 if total.isdigit() else None
    except OSError:
        unlimited = None
    limits = [limit for limit in limits if unlimited is None or limit < unlimited]  # "no limit": a huge number
    return min(limits) if limits else None


@dataclass
class CallGroup:
    """The cgroup folders of one call (one for v2, one per controller for v1)."""

    folders: list[str]
    version: int

    @staticmethod
    def named(name: str) -> CallGroup | None:
        """The group ``name`` beside this process's own (not created), or None where
        cgroups are not ours."""
        v2_parent = _v2_parent()
        if v2_parent is not None:
            return CallGroup([os.path.join(v2_parent, name)], 2)
        parents = _v1_parents()  # memory, pids, then cpu where ours
        if parents is None:
            return None
        return CallGroup([os.path.join(base, name) for base in parents.values()], 1)

    @staticmethod
    def remove_abandoned(prefix: str) -> None:
        """Remove groups ``<prefix><pid>-…`` whose process is gone (killed with -9: its
        ``remove`` never ran). A group still holding processes is left alone."""
        sample = CallGroup.named(prefix)
        if sample is None:
            return
        for name in os.listdir(os.path.dirname(sample.folders[0])):
            pid = name[len(prefix) :].split("-")[0] if name.startswith(prefix) else ""
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                group = CallGroup.named(name)
                if group is not None:  # looked up afresh, like sample
                    group.remove(kill=False)

    @staticmethod
    def create(name: str, memory_bytes: int, processes: int) -> CallGroup | None:
        """A fresh group with the limits set, or None where cgroups are not ours."""
        group = CallGroup.named(name)
        if group is None:
            return None
        try:
            for folder in group.folders:
                os.mkdir(folder)
            group.limit(memory_bytes, processes)
        except OSError:
            group.remove()
            return None
        return group

    @staticmethod
    def for_judge(name: str, memory_bytes: int, processes: int) -> CallGroup | None:
        """A fresh group for a judge process (a kata worker) and everything it starts, its
        sandbox's zygote and calls included: the zygote makes its call group inside its
        own, so it nests in this one (v1's ``memory.use_hierarchy`` is 1: its usage counts
        here too). v1 only: under v2 a group holding processes cannot hold the groups its
        zygote would make in it (no internal processes), so None there, as where cgroups
        are not ours."""
        group = CallGroup.create(name, memory_bytes, processes)
        if group is not None and group.version != 1:
            group.remove()
            return None
        return group

    def add(self, pid: int) -> None:
        """Move process ``pid`` (all its threads) into the group."""
        for folder in self.folders:
            with open(os.path.join(folder, "cgroup.procs"), "w") as handle:
                handle.write(str(pid))

    def limit(self, memory_bytes: int, processes: int) -> None:
        """Set the call's memory (no swap) and process limits; cheap enough per call."""
        if self.version == 2:
            folder = self.folders[0]
            self._set(folder, "memory.max", memory_bytes)
            self._set(folder, "memory.swap.max", 0, optional=True)
            self._set(folder, "pids.max", processes)
            return
        memory, pids = self.folders[:2]
        knobs = ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
        try:  # v1 wants memory <= memory+swap at every step: raise memsw first
            with open(os.path.join(memory, knobs[0])) as handle:
                if memory_bytes > int(handle.read()):
                    knobs.reverse()
        except (OSError, ValueError):
            pass
        for knob in knobs:
            self._set(memory, knob, memory_bytes, optional=knob.startswith("memory.memsw"))
        self._set(pids, "pids.max", processes)

    @staticmethod
    def _set(folder: str, knob: str, value: int, optional: bool = False) -> None:
        try:
            with open(os.path.join(folder, knob), "w") as handle:
                handle.write(str(value))
        except OSError:
            if not optional:
                raise

    def enter(self) -> None:
        """Move the calling process (and its future children) into the group."""
        for folder in self.folders:
            with open(os.path.join(folder, "cgroup.procs"), "w") as handle:
                handle.write("0")

    def oom_kills(self) -> int:
        """How many processes of the group the kernel has killed for memory so far."""
        try:
            if self.version == 2:
                with open(os.path.join(self.folders[0], "memory.events")) as handle:
                    events = dict(line.split() for line in handle if line.strip())
                return int(events.get("oom_kill", 0))
            with open(os.path.join(self.folders[0], "memory.oom_control")) as handle:
                fields = dict(line.split() for line in handle if line.strip())
            return int(fields.get("oom_kill", 0))
        except (OSError, ValueError):
            return 0

    def remove(self, kill: bool = True) -> None:
        """Kill what is left (v2: ``cgroup.kill``; v1: every process listed, in nested
        groups too) unless ``kill`` is False, and remove the folders, nested groups first
        (a kata worker's holds its zygote's). A group still holding processes stays."""
        for folder in self.folders:
            if kill and self.version == 2:
                try:
                    with open(os.path.join(folder, "cgroup.kill"), "w") as handle:
                        handle.write("1")
                except OSError:
                    pass
            nested = [top for top, _, _ in os.walk(folder, topdown=False)] if os.path.isdir(folder) else []
            if kill and self.version == 1:
                _kill_members(nested)
            for path in nested:  # deepest first, the group itself last
                try:
                    os.rmdir(path)
                except OSError:
                    pass


def _kill_members(folders: list[str], patience_s: float = 3.0) -> None:
    """SIGKILL every process listed in ``folders``' ``cgroup.procs`` (never this one),
    until none is left or ``patience_s`` is over."""
    import signal
    import time

    deadline = time.monotonic() + patience_s
    while True:
        pids: set[int] = set()
        for folder in folders:
            try:
                with open(os.path.join(folder, "cgroup.procs")) as handle:
                    pids.update(int(line) for line in handle if line.strip().isdigit())
            except OSError:
                continue
        pids.discard(os.getpid())
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if not pids or time.monotonic() > deadline:
            return
        time.sleep(0.05)
