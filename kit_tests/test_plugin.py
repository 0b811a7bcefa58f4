"""The kata pytest plugin, tested with pytester like any pytest plugin."""

import sys

import pytest

# pytester's in-process runs forget the modules each run imported, and some cannot be
# imported twice in a process (numpy's core; SQLAlchemy's classes, seen as two copies): what
# the plugin and a test's store need is imported here, once, as a whole suite's earlier
# tests do (test_plugin.py alone failed three of its tests).
import grader.judge.plugin  # noqa: F401,E402
import mlflow.store.model_registry.sqlalchemy_store  # noqa: F401,E402
import mlflow.store.tracking.sqlalchemy_store  # noqa: F401,E402
from grader.judge.store import cache_dir  # noqa: E402

# The kit's cache as this process found it, before pytester gives each test a HOME of its
# own: the stores of in-process kata runs must be copies of this template, the one whose
# schema the judge keeps for the process (grader.judge.store.template_schema); a template
# built again under another HOME may list a table's constraints in another order.
KIT_CACHE = cache_dir()


@pytest.fixture
def kata_pytester(pytester):
    pytester.makeconftest('pytest_plugins = ["grader.judge.plugin"]')
    return pytester


def test_a_kata_test_without_a_todo_marker_fails_with_a_clear_reason(kata_pytester):
    kata_pytester.makepyfile(test_unmarked="def test_something(case):\n    pass\n")
    result = kata_pytester.runpytest()
    result.stdout.fnmatch_lines(["*needs exactly one @pytest.mark.todo*found none*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_an_unknown_todo_id_fails_with_a_clear_reason(kata_pytester):
    kata_pytester.makepyfile(test_unknown=(
        "import pytest\n\n@pytest.mark.todo('9.9')\ndef test_something(case):\n    pass\n"))
    result = kata_pytester.runpytest()
    assert "found ['9.9']" in result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_the_options_and_the_marker_are_documented(kata_pytester):
    help_text = kata_pytester.runpytest("--help").stdout.str()
    for option in ("--exercises", "--kata-timeout", "--kata-memory", "--kata-seed"):
        assert option in help_text
    markers = kata_pytester.runpytest("--markers").stdout.str()
    assert "@pytest.mark.todo(id)" in markers


def verdicts(pytester, source: str) -> dict:
    """Run one kata-style test file in-process; return the runner's per-TODO verdicts."""
    from grader.judge.runner import TodoCollector

    pytester.makepyfile(test_kata=source)
    collector = TodoCollector()
    pytester.inline_run(plugins=[collector])
    return {todo_id: (result.status, result.message) for todo_id, result in collector.todos.items()}


def test_an_exception_in_kit_code_is_a_kit_error_not_the_students_fail(kata_pytester):
    found = verdicts(kata_pytester, (
        "import pytest\n\n"
        "@pytest.mark.todo('1.1')\ndef test_seeding_breaks():\n    raise RuntimeError('seed store gone')\n\n"
        "@pytest.mark.todo('1.2')\ndef test_a_bare_assert():\n    assert 500 == 200, 'server said no'\n\n"
        "@pytest.mark.todo('1.3')\ndef test_a_verdict():\n    pytest.fail('TODO 1.3: expected x, but MLflow holds y', pytrace=False)\n"))
    assert found["1.1"] == ("error", "TODO 1.1: kit error: RuntimeError: seed store gone "
                            "(not your code: tell your instructor / no es tu código: avisa a tu profesor)")
    assert found["1.2"][0] == "error" and found["1.2"][1].startswith("TODO 1.2: kit error: AssertionError: server said no")
    assert found["1.3"] == ("fail", "TODO 1.3: expected x, but MLflow holds y")


def test_a_store_the_students_code_left_unreadable_is_its_error_not_a_kit_error(kata_pytester):
    found = verdicts(kata_pytester, (
        "import pytest\nfrom mlflow.exceptions import MlflowException\n\n"
        "@pytest.mark.todo('1.1')\ndef test_after_student_code(case):\n"
        "    case.student_ran = True  # as after case.call(...)\n"
        "    raise MlflowException('file is not a database')\n\n"
        "@pytest.mark.todo('1.2')\ndef test_before_any_student_code(case):\n"
        "    raise MlflowException('file is not a database')\n"))
    assert found["1.1"] == ("error", "TODO 1.1: MLflow could not read what the code under test left "
                            "in its store: MlflowException: file is not a database")
    assert found["1.2"][0] == "error" and "kit error: MlflowException" in found["1.2"][1]


# -- what next, after a green `pytest tests/test_taskN.py` ------------------------------------

def test_only_a_whole_green_run_of_task_files_typed_by_the_student_says_what_is_next():
    from types import SimpleNamespace

    from grader.judge.plugin import COLLECTED, green_tasks

    def config(collected, args=("tests/test_task1.py",), plugins=None):
        return SimpleNamespace(stash={COLLECTED: collected}, args=list(args),
                               invocation_params=SimpleNamespace(plugins=plugins))

    def passed(file, count):
        return [SimpleNamespace(nodeid=f"tests/{file}::test_{i}", when="call") for i in range(count)]

    task1 = {"test_task1.py": 5}
    assert green_tasks(config(task1), {"passed": passed("test_task1.py", 5)}, 0) == [1]
    both = {"test_task1.py": 5, "test_bonus.py": 3}
    stats = {"passed": passed("test_task1.py", 5) + passed("test_bonus.py", 3)}
    assert green_tasks(config(both, ("tests",)), stats, 0) == [1, 5]
    assert green_tasks(config(task1), {"passed": passed("test_task1.py", 4)}, 0) == []  # one did not pass
    assert green_tasks(config(task1), {"passed": passed("test_task1.py", 5)}, 1) == []  # failed
    for other in ("failed", "error", "deselected", "skipped"):  # -k, -m, --lf select part of it
        assert green_tasks(config(task1), {"passed": passed("test_task1.py", 5), other: [object()]}, 0) == []
    assert green_tasks(config(task1, ("tests/test_task1.py::test_0",)), {"passed": passed("test_task1.py", 5)}, 0) == []
    assert green_tasks(config(None), {"passed": passed("test_task1.py", 5)}, 0) == []  # kit tests ran too
    assert green_tasks(config({}), {}, 0) == []
    # kata check and the warm judge run pytest with plugin objects: they say what is next themselves
    assert green_tasks(config(task1, plugins=[object()]), {"passed": passed("test_task1.py", 5)}, 0) == []


def test_a_green_pytest_of_a_task_file_ends_with_what_is_next():
    """One real run, as a student types it (the solutions of task 1)."""
    import os
    import subprocess
    import sys

    from grader.core.paths import KIT_ROOT, SOLUTIONS_DIR

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_task1.py", "--exercises", str(SOLUTIONS_DIR),
         "-p", "no:cacheprovider", "--kata-lang", "es"],
        cwd=KIT_ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "KATA_WARM": "0", "PYTHONPATH": str(KIT_ROOT)})
    assert done.returncode == 0, done.stdout[-3000:]
    lines = done.stdout.splitlines()
    assert "✓ La tarea 1 está en verde. Siguiente: la tarea 2, pytest tests/test_task2.py" in lines[-3:]
    assert done.stdout.count("está en verde") == 1


