"""The sandbox knows nothing of the lab: whoever starts it names the module its zygote
preloads (the judge: ``grader.judge.preload``), and a call starts warm with it."""

import pytest

from grader.sandbox import probes

LOADED = """import sys

def loaded():
    return sorted(name for name in sys.modules if name.split(".")[0] in ("mlflow", "sklearn", "pandas",
                  "labkit") or name.startswith("grader.judge"))
"""


@pytest.fixture
def exercises(tmp_path):
    folder = tmp_path / "exercises"
    folder.mkdir()
    (folder / "loaded.py").write_text(LOADED)
    folder.chmod(0o755)
    return folder


def call_loaded(sandbox, exercises):
    return sandbox.run("call", sandbox.new_dir("loaded"), readable=[exercises], exercises=str(exercises),
                       module="loaded", function="loaded")


def test_a_bare_sandbox_loads_nothing_of_the_lab_and_knows_only_its_own_probes(exercises):
    from grader.sandbox import Sandbox
    from grader.sandbox.client import parse_reply

    with Sandbox() as sandbox:
        result = call_loaded(sandbox, exercises)
        assert result.ok, result.error
        assert result.value == [], result.value
        kit = sandbox.run("kit", sandbox.new_dir("kit"), function="seed_staging")
        assert not kit.ok and "KeyError" in kit.error, kit
        # One framing (grader.core.jsonlines): a line that is not JSON gets a one-line
        # reply, and the zygote keeps serving.
        sandbox._process.stdin.write("not json\n")
        sandbox._process.stdin.flush()
        reply = parse_reply(sandbox._read_line(30))
        assert reply["outcome"] == "sandbox" and "not JSON" in reply["error"], reply
        assert call_loaded(sandbox, exercises).ok


def test_the_judges_sandbox_preloads_the_lab_before_forking_a_call(exercises):
    from grader.judge.preload import shared_sandbox

    sandbox = shared_sandbox()
    assert sandbox.preload == "grader.judge.preload"
    assert shared_sandbox() is sandbox  # the process's one
    result = call_loaded(sandbox, exercises)
    assert result.ok, result.error
    for module in ("mlflow.sklearn", "sklearn.ensemble", "pandas", "labkit", "grader.judge.seeding",
                   "grader.judge.probes"):
        assert module in result.value, f"{module} is not preloaded in the judge's zygote"


def test_a_preload_module_cannot_replace_the_sandboxs_own_probes(monkeypatch):
    import types

    monkeypatch.setattr(probes, "PROBES", dict(probes.PROBES))
    impostor = types.ModuleType("impostor")
    impostor.PROBES = {"self_test": lambda request: {"value": "ok"}}
    with pytest.raises(ValueError, match="self_test"):
        probes.extend(impostor)


OWN_STORE = '''import os
import mlflow
from mlflow import MlflowClient


def through_a_client():
    return MlflowClient(registry_uri="sqlite:///registry.db").search_registered_models()


def through_the_environment():
    os.environ["MLFLOW_TRACKING_URI"] = "sqlite:///mine.db"
    return len(mlflow.search_experiments())


def caught_and_returned():
    mlflow.set_tracking_uri("http://127.0.0.1:5000")
    try:
        mlflow.search_experiments()
    except Exception as error:
        return type(error).__name__


def the_calls_own_store_again():
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    os.environ["MLFLOW_REGISTRY_URI"] = mlflow.get_registry_uri()
    return [len(mlflow.search_experiments()), len(MlflowClient().search_registered_models())]
'''


