"""Hostile or broken student code costs exactly its own TODOs.

Each case runs ``kata check`` on tasks 1 and 2 in a throw-away copy of the kit (a
hostile file may try to damage the kit), with one hostile file per task.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from grader.core.paths import KIT_ROOT
from grader.authoring.stubgen import render

SOLUTIONS = KIT_ROOT / "solutions"
TASK1, TASK2 = "task1_baseline.py", "task2_tuning.py"
TASK1_IDS, TASK2_IDS = ["1.1", "1.2", "1.3", "1.4"], ["2.1", "2.2", "2.3", "2.4"]


def solution(name):
    return render((SOLUTIONS / name).read_text(), stub_ids=())


def stub(name):
    return render((SOLUTIONS / name).read_text())


def prepend_to_function(source, function, code):
    """Insert ``code`` right after the docstring of ``function`` (one line or several: the
    student files' docstrings are bilingual)."""
    import ast

    lines = source.splitlines(keepends=True)
    node = next(node for node in ast.parse(source).body
                if isinstance(node, ast.FunctionDef) and node.name == function)
    docstring_end = node.body[0].end_lineno  # the docstring is the function's first statement
    indented = textwrap.indent(textwrap.dedent(code).strip("\n") + "\n", "    ")
    return "".join(lines[:docstring_end]) + indented + "".join(lines[docstring_end:])


LOOP = prepend_to_function(solution(TASK1), "log_baseline_run", "while True:\n    pass\n")
MEMORY_HOG = prepend_to_function(solution(TASK1), "log_baseline_run",
                                 "hog = bytearray(8 * 1024 ** 3)\n")
DAEMON = prepend_to_function(solution(TASK2), "tune_random_forest", """
    import subprocess
    subprocess.Popen(["sleep", "4242"], start_new_session=True)
""")
VANDAL = prepend_to_function(solution(TASK1), "log_baseline_run", """
    import pathlib, labkit
    kit = pathlib.Path(labkit.__file__).resolve().parent.parent
    for test in (kit / "tests").glob("test_*.py"):
        try:
            test.write_text("def test_everything_passes():\\n    pass\\n")
        except OSError:
            pass
    for folder in (pathlib.Path.cwd(), kit):
        try:
            (folder / "results.json").write_text('{"score": 15}')
        except OSError:
            pass
    print("=========== 17 passed in 0.01s ===========")
""")
PATCH_PYTEST = """
import pytest, _pytest.outcomes
pytest.fail = _pytest.outcomes.fail = lambda *args, **kwargs: None
pytest.main = lambda *args, **kwargs: 0
"""

CASES = {
    "an infinite loop times out": (
        {TASK1: LOOP, TASK2: solution(TASK2)}, {"1": "timeout", "2": "pass"}, "did not return"),
    "os._exit at import and a syntax error are errors": (
        {TASK1: "import os\nos._exit(0)\n", TASK2: "def tune_random_forest(:\n"},
        {"1": "error", "2": "error"}, "exited with code 0"),
    "an 8 GiB allocation fails with MemoryError; a leftover daemon is killed": (
        {TASK1: MEMORY_HOG, TASK2: DAEMON}, {"1": "error", "2": "pass"}, "MemoryError"),
    "vandalising the kit and patching pytest change nothing": (
        {TASK1: VANDAL, TASK2: PATCH_PYTEST + stub(TASK2)}, {"1": "pass", "2": "fail"},
        "TODO 2.1: expected param n_estimators"),  # the stub's own verdict: pytest.fail unpatched
}


@pytest.fixture
def kit_copy(tmp_path):
    copy = tmp_path / "kit"
    # Not the virtualenv CI makes inside the clone (~1 GB): the copy runs on this interpreter.
    shutil.copytree(KIT_ROOT, copy, ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__",
                                                                  ".pytest_cache", "report*"))
    return copy


def leftover_sleepers():
    found = subprocess.run(["pgrep", "-f", "sleep 4242"], capture_output=True, text=True)
    return found.stdout.split()


@pytest.mark.parametrize("case_name", CASES)
def test_hostile_code_costs_only_its_own_todos(case_name, kit_copy):
    files, expected, first_message_contains = CASES[case_name]
    exercises = kit_copy / "submission"
    exercises.mkdir()
    for name, source in files.items():
        (exercises / name).write_text(source)
    checked = subprocess.run(
        [sys.executable, "-m", "grader", "check", "--exercises", str(exercises), "--task", "1",
         "--task", "2", "--json", "--timeout", "5"],
        cwd=kit_copy, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(kit_copy)},
    )
    report = json.loads(checked.stdout[checked.stdout.index("{"):])
    statuses = {todo_id: todo["status"] for todo_id, todo in report["todos"].items()}
    assert statuses == {**{t: expected["1"] for t in TASK1_IDS}, **{t: expected["2"] for t in TASK2_IDS}}
    messages = " ".join(todo["message"] for todo in report["todos"].values())
    assert first_message_contains in messages
    for todo_id, todo in report["todos"].items():
        if todo["status"] != "pass":
            assert todo["message"].startswith(f"TODO {todo_id}:"), todo
    assert not leftover_sleepers()
    if os.geteuid() == 0:  # children run as nobody: the kit's files are out of their reach
        for test in (kit_copy / "tests").glob("test_*.py"):
            assert test.read_bytes() == (KIT_ROOT / "tests" / test.name).read_bytes()
    assert sorted(p.name for p in exercises.iterdir()) == sorted(files)  # submission untouched