def task1_verdicts(pytester, monkeypatch, tmp_path, top: str) -> dict:
    """Task 1's kata tests, run in-process on the reference solution with ``top`` right
    after its ``import mlflow``, each call given 20 s: each TODO's (status, message, seconds)."""
    from grader.core.paths import SOLUTIONS_DIR

    source = (SOLUTIONS_DIR / "task1_baseline.py").read_text()
    assert source.count("\nimport mlflow\n") == 1
    return kata_verdicts(pytester, monkeypatch, tmp_path, 1,
                         source.replace("\nimport mlflow\n", f"\nimport mlflow\n{top}\n"))


def kata_verdicts(pytester, monkeypatch, tmp_path, task: int, source: str) -> dict:
    """Task ``task``'s kata tests, run in-process on its student file ``source``, each call
    given 20 s: each TODO's (status, message, seconds)."""
    collector = kata_run(pytester, monkeypatch, tmp_path, task, source)
    return {todo_id: (result.status, result.message, collector.durations[todo_id])
            for todo_id, result in collector.todos.items()}


def kata_run(pytester, monkeypatch, tmp_path, task: int, source: str, extra_test: str = ""):
    """``kata_verdicts``'s run (with ``extra_test``'s code after the task's tests): its
    ``TodoCollector``, and the run's (passed, skipped, failed) reports as ``outcomes``."""
    from grader.core.paths import KIT_ROOT
    from grader.judge.runner import TodoCollector
    from grader.lab.todos import task_by_number

    assert KIT_CACHE.name == "mlflow-kata"
    monkeypatch.setenv("XDG_CACHE_HOME", str(KIT_CACHE.parent))

    facts = task_by_number()[task]
    exercises = tmp_path / "exercises"
    exercises.mkdir()
    (exercises / f"{facts.module}.py").write_text(source)
    test_module = facts.test_file.removesuffix(".py")
    pytester.makeconftest('pytest_plugins = ["grader.judge.plugin"]')
    pytester.makepyfile(**{test_module: (KIT_ROOT / "tests" / facts.test_file).read_text() + extra_test})
    collector = TodoCollector()
    # this process may have imported the kit's own test file (the kata tests under xdist):
    # the in-process run imports its copy under the same name
    monkeypatch.delitem(sys.modules, test_module, raising=False)
    collector.outcomes = pytester.inline_run(f"--exercises={exercises}", "--kata-timeout=20", "-p", "no:randomly",
                                             "-p", "no:cacheprovider", plugins=[collector]).listoutcomes()
    return collector


