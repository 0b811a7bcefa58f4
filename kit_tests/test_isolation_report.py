"""``kata grade`` never hides a missing isolation guarantee (README: How student code
is isolated): it prints one line naming it, records the level in ``results.json``,
and ``--require-isolation`` refuses to grade. A weaker platform is simulated by
capping the zygote's level with $KATA_ISOLATION_MAX."""

import json
import os
import subprocess
import sys

import jsonschema
import pytest

from grader.paths import KIT_ROOT
from grader.stubgen import render

SCHEMA = json.loads((KIT_ROOT / "grader" / "results.schema.json").read_text())


@pytest.fixture(scope="module")
def one_student(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    exercises = root / "stub_student" / "exercises"
    exercises.mkdir(parents=True)
    source = (KIT_ROOT / "solutions" / "task1_baseline.py").read_text()
    (exercises / "task1_baseline.py").write_text(render(source))
    return root


def grade(submissions, out, *extra, level="partial"):
    return subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(submissions), "--out", str(out), "--jobs", "1",
         "--timeout", "20", *extra],
        cwd=KIT_ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "KATA_ISOLATION_MAX": level},
    )


def test_a_weaker_sandbox_is_named_in_one_line_and_recorded_in_results_json(one_student, tmp_path):
    graded = grade(one_student, tmp_path / "out")
    assert graded.returncode == 0, graded.stderr
    lines = [line for line in graded.stderr.splitlines() if "isolation partial; missing:" in line]
    assert len(lines) == 1, graded.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    isolation = results["kit"]["isolation"]
    assert isolation["level"] == "partial"
    if os.geteuid() == 0:
        assert any("own uid" in gap for gap in isolation["missing"]), isolation
    assert results["submissions"][0]["status"] == "graded"


def test_require_isolation_refuses_to_grade_where_a_guarantee_is_missing(one_student, tmp_path):
    refused = grade(one_student, tmp_path / "out", "--require-isolation")
    assert refused.returncode == 2, refused.stderr
    assert "--require-isolation: this machine cannot give:" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "out" / "results.json").exists()
