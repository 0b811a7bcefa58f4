"""The demo class in examples/submissions grades to the scores its README promises."""

import json
import os
import subprocess
import sys

from grader.paths import KIT_ROOT

EXPECTED_SCORES = {"ana_garcia": 15, "bruno_diaz": 13, "carla_ruiz": 10, "diego_lopez": 2,
                   "elena_torres": 7, "felix_moreno": 12}


def test_the_demo_class_grades_as_its_readme_says(tmp_path):
    out = tmp_path / "report"
    run = subprocess.run([sys.executable, "-m", "grader", "grade", "examples/submissions", "--out",
                          str(out), "--jobs", "2"], cwd=KIT_ROOT, capture_output=True, text=True,
                         timeout=1800)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads((out / "results.json").read_text())
    if os.geteuid() == 0 and sys.platform.startswith("linux"):  # see test_isolation_report
        assert report["kit"]["isolation"] == {"level": "full", "missing": []}
    results = {s["id"]: s for s in report["submissions"]}
    assert {k: v["score"] for k, v in results.items() if v["status"] == "graded"} == EXPECTED_SCORES
    assert results["hugo_wrong_upload"]["status"] == "error"
    assert "no exercises/ folder" in results["hugo_wrong_upload"]["message"]
    bruno = results["bruno_diaz"]["todos"]
    assert bruno["4.3"]["status"] == "pass" and "deprecated" in bruno["4.3"]["message"]
    assert bruno["3.3"]["status"] == "fail" and "no model" in bruno["3.3"]["message"]
    assert results["ana_garcia"]["todos"]["B.1"]["status"] == "pass"
    assert "graded 6 submission(s), 1 broken" in run.stderr