def own_store_line() -> int:
    """The line the code ``task1_verdicts`` adds is on."""
    from grader.core.paths import SOLUTIONS_DIR

    lines = (SOLUTIONS_DIR / "task1_baseline.py").read_text().splitlines()
    return lines.index("import mlflow") + 2


@pytest.mark.parametrize("address", ["http://127.0.0.1:5000", "sqlite:///mlflow.db"])
def test_a_tracking_address_the_students_code_sets_is_named_at_once_on_each_todo(pytester, monkeypatch, tmp_path,
                                                                                 address):
    """MLflow's tutorials start with ``mlflow.set_tracking_uri(...)``: a student who copies
    it is told so on each TODO, in one message, at once. It was a 60-s time-out per call
    for a server (MLflow retries it), "MLflow holds no run" for a file of its own."""
    found = task1_verdicts(pytester, monkeypatch, tmp_path, f"mlflow.set_tracking_uri({address!r})")
    expected = (f"your code sets its own tracking address (mlflow.set_tracking_uri({address!r}), "
                f"task1_baseline.py, line {own_store_line()}): remove it — the tests give each call an "
                "MLflow store of its own")
    assert sorted(found) == ["1.1", "1.2", "1.3", "1.4"], found
    for todo_id, (status, message, seconds) in found.items():
        assert status == "error" and message == f"TODO {todo_id}: {expected}", found
        assert seconds < 15, found  # refused at once: no call waits for its 20 s


def test_setting_the_store_the_call_was_given_costs_nothing(pytester, monkeypatch, tmp_path):
    found = task1_verdicts(pytester, monkeypatch, tmp_path, (
        'import os\n'
        'os.environ["MLFLOW_TRACKING_URI"] = os.environ["MLFLOW_TRACKING_URI"]\n'
        'mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])'))
    assert {todo_id: status for todo_id, (status, _message, _seconds) in found.items()} == {
        "1.1": "pass", "1.2": "pass", "1.3": "pass", "1.4": "pass"}, found


