"""The tree is the architecture: the import contract in ``pyproject.toml`` holds, and it
breaks (the build fails) when a wing imports above itself, two modules import each other,
or what ships to students reaches an instructor library."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.core.paths import KIT_ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)}, timeout=120)


@pytest.fixture
def kit_copy(tmp_path):
    for name in ("grader", "labkit"):
        shutil.copytree(KIT_ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(KIT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_import_contract_holds():
    run = lint_imports(KIT_ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + text + "\n", encoding="utf-8")


@pytest.mark.parametrize("module,line,broken", [
    ("judge/runner.py", "def later():\n    from grader.classroom.grade import grade",
     "grader.judge is not allowed to import grader.classroom"),
    ("sandbox/linux.py", "def later():\n    from grader.judge import store",
     "grader.sandbox is not allowed to import grader.judge"),
    ("student/check.py", "def later():\n    import jinja2",
     "grader.student is not allowed to import jinja2"),
    ("judge/store.py", "def later():\n    import distributed",
     "grader.judge is not allowed to import distributed"),
    ("classroom/submissions.py", "def later():\n    from grader.classroom import staging",
     "No cycles are allowed in grader.classroom"),
], ids=["wing-above", "sandbox-knows-the-lab", "student-instructor-library", "judge-dask", "cycle"])
def test_a_broken_rule_fails_the_contract(kit_copy, module, line, broken):
    append(kit_copy / "grader" / module, line)
    run = lint_imports(kit_copy)
    assert run.returncode != 0
    assert broken in run.stdout, run.stdout[-3000:]
