"""One kit manifest: every file that decides a grade is in it, so changing any of them —
a catalog, a template, the TODO table, a kata test, the data — changes ``kit_sha256`` (and
with it the warm judge's key and what a Dask worker must match); caches and the authoring
data no grading reads do not."""

import shutil

import pytest

from grader.core import manifest
from grader.core.paths import KIT_ROOT
from grader.judge import warm
from grader.platforms.gradescope import kit_files


@pytest.fixture(scope="module")
def kit_copy(tmp_path_factory):
    root = tmp_path_factory.mktemp("kit")
    for name in manifest.grading_files():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(KIT_ROOT / name, root / name)
    return root


@pytest.mark.parametrize("name", [
    "grader/locale/es/LC_MESSAGES/kata.po", "grader/reports/templates/report.css", "grader/lab/todos.toml",
    "grader/results/results.schema.json", "tests/test_task1.py", "tests/hidden/test_task1_hidden.py",
    "data/devops_metrics.csv", "labkit/metrics.py", "pytest.ini", "conftest.py", "grader/sandbox/confine.py",
])
def test_changing_any_grading_file_changes_the_kits_hash(kit_copy, name):
    assert name in manifest.grading_files(kit_copy)
    before = manifest.kit_sha256(kit_copy)
    original = (kit_copy / name).read_bytes()
    try:
        (kit_copy / name).write_bytes(original + b"\n")
        assert manifest.kit_sha256(kit_copy) != before
    finally:
        (kit_copy / name).write_bytes(original)
    assert manifest.kit_sha256(kit_copy) == before


def test_caches_links_and_the_mistake_matrix_are_not_the_kit(kit_copy):
    before = manifest.kit_sha256(kit_copy)
    (kit_copy / "grader" / "core" / "__pycache__").mkdir(exist_ok=True)
    (kit_copy / "grader" / "core" / "__pycache__" / "x.pyc").write_bytes(b"cache")
    (kit_copy / "tests" / "link.py").symlink_to(kit_copy / "tests" / "test_task1.py")
    (kit_copy / "grader" / "authoring").mkdir(exist_ok=True)
    (kit_copy / "grader" / "authoring" / "mistakes.toml").write_text("# quotes solutions\n")
    try:
        assert manifest.kit_sha256(kit_copy) == before
    finally:
        (kit_copy / "tests" / "link.py").unlink()


def test_the_bundle_and_the_warm_judge_read_the_same_manifest(monkeypatch):
    assert set(kit_files()) == set(manifest.grading_files()) | {"pyproject.toml"}
    assert "grader/authoring/mistakes.toml" not in kit_files()
    key = warm.judge_key()
    assert warm.judge_key() == key  # stable
    monkeypatch.setattr(warm, "kit_sha256", lambda: "0" * 64)  # another kit: another judge
    assert warm.judge_key() != key
