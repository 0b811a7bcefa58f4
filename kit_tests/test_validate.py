"""``kata validate --json``: solutions pass, stubs fail for the right reason, the
isolation matrix is diagonal for all 17 TODOs, and every mistake of the mistake matrix
costs exactly the TODOs it declares (the kit's strongest self-check). Plus cheap tests
of the mistakes' loader."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.authoring.mistakes import MISTAKES_FILE, MistakeError, load_mistakes
from grader.core.paths import KIT_ROOT
from grader.lab.todos import load_todos



def test_kata_validate_reports_passing_solutions_failing_stubs_a_diagonal_matrix_and_caught_mistakes(
        served_model_env):
    run = subprocess.run([sys.executable, "-m", "grader", "validate", "--json"], cwd=KIT_ROOT,
                         capture_output=True, text=True, timeout=1800, env={**os.environ, **served_model_env})
    verdict = json.loads(run.stdout)
    assert set(verdict) == {"solutions_pass", "stubs_fail", "isolation", "mistakes"}
    assert verdict["solutions_pass"] is True, run.stderr[-2000:]
    assert verdict["stubs_fail"] is True, run.stderr[-2000:]
    assert verdict["isolation"] == {todo.id: [todo.id] for todo in load_todos()}
    declared = {m.name: list(m.expected) for m in load_mistakes()}
    assert {name: row["expected"] for name, row in verdict["mistakes"].items()} == declared
    costs = {name: row["failed"] for name, row in verdict["mistakes"].items()}
    assert costs == declared, "mistakes whose cost differs from what they declare: " + ", ".join(
        f"{name!r} failed {costs[name]}, expected {declared[name]}"
        for name in declared if costs.get(name) != declared[name])
    assert run.returncode == 0


def test_the_mistake_matrix_covers_every_task_twice_and_has_twelve_mistakes():
    mistakes = load_mistakes()
    per_task = {todo.task: 0 for todo in load_todos()}
    for mistake in mistakes:
        per_task[mistake.task] += 1
    assert len(mistakes) >= 12
    assert all(count >= 2 for count in per_task.values()), per_task


def write_solutions(folder: Path, text: str) -> Path:
    folder.mkdir()
    (folder / "task1_baseline.py").write_text(text, encoding="utf-8")
    return folder


def mistakes_file(tmp_path: Path, find: str, expected: str = '["1.2"]') -> Path:
    path = tmp_path / "mistakes.toml"
    path.write_text(f'''
[[mistake]]
name = "crash"
file = "task1_baseline.py"
what = "A typo on the last line."
find = {json.dumps(find)}
replace = "return None"
expected = {expected}
''', encoding="utf-8")
    return path


SOLUTION = "def f():\n    x = 1\n    return x\n"


@pytest.mark.parametrize("text, times", [(SOLUTION.replace("x", "y"), 0),
                                         (SOLUTION + "\n\n" + SOLUTION.replace("f(", "g("), 2)])
def test_the_loader_rejects_a_find_text_that_does_not_occur_exactly_once(tmp_path, text, times):
    solutions = write_solutions(tmp_path / "solutions", text)
    with pytest.raises(MistakeError, match=f"'crash'.*occurs {times} times.*exactly once"):
        load_mistakes(mistakes_file(tmp_path, "return x"), solutions)


def test_the_loader_rejects_an_unknown_todo_and_a_todo_of_another_task(tmp_path):
    solutions = write_solutions(tmp_path / "solutions", SOLUTION)
    with pytest.raises(MistakeError, match=r"'crash'.*TODO 9\.9 is not in todos\.toml"):
        load_mistakes(mistakes_file(tmp_path, "return x", '["1.2", "9.9"]'), solutions)
    with pytest.raises(MistakeError, match=r"'crash'.*TODO 2\.1 is not a TODO of task1_baseline\.py"):
        load_mistakes(mistakes_file(tmp_path, "return x", '["2.1"]'), solutions)


def test_the_loader_accepts_a_well_formed_mistake_and_the_kits_file(tmp_path):
    solutions = write_solutions(tmp_path / "solutions", SOLUTION)
    (mistake,) = load_mistakes(mistakes_file(tmp_path, "return x"), solutions)
    assert (mistake.task, mistake.expected) == (1, ("1.2",))
    assert mistake.apply(SOLUTION) == "def f():\n    x = 1\n    return None\n"
    assert load_mistakes(MISTAKES_FILE)  # the kit's own file fits today's solutions
