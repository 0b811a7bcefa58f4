"""Issue 18, "the judge itself bounded": a kata worker runs in a memory cgroup of its
own (``worker_handle.Worker.enter_group``), its zygote's call groups nested in it; a worker the
kernel kills for memory costs its submission one line saying so, and the group goes
with the worker. Real processes, real cgroups: as root where cgroup v1's memory and
pids hierarchies are ours (``CallGroup.for_judge``), else skipped."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from grader.classroom import worker_handle
from grader.classroom.grade import result_of
from grader.classroom.pool import Graded
from grader.classroom.protocol import Job, WorkerSettings
from grader.classroom.serving import kata_worker_env
from grader.classroom.worker_handle import Worker
from grader.core.paths import KIT_ROOT
from grader.sandbox.cgroups import CGROUP_ROOT, CallGroup

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0,
                                reason="cgroups are the kit's as root on Linux")


def memory_cgroup(pid: int) -> str:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if "memory" in names.split(","):
            return os.path.join(CGROUP_ROOT, "memory", path.lstrip("/"))
    return ""


@pytest.fixture
def worker():
    probe = CallGroup.for_judge(f"kata-test-probe-{os.getpid()}", 1 << 30, 64)
    if probe is None:
        pytest.skip("cgroup v1 memory and pids are not the kit's here")
    probe.remove()
    tmp = Path(tempfile.mkdtemp(prefix="kata-worker-memory-"))
    tmp.chmod(0o711)
    started = Worker(WorkerSettings(timeout=20, seed="worker-memory"), kata_worker_env(), tmp)
    started.start()
    try:
        yield started
    finally:
        started.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_a_kata_worker_runs_in_a_memory_cgroup_of_its_own_that_goes_with_it(worker):
    group = memory_cgroup(worker.process.pid)
    assert os.path.basename(group).startswith(worker_handle.WORKER_GROUP_PREFIX), group
    assert group == worker.group.folders[0]
    assert int(Path(group, "memory.limit_in_bytes").read_text()) == worker_handle.WORKER_MEMORY_MB << 20
    worker.stop()
    assert not os.path.exists(group), "the worker's cgroup outlived it"


def test_a_worker_killed_for_memory_tells_its_submission_so(worker):
    """The worker is made the OOM killer's first choice, its group's cap lowered to just
    above what it uses once warm: grading a real submission then needs more, and the
    kernel kills it. Its submission gets the one-line reason, not "the grader gave up"."""
    worker.wait_ready()
    group = worker.group.folders[0]
    Path(f"/proc/{worker.process.pid}/oom_score_adj").write_text("1000")
    used = int(Path(group, "memory.usage_in_bytes").read_text())
    Path(group, "memory.limit_in_bytes").write_text(str(used + (48 << 20)))
    job = Job("one", str(KIT_ROOT / "solutions"))
    reply = worker.grade(job, 300)
    assert reply is None and worker.lost == worker_handle.LOST_TO_MEMORY, (reply, worker.lost,
                                                                  worker.process.poll())
    result = result_of(Graded(job, reply, worker.lost))
    assert result.status == "error"
    assert result.message == "the grader ran out of memory reading what this submission left"
