"""This side of one kata worker (``python -m grader.classroom.worker``): start the
process in its own session and memory cgroup, read its hello, send it a ``Job`` and read
its ``Reply`` (``grader.classroom.protocol``, one JSON object per line), tell why it gave
none (killed for memory), stop it with everything it started. Pools of these are
``grader.classroom.pool``'s."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from grader.classroom.errors import GradingError, refuse_below_floor
from grader.classroom.protocol import Hello, Job, Reply, WorkerSettings
from grader.core import jsonlines
from grader.core.paths import KIT_ROOT

if TYPE_CHECKING:
    from grader.sandbox.cgroups import CallGroup

WORKER_START_TIMEOUT_S = 300
WORKER_SEED_ENV = "KATA_WORKER_SEED"  # grader.classroom.worker reads the run's seed from it
# A kata worker's memory cgroup (where cgroups are ours, see Worker.start): the judge
# (~0.5 GB), its zygote (~0.5 GB) and one call at a time (SandboxLimits.memory_mb, 2 GiB,
# tmpfs pages of its case folder included: grader.sandbox.quota), with room to spare.
WORKER_MEMORY_MB = 5 * 1024
WORKER_PROCESSES = 4096  # threads count: the judge's, the zygote's, a call's 256
WORKER_GROUP_PREFIX = "kata-worker-"  # + kata grade's pid: groups of dead runs are removed
LOST_TO_MEMORY = "memory"  # Worker.lost: the kernel killed the worker for memory
LOST_UNREADABLE = "unreadable"  # Worker.lost: its reply was not one protocol line


class Worker:
    """One ``python -m grader.classroom.worker`` process."""

    def __init__(self, settings: WorkerSettings, env: dict[str, str], tmpdir: Path):
        self.settings, self.env, self.tmpdir = settings, env, tmpdir
        self.process: subprocess.Popen | None = None
        self.isolation: dict = {}  # what its sandbox could set up (its hello)
        self.group: CallGroup | None = None  # its memory cgroup (grader.sandbox.cgroups.CallGroup), where ours
        self.lost = ""  # why the last job got no reply, when known (LOST_TO_MEMORY)

    def start(self) -> None:
        """Start the process, in its own session (a terminal's Ctrl-C goes to ``kata
        grade`` alone, which stops everything in order) and killed when the starting
        thread exits (``PR_SET_PDEATHSIG``): a pool starts its workers from one launcher
        thread that lives as long as the pool (``grader.classroom.pool``)."""
        from grader.judge.model_server import die_with_parent

        settings = self.settings
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "grader.classroom.worker",
                "--timeout",
                str(settings.timeout),
                "--tmpdir",
                str(self.tmpdir),
                "--lang",
                settings.lang,
                *(["--allow-unconfined"] if settings.allow_unconfined else []),
                *(["--budget", str(settings.budget)] if settings.budget else []),
                *(["--memory", str(settings.memory_mb)] if settings.memory_mb else []),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            # The seed in the environment, not the command line: /proc/PID/cmdline is anyone's
            # to read (another local user; student code where it has no pid namespace).
            text=True,
            bufsize=1,
            env={**self.env, WORKER_SEED_ENV: settings.seed},
            cwd=KIT_ROOT,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        self.enter_group()

    def enter_group(self) -> None:
        """Bound the worker with everything it starts (its zygote, its calls) by a memory
        cgroup of its own, ``WORKER_MEMORY_MB``: a judge that reads too much of what a
        submission left is killed alone, and that submission is told so (``lost``).
        The worker is moved in right after it started, before it starts anything (its
        imports take far longer). Optional: where cgroups are not ours (or v2, see
        ``CallGroup.for_judge``) the worker runs as before."""
        from grader.sandbox.cgroups import CallGroup

        if self.group is None:
            CallGroup.remove_abandoned(WORKER_GROUP_PREFIX)
            self.group = CallGroup.for_judge(
                f"{WORKER_GROUP_PREFIX}{os.getpid()}-{id(self):x}", WORKER_MEMORY_MB << 20, WORKER_PROCESSES
            )
        if self.group is not None and self.process is not None:
            try:
                self.group.add(self.process.pid)
            except OSError:  # it died at once: its hello says so
                pass

    def wait_ready(self) -> dict:
        """Wait for the worker's hello; return the isolation its sandbox could set up.
        A sandbox below the floor that was not allowed stops here (``refuse_below_floor``)."""
        line = self.read_line(WORKER_START_TIMEOUT_S)
        try:
            hello = Hello.from_json(jsonlines.decode(line)) if line else None
        except jsonlines.ProtocolError:
            hello = None
        if hello is None:
            raise GradingError("a grading worker did not start (run `kata validate` to check the kit)")
        self.isolation = hello.isolation
        refuse_below_floor(self.isolation)
        return self.isolation

    def read_line(self, timeout: float) -> str:
        """The worker's next line ("" if it ended or said nothing for ``timeout`` s), at
        most ``jsonlines.MAX_LINE_BYTES`` of it."""
        process = self.process
        assert process is not None and process.stdout is not None, "a worker that was never started"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([process.stdout], [], [], 1.0)
            if ready:
                return process.stdout.readline(jsonlines.MAX_LINE_BYTES + 1)
            if process.poll() is not None:
                return ""
        return ""

    def grade(self, job: Job, deadline_s: float) -> Reply | None:
        """The worker's reply to ``job``, or None when it died, hung or answered with
        something else than a reply (``lost`` then says why, when known)."""
        process = self.process
        assert process is not None and process.stdin is not None, "a worker that was never started"
        self.lost = ""
        kills_before = self.group.oom_kills() if self.group is not None else 0
        try:
            jsonlines.write(process.stdin, job.to_json())
            line = self.read_line(deadline_s)
        except (BrokenPipeError, OSError, ValueError):  # ValueError: its pipe was closed by stop()
            line = ""
        if line:
            try:
                return Reply.from_json(jsonlines.decode(line))
            except jsonlines.ProtocolError:
                self.lost = LOST_UNREADABLE
                return None
        with contextlib.suppress(subprocess.TimeoutExpired):  # its pipe closes before it is waitable
            process.wait(timeout=5)
        # v1 counts a kill in the group of the process killed: the judge's or its zygote's
        # (a call is killed in its own group, nested, and that is its own verdict)
        if self.group is not None and process.poll() == -signal.SIGKILL and self.group.oom_kills() > kills_before:
            self.lost = LOST_TO_MEMORY
        return None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.group is not None:  # what the worker started goes with it: its zygote, a call
            self.group.remove()
            self.group = None
