"""What a sandboxed call sees of the Python installation, however it is reached."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.paths import KIT_ROOT


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
