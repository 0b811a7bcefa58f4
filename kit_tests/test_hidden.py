"""Hidden tests (``tests/hidden/``): the instructor's extra inputs per TODO. The runner
takes them only when asked (``kata grade``, ``kata validate``, the Gradescope bundle),
never for ``kata check`` or a student's ``pytest tests/test_task1.py``; they count for
their TODO; and a student tuned to the public inputs fails them.

That they pass on the solutions and fail on the stub of their own TODO only (the
isolation diagonal, the mistake matrix) is ``kata validate``'s proof
(``test_validate.py``), whose runs include them."""

import ast

import pytest

import grader.judge.runner
import grader.authoring.validate
from grader.student.check import check
from grader.core.paths import SOLUTIONS_DIR, TESTS_DIR
from grader.results.model import KataRun
from grader.judge.runner import HIDDEN_TESTS_DIR, hidden_test_file, kata_test_files, run_kata
from grader.lab.todos import TASK_TEST_FILES, load_tasks, todo_by_id


def todo_markers(path):
    """``{test function name: [TODO ids of its todo markers]}``, read from the source."""
    found = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            found[node.name] = [decorator.args[0].value for decorator in node.decorator_list
                                if isinstance(decorator, ast.Call)
                                and ast.unparse(decorator.func) == "pytest.mark.todo"]
    return found


def test_every_task_but_the_bonus_has_hidden_tests_each_marked_with_one_todo_of_its_task():
    for task in load_tasks():
        path = hidden_test_file(task.number)
        assert path.parent == HIDDEN_TESTS_DIR == TESTS_DIR / "hidden"
        if task.bonus and not path.is_file():
            continue
        assert path.is_file(), f"task {task.name} has no hidden tests ({path.name})"
        markers = todo_markers(path)
        assert markers, f"{path.name} holds no test"
        for name, ids in markers.items():
            assert len(ids) == 1, f"{path.name}::{name} needs exactly one todo marker, has {ids}"
            assert todo_by_id()[ids[0]].task == task.number, f"{path.name}::{name}: {ids[0]}"
    assert sorted(path.name for path in HIDDEN_TESTS_DIR.glob("test_*.py")) == sorted(
        hidden_test_file(task.number).name for task in load_tasks()
        if hidden_test_file(task.number).is_file()), "a hidden file no task owns would never run"


def test_the_runner_adds_each_tasks_hidden_file_after_its_public_one_only_when_asked():
    public = [TESTS_DIR / TASK_TEST_FILES[task] for task in sorted(TASK_TEST_FILES)]
    assert kata_test_files() == public
    with_hidden = kata_test_files(hidden=True)
    assert [path for path in with_hidden if path.parent == TESTS_DIR] == public
    for task in (1, 2, 3, 4):
        at = with_hidden.index(TESTS_DIR / TASK_TEST_FILES[task])
        assert with_hidden[at + 1] == hidden_test_file(task)
    assert kata_test_files([2], hidden=True) == [TESTS_DIR / "test_task2.py",
                                                 HIDDEN_TESTS_DIR / "test_task2_hidden.py"]


@pytest.fixture
def pytest_args(monkeypatch):
    """The arguments ``run_kata`` gives pytest (which is not run)."""
    calls = []

    def fake_main(args, plugins=()):
        calls.append(list(args))
        return 0

    monkeypatch.setattr(grader.judge.runner.pytest, "main", fake_main)
    return calls


def hidden_in(args):
    return [arg for arg in args if str(HIDDEN_TESTS_DIR) in arg]


def test_run_kata_gives_pytest_the_hidden_files_only_with_hidden(tmp_path, pytest_args):
    run_kata(tmp_path, tasks=[1, 3])
    run_kata(tmp_path, tasks=[1, 3], hidden=True)
    assert hidden_in(pytest_args[0]) == []
    assert hidden_in(pytest_args[1]) == [str(hidden_test_file(1)), str(hidden_test_file(3))]


def test_kata_check_never_runs_hidden_tests(tmp_path, pytest_args, capsys):
    check(tmp_path, None, "en", "json")  # the JSON format, positional as in every version
    check(tmp_path, [4], "es", "json")
    assert len(pytest_args) == 2 and not any(hidden_in(args) for args in pytest_args)
    assert capsys.readouterr().out.count('"todos"') == 2  # it did print its verdicts


def test_every_run_of_kata_validate_is_a_job_for_the_kata_workers(monkeypatch):
    seen = []
    monkeypatch.setattr(grader.authoring.validate, "run_jobs",
                        lambda jobs, workers, scratch, progress, allow_unconfined=False: seen.extend(jobs) or
                        {job.label: KataRun({}, 0.0) for job in jobs})
    grader.authoring.validate.validate()
    assert len(seen) > 2 and {job.label for job in seen} >= {"reference solutions", "stubs"}


def test_a_kata_validate_job_includes_the_hidden_tests(tmp_path):
    """Only the hidden 1.2 test catches this variant."""
    (tmp_path / "variant").mkdir()
    (tmp_path / "variant" / "task1_baseline.py").write_text(tuned_to_the_public_inputs(), encoding="utf-8")
    (tmp_path / "scratch").mkdir()
    runs = grader.authoring.validate.run_jobs([grader.authoring.validate.Job("tuned", tmp_path / "variant", [1])], 1,
                                    tmp_path / "scratch", lambda message: None)
    assert runs["tuned"].todos["1.2"].status == "fail", runs["tuned"]
    assert "an earlier attempt left" in runs["tuned"].todos["1.2"].message


def tuned_to_the_public_inputs() -> str:
    """Task 1 returning the newest run of the experiment instead of its own."""
    source = (SOLUTIONS_DIR / "task1_baseline.py").read_text(encoding="utf-8")
    returned = "    return run.info.run_id if run else None\n"
    assert source.count(returned) == 1
    return source.replace(returned, (
        "    newest = mlflow.search_runs(experiment_names=[experiment_name],\n"
        "                                order_by=['attributes.start_time DESC'])\n"
        "    return newest.iloc[0]['run_id']\n"))


def test_a_student_tuned_to_the_public_inputs_passes_them_and_fails_the_hidden_test(tmp_path):
    """Returning the newest run of the experiment passes the public 1.2 test (a fresh
    experiment holds only the new run), not the hidden one (an earlier attempt's run,
    started later, is there)."""
    (tmp_path / "task1_baseline.py").write_text(tuned_to_the_public_inputs(), encoding="utf-8")
    only_1_2 = ["-k", "returned"]  # the public and the hidden test of TODO 1.2
    public = run_kata(tmp_path, tasks=[1], extra_args=only_1_2)
    graded = run_kata(tmp_path, tasks=[1], extra_args=only_1_2, hidden=True)
    assert public.todos["1.2"].status == "pass", public.todos["1.2"].message
    assert graded.todos["1.2"].status == "fail"
    assert graded.todos["1.2"].message.startswith("TODO 1.2: expected the id of the new run, but got")
    assert "an earlier attempt left" in graded.todos["1.2"].message
