"""The demo class in examples/submissions grades to the scores its README promises, and
one student's verdicts are the same locally, on Gradescope and in GitHub Classroom."""

import json
import os
import re
import subprocess
import sys

import golden
import pytest
from test_gradescope import autograder_tree, results_of, run_autograder

from grader.core.paths import KIT_ROOT

EXPECTED_SCORES = {"ana_garcia": 15, "bruno_diaz": 13, "carla_ruiz": 10, "diego_lopez": 2,
                   "elena_torres": 7, "felix_moreno": 12}
SEED = "demo-class"  # one seed for every path, so every path draws the same inputs


@pytest.fixture(scope="module")
def graded(tmp_path_factory, served_model_env):
    out = tmp_path_factory.mktemp("report")
    run = subprocess.run([sys.executable, "-m", "grader", "grade", "examples/submissions", "--out",
                          str(out), "--jobs", "2", "--seed", SEED], cwd=KIT_ROOT, capture_output=True,
                         text=True, timeout=1800, env={**os.environ, **served_model_env})
    assert run.returncode == 0, run.stderr[-2000:]
    return run, json.loads((out / "results.json").read_text())


def test_the_demo_class_grades_as_its_readme_says(graded):
    run, report = graded
    if os.geteuid() == 0 and sys.platform.startswith("linux"):  # see test_isolation_report
        assert report["kit"]["isolation"] == {"level": "full", "missing": []}
    assert report["kit"]["seed"] == SEED
    results = {s["id"]: s for s in report["submissions"]}
    assert {k: v["score"] for k, v in results.items() if v["status"] == "graded"} == EXPECTED_SCORES
    assert results["hugo_wrong_upload"]["status"] == "error"
    assert "no exercises/ folder" in results["hugo_wrong_upload"]["message"]
    bruno = results["bruno_diaz"]["todos"]
    assert bruno["4.3"]["status"] == "pass" and "deprecated" in bruno["4.3"]["message"]
    assert bruno["3.3"]["status"] == "fail" and "no model" in bruno["3.3"]["message"]
    assert results["ana_garcia"]["todos"]["B.1"]["status"] == "pass"
    assert "graded 6 submission(s), 1 broken" in run.stderr


def todo_id(name: str) -> str:
    return re.match(r"TODO (\S+):", name).group(1)


def test_a_students_verdicts_are_the_same_locally_on_gradescope_and_in_classroom(graded, tmp_path, served_model_env):
    """bruno_diaz (passes, fails and a pass with feedback, in every task) through the three
    paths a course may use, all with the same seed."""
    exercises = KIT_ROOT / "examples" / "submissions" / "bruno_diaz" / "exercises"
    local = {todo: result["status"] for todo, result in
             {s["id"]: s for s in graded[1]["submissions"]}["bruno_diaz"]["todos"].items()}
    assert set(local.values()) >= {"pass", "fail"}

    bundle = tmp_path / "bundle.zip"
    subprocess.run([sys.executable, "-m", "grader", "export", "gradescope", "--out", str(bundle),
                    "--seed", SEED], cwd=KIT_ROOT, check=True, capture_output=True, timeout=300)
    root = autograder_tree(tmp_path, bundle)
    (root / "submission" / "exercises").mkdir()
    for path in exercises.glob("*.py"):
        (root / "submission" / "exercises" / path.name).write_bytes(path.read_bytes())
    run_autograder(root, served=served_model_env)
    gradescope = {todo_id(test["name"]): test["extra_data"]["kata_status"]
                  for test in results_of(root)["tests"]}

    check = subprocess.run([sys.executable, "-m", "grader", "check", "--format", "classroom-json",
                            "--seed", SEED, "--exercises", str(exercises)], cwd=KIT_ROOT,
                           capture_output=True, text=True, timeout=600,
                           env={**os.environ, "KATA_WARM": "0", **served_model_env})
    classroom = {todo_id(test["name"]): test["status"] for test in json.loads(check.stdout)["tests"]}

    assert gradescope == local
    assert classroom == {todo: {"timeout": "error"}.get(status, status) for todo, status in local.items()}


def test_the_demo_class_results_match_the_golden_file(graded):
    """Every verdict, score and message of the demo class, masked (kit_tests/golden.py):
    a change shows as a diff of kit_tests/demo_class.golden.json in review. After an
    intended change: ``KATA_UPDATE_GOLDEN=1 pytest kit_tests/test_demo_class.py -k golden``."""
    diff = golden.difference(graded[1])
    assert not diff, "the demo class's results differ from the golden file:\n" + diff[:6000]


def test_the_golden_mask_hides_what_varies_and_keeps_every_verdict(tmp_path):
    """Two runs differing only in times, versions, hashes, the seed and secret-keyed names
    compare equal; a changed status, score or message does not."""
    run = json.loads(golden.GOLDEN.read_text(encoding="utf-8"))
    run["kit"].update(mlflow="9.9", python="3.99", tests_sha256="f" * 64, seed="other",
                      isolation={"level": "partial", "missing": ["landlock"]})
    carla = next(s for s in run["submissions"] if s["id"] == "carla_ruiz")
    carla["duration_s"] = 1.5
    carla["files_sha256"] = "a" * 64  # the hash of the task files as staged
    carla["todos"]["4.1"]["duration_s"] = 0.25
    carla["todos"]["4.1"]["message"] = carla["todos"]["4.1"]["message"].replace("<key>", "0a1b2c")
    assert "-0a1b2c'" in carla["todos"]["4.1"]["message"]
    fields = "'dataframe_records', 'dataframe_split', 'inputs', 'instances'"
    assert fields in carla["todos"]["B.1"]["message"]  # a set MLflow printed, in another order
    carla["todos"]["B.1"]["message"] = carla["todos"]["B.1"]["message"].replace(
        fields, "'inputs', 'dataframe_records', 'instances', 'dataframe_split'")
    assert golden.difference(run, may_update=False) == ""
    for change in (lambda: carla["todos"]["4.1"].update(status="pass"), lambda: carla.update(score=11),
                   lambda: carla["todos"]["3.3"].update(message=carla["todos"]["3.3"]["message"] + "!")):
        changed = json.loads(json.dumps(run))
        carla = next(s for s in changed["submissions"] if s["id"] == "carla_ruiz")
        change()
        assert golden.difference(changed, may_update=False).count("\n-") >= 1
