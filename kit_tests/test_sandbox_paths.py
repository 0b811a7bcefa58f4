"""What a sandboxed call sees of the Python installation, however it is reached."""

import json
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
