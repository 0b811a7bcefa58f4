"""The tiers of the kit's tests (kit_tests/tiers.py) stay true: every test file tests a
wing, every marker is registered in pytest.ini, every slow name names a test or a fixture
of its file (a renamed grading would silently join the fast tier), and ``-m`` selects
what it says."""

import configparser
import re
import subprocess
import sys

import tiers

from grader.core.paths import KIT_ROOT

KIT_TESTS = KIT_ROOT / "kit_tests"


def registered_markers() -> set[str]:
    ini = configparser.ConfigParser()
    ini.read(KIT_ROOT / "pytest.ini")
    return {line.split(":")[0].strip() for line in ini["pytest"]["markers"].splitlines() if line.strip()}


def test_every_kit_test_file_tests_a_wing_of_grader():
    files = {path.name for path in KIT_TESTS.glob("test_*.py")}
    assert files == set(tiers.WINGS), "files without a wing, or wings of files that are gone"
    packages = {path.parent.name for path in (KIT_ROOT / "grader").glob("*/__init__.py")}
    assert set(tiers.WINGS_ALL) == packages
    assert all(tiers.WINGS[name] and set(tiers.WINGS[name]) <= packages for name in files)
    assert {wing for wings in tiers.WINGS.values() for wing in wings} == packages  # each is tested


def test_every_marker_the_tiers_set_is_registered():
    assert registered_markers() >= {*tiers.WINGS_ALL, "slow", "kata"}


def test_every_slow_name_is_a_test_or_fixture_of_its_file():
    plugin = (KIT_ROOT / "grader" / "judge" / "plugin.py").read_text()  # its fixtures too
    for name, slow in tiers.SLOW.items():
        source = (KIT_TESTS / name).read_text()
        for entry in slow:
            assert entry == tiers.EVERY_TEST or re.search(rf"^def {entry}\(", source + plugin, re.M), (name, entry)
    for name in tiers.HEAVIEST_FIRST:
        assert (KIT_TESTS / name).is_file(), name


def collected(*args: str) -> set[str]:
    run = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", *args],
                         cwd=KIT_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return {line.split("::")[1].split("[")[0] for line in run.stdout.splitlines() if "::" in line}


def test_the_markers_select_what_the_tiers_say():
    files = ["kit_tests/test_seeds.py", "kit_tests/test_todos.py"]
    fast = collected(*files, "-m", "not slow")
    slow = collected(*files, "-m", "slow")
    graded_twice = "test_the_solutions_get_full_marks_and_the_same_verdicts_twice_under_one_seed"
    assert slow == {graded_twice}
    assert graded_twice not in fast and "test_a_fresh_seed_has_64_bits" in fast
    todos = set(re.findall(r"^def (test_\w+)\(", (KIT_TESTS / "test_todos.py").read_text(), re.M))
    assert collected(*files, "-m", "lab") == todos
    classroom = collected(*files, "-m", "classroom and not slow")
    assert "test_a_fresh_seed_has_64_bits" in classroom and not classroom & todos


# \x40 is '@': the fake file has a module fixture, this file none (tiers.GROUPED reads both)
GRADING_FILE = '''
import os
from pathlib import Path

import pytest

\x40pytest.fixture(scope="module")
def grading():
    with open(Path(os.environ["GRADINGS"]), "a") as gradings:
        gradings.write("graded\\n")
    return "graded once"

''' + "".join(f"def test_reads_the_grading_{n}(grading):\n    assert grading\n\n" for n in range(6))


def test_a_test_is_scheduled_with_its_files_grading_or_alone():
    assert "test_grade.py" in tiers.GROUPED and "test_todos.py" not in tiers.GROUPED
    assert tiers.unit_of("kit_tests/test_grade.py::test_x[a]") == "kit_tests/test_grade.py"
    assert tiers.unit_of("kit_tests/test_todos.py::test_x[a]") == "kit_tests/test_todos.py::test_x[a]"
    assert tiers.unit_of("tests/test_task1.py::test_a") == tiers.unit_of("tests/hidden/test_task2_hidden.py::b")
    assert tiers.unit_of("kit_tests/test_dask.py::test_ctrl_c_on_local_workers_stops_the_cluster_and_everything_"
                         "it_started") == "kit_tests/test_dask.py::local:2"
    for name, units in tiers.UNITS.items():
        source = (KIT_TESTS / name).read_text()
        assert name in tiers.GROUPED and all(re.search(rf"^def {test}\(", source, re.M) for test in units), name


def test_under_xdist_the_tests_of_one_file_grade_once(pytester, monkeypatch):
    """Without tiers.unit_of, xdist sends single tests to whichever worker is free, and
    each worker would grade again."""
    pytest = __import__("pytest")
    pytest.importorskip("xdist", reason="the test extra (pytest-xdist) is not installed")
    kit_tests = pytester.mkdir("kit_tests")
    for name in ("conftest.py", "tiers.py"):
        (kit_tests / name).write_text((KIT_TESTS / name).read_text())
    (kit_tests / "test_grading.py").write_text(GRADING_FILE)
    gradings = pytester.path / "gradings.txt"
    monkeypatch.setenv("GRADINGS", str(gradings))
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly", "-p", "no:cacheprovider",
                                           str(kit_tests))
    result.assert_outcomes(passed=6)
    assert gradings.read_text().splitlines() == ["graded"]
