"""What a sandboxed call sees of the Python installation, however it is reached."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.core.paths import KIT_ROOT


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="needs the kit's virtualenv")
def test_a_virtualenv_reached_through_a_symlink_still_serves_mlflows_own_files(tmp_path):
    """Modules remember the path they were imported by (here the link) and MLflow reads
    its migration scripts by it: the call's view must hold that spelling too."""
    link = tmp_path / "linked-venv"
    link.symlink_to(Path(sys.prefix), target_is_directory=True)
    run = subprocess.run([str(link / "bin" / "python"), "-m", "grader", "check", "--exercises",
                          str(KIT_ROOT / "solutions"), "--task", "2", "--json"],
                         cwd=KIT_ROOT, capture_output=True, text=True, timeout=600)
    todos = json.loads(run.stdout[run.stdout.index("{"):])["todos"]
    assert {todo_id: todo["status"] for todo_id, todo in todos.items()} == {
        "2.1": "pass", "2.2": "pass", "2.3": "pass", "2.4": "pass"}, todos


def test_a_call_is_in_its_sandboxs_cpu_group_where_the_cpu_controller_is_ours(tmp_path):
    """Issue 18, row 14: a spinner gets its sandbox's CPU share, not one share per process
    (the kernel's fairness is then between the submissions graded side by side)."""
    from grader.sandbox import Sandbox
    from grader.sandbox.cgroups import CallGroup

    group = CallGroup.named("probe")
    if group is None or group.version != 1 or len(group.folders) < 3:
        pytest.skip("no cgroup v1 cpu hierarchy of ours here (v2 gets cpu.weight through subtree_control)")
    exercises = tmp_path / "exercises"
    exercises.mkdir()
    (exercises / "where.py").write_text("def where():\n    return open('/proc/self/cgroup').read()\n")
    exercises.chmod(0o755)
    with Sandbox() as sandbox:
        work = sandbox.new_dir("cpu")
        result = sandbox.run("call", work, readable=[exercises], exercises=str(exercises),
                             module="where", function="where")
        assert result.ok, result.error
        lines = dict(line.split(":", 2)[1:] for line in result.value.splitlines())
        assert "kata-zygote-" in lines["cpu"] and "kata-zygote-" in lines["memory"], lines


def test_a_call_under_a_small_memory_cap_runs_and_its_processes_are_the_oom_killers_first_choice(tmp_path):
    """The Gradescope bundle's cap (the container's memory minus the kit's: 128 MiB at 768 MB)
    is far below the address space a call inherits from a preloaded zygote: each process's
    RLIMIT_AS stays at its 2 GiB floor and the call's cgroup holds the cap. Every process of
    the call, a child it forks included, is the OOM killer's first choice (1000), so that
    wherever memory runs out the kernel takes the student's process, never the grader."""
    from grader.sandbox import Sandbox, SandboxLimits
    from grader.sandbox.confine import ADDRESS_SPACE_MIN_MB

    exercises = tmp_path / "exercises"
    exercises.mkdir()
    (exercises / "hog.py").write_text(
        "import os, resource\n"
        "def seen():\n"
        "    reader, writer = os.pipe()\n"
        "    if os.fork() == 0:\n"
        "        os.write(writer, open('/proc/self/oom_score_adj').read().encode())\n"
        "        os._exit(0)\n"
        "    os.wait()\n"
        "    return [open('/proc/self/oom_score_adj').read().strip(), os.read(reader, 16).decode().strip(),\n"
        "            resource.getrlimit(resource.RLIMIT_AS)[0] >> 20]\n"
        "def hog():\n"
        "    hog = []\n"
        "    while True:\n"
        "        hog.append(b'x' * (16 << 20))\n")
    exercises.chmod(0o755)
    small = SandboxLimits(timeout_s=30, memory_mb=64)
    with Sandbox(small) as sandbox:
        seen = sandbox.run("call", sandbox.new_dir("seen"), readable=[exercises], exercises=str(exercises),
                           module="hog", function="seen")
        assert seen.ok, seen.error
        assert seen.value == ["1000", "1000", ADDRESS_SPACE_MIN_MB]
        if not sandbox.wait_ready().get("cgroups"):
            return  # the hog is then capped per process only: 2 GiB of address space
        hog = sandbox.run("call", sandbox.new_dir("hog"), readable=[exercises], exercises=str(exercises),
                          module="hog", function="hog")
        assert hog.outcome == "memory", (hog.outcome, hog.error)
        assert hog.error == "MemoryError: the call used more than its 64 MiB"


def test_without_a_call_cgroup_a_hog_killed_by_its_containers_oom_killer_fails_for_memory(tmp_path):
    """Gradescope's container lets no one make cgroups: a call is then capped per process
    only, and a hog fills the container. The kernel's OOM killer takes the call's process
    (never the zygote or the judge: ``confine.OOM_SCORE_ADJ``), and the keeper, seeing its
    child killed outright while the machine counted an OOM kill, reports the memory limit.
    Here: a bare sandbox without namespaces and cgroups (``KATA_ISOLATION_MAX=partial``) in a
    v1 memory group of 256 MiB standing for the container."""
    own = None
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if "memory" in names.split(","):
            own = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
    if own is None or not os.access(own, os.W_OK) or os.geteuid() != 0:
        pytest.skip("needs root and a cgroup v1 memory hierarchy we may write in")
    exercises = tmp_path / "exercises"
    exercises.mkdir()
    (exercises / "hog.py").write_text("def hog():\n    hog = []\n    while True:\n        hog.append(b'x' * (16 << 20))\n")
    exercises.chmod(0o755)
    script = (
        "import json, sys\n"
        "from grader.sandbox import Sandbox, SandboxLimits\n"
        "with Sandbox(SandboxLimits(timeout_s=30, memory_mb=64)) as sandbox:\n"
        "    cgroups = sandbox.wait_ready()['cgroups']\n"
        "    result = sandbox.run('call', sandbox.new_dir('hog'), readable=[sys.argv[1]], exercises=sys.argv[1],\n"
        "                         module='hog', function='hog')\n"
        "print(json.dumps([cgroups, result.outcome, result.error]))\n")
    group = own / f"kata-container-{os.getpid()}"
    group.mkdir()
    try:
        (group / "memory.limit_in_bytes").write_text(str(256 << 20))
        if (group / "memory.memsw.limit_in_bytes").exists():
            (group / "memory.memsw.limit_in_bytes").write_text(str(256 << 20))
        run = subprocess.run([sys.executable, "-c", script, str(exercises)], cwd=KIT_ROOT, capture_output=True,
                             text=True, timeout=120, env={**os.environ, "KATA_ISOLATION_MAX": "partial"},
                             preexec_fn=lambda: (group / "cgroup.procs").write_text("0"))
        kills = (group / "memory.oom_control").read_text()
    finally:
        group.rmdir()
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.splitlines()[-1]) == [False, "memory", "MemoryError: the call used more than its 64 MiB"]
    assert "oom_kill 1" in kills  # one kill in the group: the call's process (the judge and its zygote lived)
