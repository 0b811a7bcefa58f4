"""``kata validate --json``: solutions pass, stubs fail for the right reason, and the
isolation matrix is diagonal for all 17 TODOs (the kit's strongest self-check)."""

import json
import subprocess
import sys
from pathlib import Path

from grader.todos import load_todos

KIT_ROOT = Path(__file__).resolve().parent.parent


def test_kata_validate_reports_passing_solutions_failing_stubs_and_a_diagonal_matrix():
    run = subprocess.run([sys.executable, "-m", "grader", "validate", "--json"], cwd=KIT_ROOT,
                         capture_output=True, text=True, timeout=1800)
    verdict = json.loads(run.stdout)
    assert set(verdict) == {"solutions_pass", "stubs_fail", "isolation"}
    assert verdict["solutions_pass"] is True, run.stderr[-2000:]
    assert verdict["stubs_fail"] is True, run.stderr[-2000:]
    assert verdict["isolation"] == {todo.id: [todo.id] for todo in load_todos()}
    assert run.returncode == 0