@pytest.mark.parametrize("function, expected", [
    ("through_a_client", {"what": "registry", "uri": "sqlite:///registry.db",
                          "call": "MlflowClient(registry_uri='sqlite:///registry.db')",
                          "file": "own_store.py", "line": "7"}),
    ("through_the_environment", {"what": "tracking", "uri": "sqlite:///mine.db",
                                 "call": "os.environ['MLFLOW_TRACKING_URI'] = 'sqlite:///mine.db'"}),
    ("caught_and_returned", {"what": "tracking", "uri": "http://127.0.0.1:5000",
                             "call": "mlflow.set_tracking_uri('http://127.0.0.1:5000')",
                             "file": "own_store.py", "line": "16"}),
    ("the_calls_own_store_again", None),
])
def test_a_store_the_students_code_chooses_is_refused_at_once_and_noted(tmp_path, function, expected):
    """``grader.judge.probes.guard_store``: the first use of a store other than the call's
    is noted (what chose it, where) and raised there, before MLflow opens it or asks a
    server (no retries until the time limit); the note travels whether or not the code
    caught the exception. Setting the call's own store again is no choice at all."""
    from grader.judge.preload import shared_sandbox
    from grader.judge.store import new_store

    exercises = tmp_path / "exercises"
    exercises.mkdir()
    (exercises / "own_store.py").write_text(OWN_STORE)
    exercises.chmod(0o755)
    sandbox = shared_sandbox()
    folder = sandbox.new_dir("own-store")
    uri = new_store(folder / "store")
    (folder / "work").mkdir()
    sandbox.hand_over(folder)
    result = sandbox.run("call", folder / "work", {"MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri},
                         writable=[folder], readable=[exercises], exercises=str(exercises),
                         module="own_store", function=function)
    assert result.duration_s < 10, result
    assert (result.notes or {}).get("own_store") == expected, result
    if function == "caught_and_returned":
        assert result.ok and result.value == "StoreElsewhere", result
    elif expected is None:
        assert result.ok and result.value == [1, 0], result
    else:
        assert result.kind == "raised" and "StoreElsewhere" in result.error, result
    assert sorted(path.name for path in (folder / "work").iterdir()) == []  # no store of its own made


# -- which TODO's code raised, and the call replayed without it (grader.judge.attribution) --

TASK2_TODOS = ["2.1", "2.2", "2.3", "2.4"]
# One realistic slip per TODO region of task 2, each raising (in the student's finished file).
RAISES_IN = {
    "2.1": ('mlflow.log_param("n_estimators", config["n_estimators"])',
            'mlflow.log_param("n_estimators", config["n_estimator"])'),
    "2.2": ('"max_depth": config["max_depth"],', '"max_depth": config["max_dept"],'),  # a statement's 2nd line
    "2.3": ("mlflow.log_metrics(metrics)", 'mlflow.log_metrics(metrics["rmse"])'),
    "2.4": ('mlflow.set_tags({"task": "hyperparameter-tuning", "model_family": "RandomForest"})',
            'mlflow.set_tags("task", "hyperparameter-tuning")'),
}
# What each TODO of task 2 leaves on a run, when its code ran.
LEFT_BY = {"2.1": ("params", "n_estimators"), "2.2": ("params", "min_samples_split"),
           "2.3": ("metrics", "r2"), "2.4": ("tags", "model_family")}


def finished_task2(edit: tuple[str, str] | None = None) -> str:
    """A student's finished task 2 (the reference with its TODO comments), ``edit`` made."""
    from grader.authoring.stubgen import render
    from grader.core.paths import SOLUTIONS_DIR

    source = render((SOLUTIONS_DIR / "task2_tuning.py").read_text(), stub_ids=(), comments=True)
    if edit is not None:
        assert source.count(edit[0]) == 1, edit
        source = source.replace(*edit)
    return source


def call_task2(tmp_path, source: str, grid_size: int = 1, **request):
    """``tune_random_forest`` of ``source`` called in the judge's sandbox on a small sample;
    the result and the store's runs."""
    from mlflow import MlflowClient

    from grader.core.paths import DATA_PATH
    from grader.judge.preload import shared_sandbox
    from grader.judge.store import new_store

    sandbox = shared_sandbox()
    folder = tmp_path / f"exercises-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    (folder / "task2_tuning.py").write_text(source)
    exercises = sandbox.stage_exercises(folder)
    inputs = sandbox.inputs_dir(f"inputs-{folder.name}")
    (inputs / "data.csv").write_text("".join(DATA_PATH.read_text().splitlines(keepends=True)[:121]))
    case = sandbox.new_dir("raise")
    uri = new_store(case / "store")
    (case / "work").mkdir()
    sandbox.hand_over(case)
    grid = [{"n_estimators": 3 + index, "max_depth": 2, "min_samples_split": 2} for index in range(grid_size)]
    result = sandbox.run("call", case / "work", {"MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri},
                         writable=[case], readable=[exercises, inputs], exercises=str(exercises),
                         module="task2_tuning", function="tune_random_forest", args=[str(inputs / "data.csv")],
                         kwargs={"param_grid": grid}, todos=TASK2_TODOS, **request)
    client = MlflowClient(tracking_uri=uri)
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    return result, client.search_runs(experiments)


@pytest.mark.parametrize("todo", TASK2_TODOS)
def test_a_raise_in_each_todo_region_of_task_2_names_that_todo_and_a_replay_without_it_earns_the_others(
        tmp_path, todo):
    """A raise in TODO k's region is noted as TODO k's, with its line and code (it was put
    on the first failing TODO, 2.1, whatever the line); the call replayed without that
    statement (``skip``) returns, and MLflow holds every other TODO's work."""
    from grader.judge.raises import raised_in

    source = finished_task2(RAISES_IN[todo])
    line = next(number for number, text in enumerate(source.splitlines(), 1) if RAISES_IN[todo][1] in text)
    result, _runs = call_task2(tmp_path, source)
    raised = raised_in(result, "task2_tuning")
    assert result.kind == "raised" and raised is not None, result
    assert (raised.todo, raised.line, raised.how) == (todo, line, "swallow"), raised
    assert raised.code == RAISES_IN[todo][1].strip(), raised
    if todo == "2.2":  # a later line of a call: the whole statement is left out
        assert "mlflow.log_params(" in "".join(source.splitlines()[line - 4 : line - 1])

    replay, runs = call_task2(tmp_path, source, skip=[raised.skip])
    assert replay.ok and len(replay.value) == 1 and [run.info.run_id for run in runs] == replay.value, replay
    for other, (kind, key) in LEFT_BY.items():
        assert (key in getattr(runs[0].data, kind)) == (other != todo), (other, runs[0].data)


def test_a_run_a_dedented_line_left_active_is_that_lines_todos_and_the_replay_skips_it(tmp_path):
    """set_tags written under TODO 2.4's comment but dedented out of the ``with``: it starts
    a run of its own, and the next config's ``with mlflow.start_run()`` (the skeleton's line,
    in no TODO) raises. The note names 2.4's line as the cause; the replay leaves it out."""
    from grader.judge.raises import own_message, raised_in

    tags = RAISES_IN["2.4"][0]
    source = finished_task2((f"            {tags}\n", f"        {tags}\n"))
    line = next(number for number, text in enumerate(source.splitlines(), 1) if tags in text)
    at = next(number for number, text in enumerate(source.splitlines(), 1) if "with mlflow.start_run(" in text)
    result, runs = call_task2(tmp_path, source, grid_size=2)
    raised = raised_in(result, "task2_tuning")
    assert raised is not None and (raised.todo, raised.line, raised.how) == ("2.4", line, "skip"), result
    assert (raised.cause, raised.at) == ("active_run", at), raised
    assert own_message(raised, "tune_random_forest()", "Exception: Run … is already active.") == (
        f"your code for this TODO, at task2_tuning.py, line {line} (`{tags}`), started a run that was still "
        f"active when line {at} started another one: Exception: Run … is already active.")
    assert len(runs) == 2  # the first config's run, and the one set_tags started
    replay, runs = call_task2(tmp_path, source, grid_size=2, skip=[raised.skip])
    assert replay.ok and sorted(run.info.run_id for run in runs) == sorted(replay.value), replay
    assert all("n_estimators" in run.data.params and "model_family" not in run.data.tags for run in runs)


# The second config's `with` line is 2.1's code; 2.4's set_tags, outside the block, starts a run of its own.
IMPLICIT_START = """import mlflow


def tune(name):
    for n_estimators in (50, 100):
        # TODO 2.1: one run per config
        with mlflow.start_run():
            mlflow.log_param("n_estimators", n_estimators)
        # TODO 2.4: tag the run
        mlflow.set_tags({"task": "hyperparameter-tuning"})
"""


def test_a_run_a_logging_call_left_active_is_its_todos_even_when_the_failing_line_is_another_todos(
        tmp_path, monkeypatch):
    """The judge's one watch on run starts (its guard, as in the child) feeds both of its
    readers: the ``with`` line that raises is TODO 2.1's, but the run still active was
    started by 2.4's set_tags for itself; the raise is 2.4's (its statement skipped in a
    replay), and the MLflow error's facts name the same line. In-process, on a real store
    (the store guard stays out: it is for a child, which ends with its call)."""
    import importlib.util

    import mlflow
    import mlflow.tracking.fluent as fluent

    from grader.judge import attribution, mlflow_errors
    from grader.judge.probes import GUARDS, ON_RAISE, guard_store
    from grader.judge.store import new_store

    exercises = tmp_path / "exercises"
    exercises.mkdir()
    (exercises / "task2_tuning.py").write_text(IMPLICIT_START)
    uri = new_store(tmp_path / "store")
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.setenv(name, uri)
    monkeypatch.setattr(fluent, "start_run", fluent.start_run)  # put back afterwards
    monkeypatch.setattr(mlflow, "start_run", mlflow.start_run)
    monkeypatch.setattr(mlflow_errors, "STARTED", {})
    request = {"exercises": str(exercises), "module": "task2_tuning", "function": "tune", "todos": ["2.1", "2.4"]}
    try:
        for guard in GUARDS:
            if guard is not guard_store:
                guard(request)
        spec = importlib.util.spec_from_file_location("student_task2_tuning", exercises / "task2_tuning.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        with pytest.raises(Exception, match="already active") as raised:
            module.tune("x")
        for hook in ON_RAISE:
            hook(request, raised.value)
        noted = dict(probes.NOTES)
    finally:
        probes.NOTES.clear()
        while mlflow.active_run() is not None:
            mlflow.end_run()
    raised_in = noted[attribution.RAISED_IN]
    assert (raised_in["todo"], raised_in["line"], raised_in["how"]) == ("2.4", "10", "skip"), raised_in
    assert (raised_in["cause"], raised_in["at"]) == ("active_run", "7"), raised_in
    found = noted[mlflow_errors.NOTE]
    assert (found["started"], found["start_call"], found["start_line"]) == ("implicit", "mlflow.set_tags", "10")


def test_a_syntax_error_is_put_on_the_todo_whose_region_holds_its_line(tmp_path):
    """It was put on TODO 2.1 (the first failing one) whatever its line."""
    from grader.judge.raises import raised_in

    source = finished_task2(("mlflow.log_metrics(metrics)", "mlflow.log_metrics(metrics"))
    result, _runs = call_task2(tmp_path, source)
    raised = raised_in(result, "task2_tuning")
    assert result.kind == "import" and raised is not None and (raised.todo, raised.how) == ("2.3", ""), result


def test_regions_come_from_the_students_file_as_it_is_and_a_deleted_comment_costs_no_crash():
    """The released stubs and the reference: each TODO's region holds its own code and no
    skeleton line; a deleted TODO comment leaves the code after it in no region (never in the
    TODO before), and a file that does not parse is read by its lines."""
    import ast

    from grader.core.paths import EXERCISES_DIR, SOLUTIONS_DIR
    from grader.judge.regions import find_regions, region_of

    stub = (EXERCISES_DIR / "task2_tuning.py").read_text()
    lines = stub.splitlines()
    regions = find_regions(stub, ast.parse(stub), TASK2_TODOS)
    assert [region.todo for region in regions] == TASK2_TODOS
    placeholders = [number for number, text in enumerate(lines, 1) if text.strip() == "pass"]
    assert [region_of(regions, number) for number in placeholders] == TASK2_TODOS
    for skeleton in ("with mlflow.start_run() as run:", "run_ids.append(run.info.run_id)", "return run_ids"):
        assert region_of(regions, lines.index(next(t for t in lines if t.strip() == skeleton)) + 1) is None
    reference = (SOLUTIONS_DIR / "task2_tuning.py").read_text()  # BEGIN/END markers
    tags = next(n for n, t in enumerate(reference.splitlines(), 1) if "set_tags(" in t)
    assert region_of(find_regions(reference), tags) == "2.4"

    without_23 = "\n".join(text for text in lines if "TODO 2.3" not in text and "(rmse, r2, mae) de esta" not in text)
    regions = find_regions(without_23, ast.parse(without_23), TASK2_TODOS)
    placeholders = [n for n, text in enumerate(without_23.splitlines(), 1) if text.strip() == "pass"]
    assert [region_of(regions, number) for number in placeholders] == ["2.1", "2.2", None, "2.4"]
    broken = stub.replace("pass", "pass(", 1)
    assert [region.todo for region in find_regions(broken, None, TASK2_TODOS)] == TASK2_TODOS
    assert find_regions("") == [] and find_regions("# TODO 9.9: x\n", None, TASK2_TODOS) == []
