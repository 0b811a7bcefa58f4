"""``kata grade`` never hides a missing isolation guarantee (README: How student code
is isolated): it prints one line naming it, records the level in ``results.json``,
and ``--require-isolation`` refuses to grade. A weaker platform is simulated by
capping the zygote's level with $KATA_ISOLATION_MAX."""

import json
import os
import shutil
import subprocess
import sys

import jsonschema
import pytest

from grader.core.paths import KIT_ROOT
from grader.sandbox.confine import python_readable, unreadable_for_others
from grader.authoring.stubgen import render

SCHEMA = json.loads((KIT_ROOT / "grader" / "results" / "results.schema.json").read_text())


@pytest.fixture(autouse=True)
def _one_model_server(served_model_env, monkeypatch):
    """Every run here uses the session's model server (they test isolation, not serving)."""
    for name, value in served_model_env.items():
        monkeypatch.setenv(name, value)


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
    if os.geteuid() == 0:  # a uid of its own without namespaces, or the reason it cannot have one
        gap = unreadable_for_others(python_readable())
        own_uid_gaps = [item for item in isolation["missing"] if item.startswith("own uid")]
        assert own_uid_gaps == ([f"own uid: student code runs as the judge's user ({gap})"] if gap else []), \
            isolation
    assert results["submissions"][0]["status"] == "graded"


def test_require_isolation_refuses_to_grade_where_a_guarantee_is_missing(one_student, tmp_path):
    refused = grade(one_student, tmp_path / "out", "--require-isolation")
    assert refused.returncode == 2, refused.stderr
    assert "--require-isolation: this machine cannot give:" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "out").exists()  # a refused option leaves OUT as it was (issue 22)


BELOW_FLOOR = ["setpriv", "--bounding-set", "-sys_admin,-setuid,-setgid", "--"]  # root that cannot change uid


def below_floor(*command, **run):
    """``command`` as root in a container that refuses namespaces, Landlock and setuid."""
    return subprocess.run([*BELOW_FLOOR, sys.executable, "-m", "grader", *command], cwd=KIT_ROOT,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "KATA_ISOLATION_MAX": "none"}, **run)


floor_shapes = pytest.mark.skipif(sys.platform != "linux" or os.geteuid() != 0 or not shutil.which("setpriv"),
                                  reason="the floor concerns root; its shapes are simulated with setpriv")


@floor_shapes
def test_below_the_floor_kata_grade_and_validate_refuse_in_one_line(one_student, tmp_path):
    graded = below_floor("grade", str(one_student), "--out", str(tmp_path / "out"), "--jobs", "1")
    assert graded.returncode == 2, graded.stderr
    assert graded.stderr.strip().count("\n") == 0, graded.stderr
    assert "refusing to grade: student code would run as root with no file-system confinement" in graded.stderr
    assert "--allow-unconfined" in graded.stderr and "Traceback" not in graded.stderr
    assert not (tmp_path / "out").exists()
    validated = below_floor("validate", "--jobs", "1")
    assert validated.returncode == 2, validated.stderr
    assert "kata validate: refusing to grade:" in validated.stderr and "Traceback" not in validated.stderr


@floor_shapes
def test_allow_unconfined_grades_below_the_floor_and_is_recorded(one_student, tmp_path):
    graded = below_floor("grade", str(one_student), "--out", str(tmp_path / "out"), "--jobs", "1",
                         "--timeout", "20", "--allow-unconfined")
    assert graded.returncode == 0, graded.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert results["kit"]["isolation"]["level"] == "none"
    assert results["kit"]["isolation"]["allow_unconfined"] is True
    assert results["submissions"][0]["status"] == "graded"


@floor_shapes
def test_below_the_floor_a_dask_worker_refuses_and_kata_grade_stops_in_one_line(one_student, tmp_path):
    pytest.importorskip("distributed")
    graded = below_floor("grade", str(one_student), "--out", str(tmp_path / "out"), "--scheduler", "local:1",
                         "--timeout", "20")
    assert graded.returncode == 2, graded.stderr
    assert "refusing to grade: student code would run as root with no file-system confinement" in graded.stderr
    assert "Traceback" not in graded.stderr
    assert not (tmp_path / "out" / "results.json").exists()
