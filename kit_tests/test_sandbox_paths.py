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