TAGS = 'mlflow.set_tags({"task": "hyperparameter-tuning", "model_family": "RandomForest"})'


def test_a_raise_in_todo_2_4s_code_costs_2_4_alone_and_names_its_line(pytester, monkeypatch, tmp_path):
    """Issue 21: ``mlflow.set_tags("task", "hyperparameter-tuning")`` in TODO 2.4 failed all four
    TODOs of task 2, each saying the function raised, and ``kata check`` put it on TODO 2.1 with
    2.1's hint. Now 2.4 fails, naming its line and code, and 2.1–2.3 pass on a replay of the
    call without that line (the mistake matrix has the same line dedented out of the ``with``)."""
    from grader.authoring.stubgen import render
    from grader.core.paths import SOLUTIONS_DIR

    finished = render((SOLUTIONS_DIR / "task2_tuning.py").read_text(), stub_ids=(), comments=True)
    source = finished.replace(TAGS, 'mlflow.set_tags("task", "hyperparameter-tuning")')
    assert source != finished
    line = next(number for number, text in enumerate(source.splitlines(), 1) if "mlflow.set_tags(" in text)
    # 2.1 makes the call and its replay without 2.4's line; 2.2 and 2.3 share both, 2.4 the call
    shared = "\n\ndef test_zz_the_call_and_its_replay_were_shared(shared_calls):\n    assert shared_calls.hits == 5\n"
    collector = kata_run(pytester, monkeypatch, tmp_path, 2, source, shared)
    found = {todo_id: (result.status, result.message) for todo_id, result in collector.todos.items()}
    assert {todo_id: status for todo_id, (status, _message) in found.items()} == {
        "2.1": "pass", "2.2": "pass", "2.3": "pass", "2.4": "error"}, found
    passed, _skipped, failed = collector.outcomes
    assert (len(passed), [report.nodeid.rpartition("::")[2] for report in failed]) == (
        4, ["test_each_run_is_tagged_with_task_and_model_family"]), failed
    assert found["2.4"][1].startswith(
        f"TODO 2.4: your code for this TODO raised at task2_tuning.py, line {line} "
        """(`mlflow.set_tags("task", "hyperparameter-tuning")`): AttributeError: 'str' object has no """
        "attribute 'items'"), found["2.4"]


def test_a_syntax_error_is_its_todos_and_every_other_todo_of_the_file_waits_for_it(pytester, monkeypatch, tmp_path):
    """Issue 21: a SyntaxError in TODO 2.3's code was put on TODO 2.1 (``kata check``: "your
    code for TODO 2.1 does not run", 2.1's hint). Now 2.3's failure says the line is its code,
    each other TODO waits for 2.3 (its hint shown), and what to fix next is 2.3."""
    from grader.authoring.stubgen import render
    from grader.core.paths import SOLUTIONS_DIR
    from grader.results.model import KataRun

    finished = render((SOLUTIONS_DIR / "task2_tuning.py").read_text(), stub_ids=(), comments=True)
    source = finished.replace("mlflow.log_metrics(metrics)", "mlflow.log_metrics(metrics", 1)
    line = next(number for number, text in enumerate(source.splitlines(), 1) if "log_metrics(" in text)
    todos = kata_run(pytester, monkeypatch, tmp_path, 2, source).todos
    error = f"task2_tuning.py could not be imported: SyntaxError: '(' was never closed (line {line})"
    assert todos["2.3"].message == f"TODO 2.3: {error} — in your code for this TODO", todos["2.3"]
    for todo_id in ("2.1", "2.2", "2.4"):
        assert todos[todo_id].message == (
            f"TODO {todo_id}: {error} — in your code for TODO 2.3; no other TODO of task2_tuning.py can be judged "
            "until the file imports"), todos[todo_id]
        assert todos[todo_id].waiting_for == "2.3"
    assert KataRun(todos, 0.0, []).next_to_fix(["2.1", "2.2", "2.3", "2.4"]) == "2.3"
