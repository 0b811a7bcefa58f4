"""MLflow's errors explained in the student's language (``grader.judge.mlflow_errors``, issue
21): each error of the catalog made to happen for real, by student-like code calling real
MLflow against a store copied from the kit's template, is recognised from what the
exception is and explained in English and in Spanish, with MLflow's own text quoted after
it and the student's line that led to it; what the catalog does not know passes through
unchanged; what a reply forges is capped or dropped. Then the slip of issue 21 end to end:
a call dedented out of the ``with`` block in task 2, in Spanish, through the kata plugin
and through ``kata run``."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import pytest

from failures import Failures
from grader.core import i18n
from grader.core.paths import KIT_ROOT, PYTEST_INI, SOLUTIONS_DIR, TESTS_DIR
from grader.judge import mlflow_errors
from grader.judge.mlflow_errors import CATALOG, NOTE, START_RUN, explain, facts
from grader.sandbox.zygote import plain_notes

# Student-like code, one slip per function; ``# cause`` marks the line a student is told of.
SLIPS = '''
import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeRegressor

X = pd.DataFrame({"cpu": np.arange(12.0), "memory": np.arange(12.0) % 5})
y = X["cpu"] * 2 + X["memory"]


def call_outside_the_with_block(name):
    for n_estimators in (50, 100):
        with mlflow.start_run():
            mlflow.log_param("n_estimators", n_estimators)
        mlflow.set_tags({"task": "hyperparameter-tuning"})  # cause


def a_run_left_open(name):
    mlflow.start_run(run_name="outer")
    with mlflow.start_run(run_name="baseline"):  # cause
        pass


def a_param_logged_twice(name):
    with mlflow.start_run():
        mlflow.log_param("max_depth", 5)
        mlflow.log_params({"max_depth": 10})  # cause


def a_metric_as_text(name):
    with mlflow.start_run():
        mlflow.log_metric("rmse", "12.5 ms")  # cause


def a_metric_as_a_list(name):
    with mlflow.start_run():
        mlflow.log_metric("rmse", [12.5, 13.0])  # cause


def an_experiment_id_that_is_a_name(name):
    with mlflow.start_run(experiment_id=name):  # cause
        pass


def an_experiment_id_that_does_not_exist(name):
    mlflow.set_experiment(experiment_id="424242")  # cause


def an_unknown_registered_model(name):
    MlflowClient().set_registered_model_alias(name, "staging", "1")  # cause


def an_unknown_version(name):
    MlflowClient().create_registered_model(name)
    MlflowClient().get_model_version(name, "7")  # cause


def an_unknown_alias(name):
    MlflowClient().create_registered_model(name)
    mlflow.pyfunc.load_model(f"models:/{name}@Staging")  # cause


def an_experiment_created_twice(name):
    mlflow.create_experiment(name)
    mlflow.create_experiment(name)  # cause


def a_registered_model_created_twice(name):
    MlflowClient().create_registered_model(name)
    MlflowClient().create_registered_model(name)  # cause


def a_tree_model_without_trusted_types(name):
    model = DecisionTreeRegressor(max_depth=2).fit(X, y)
    with mlflow.start_run():
        mlflow.sklearn.log_model(model, name="model", signature=infer_signature(X, model.predict(X)))  # cause


def rows_that_do_not_fit_the_signature(name):
    model = LinearRegression().fit(X, y)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name="model", signature=infer_signature(X, model.predict(X)),
                                        pip_requirements=["scikit-learn"])
    mlflow.pyfunc.load_model(info.model_uri).predict(X[["cpu"]])  # cause


def a_store_of_its_own(name):
    MlflowClient(tracking_uri="./mlruns").search_experiments()  # cause


def a_tracking_server_not_running(name):
    MlflowClient(tracking_uri="http://127.0.0.1:9").search_experiments()  # cause
'''

# slip -> the catalog entry that explains it
EXPECTED = {
    "call_outside_the_with_block": "run_active",
    "a_run_left_open": "run_active",
    "a_param_logged_twice": "param_changed",
    "a_metric_as_text": "metric_not_number",
    "a_metric_as_a_list": "metric_not_number",
    "an_experiment_id_that_is_a_name": "experiment_unknown",
    "an_experiment_id_that_does_not_exist": "experiment_unknown",
    "an_unknown_registered_model": "model_unknown",
    "an_unknown_version": "version_unknown",
    "an_unknown_alias": "alias_unknown",
    "an_experiment_created_twice": "experiment_exists",
    "a_registered_model_created_twice": "model_exists",
    "a_tree_model_without_trusted_types": "skops_untrusted",
    "rows_that_do_not_fit_the_signature": "signature_mismatch",
    "a_store_of_its_own": "store_missing",
    "a_tracking_server_not_running": "store_missing",
}


@pytest.fixture(autouse=True)
def _no_run_left_open(monkeypatch):  # ended before monkeypatch gives the store back
    """A slip leaves the run MLflow started for it open in this process (``kata run`` too):
    end it, or the next test of this worker starting a run would fail for it."""
    yield
    import mlflow

    while mlflow.active_run() is not None:
        mlflow.end_run()


def forget_the_active_experiment(monkeypatch) -> None:
    """What ``mlflow.set_experiment`` in the student's code leaves in this process (its
    module's ``_active_experiment_id`` and ``$MLFLOW_EXPERIMENT_ID``), put back afterwards."""
    monkeypatch.setattr("mlflow.tracking.fluent._active_experiment_id", None)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "")  # recorded, so that the test's own value goes too
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID")


def cause_line(function: str) -> int:
    """The line of ``SLIPS`` marked ``# cause`` in ``function``."""
    lines = SLIPS.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(f"def {function}("))
    return next(n for n in range(start, len(lines)) if lines[n].endswith("# cause")) + 1


@pytest.fixture
def student(tmp_path, monkeypatch):
    """The slips as a student file in an exercises folder, imported, against a fresh store
    copied from the kit's template (this process's MLflow put back afterwards), with the
    sandbox child's watch on which line started each run."""
    import mlflow
    import mlflow.tracking.fluent as fluent

    from grader.judge.store import new_store

    exercises = tmp_path / "exercises"
    exercises.mkdir()
    (exercises / "slips.py").write_text(SLIPS)
    uri = new_store(tmp_path / "store")
    monkeypatch.chdir(tmp_path)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.setenv(name, uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # a server that is not there: at once
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    monkeypatch.setattr(fluent, "start_run", fluent.start_run)  # put back afterwards
    monkeypatch.setattr(mlflow, "start_run", mlflow.start_run)
    monkeypatch.setattr(mlflow_errors, "STARTED", {})
    forget_the_active_experiment(monkeypatch)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    mlflow_errors.watch_run_starts(str(exercises))  # as the judge's guard does in the child
    spec = importlib.util.spec_from_file_location("student_slips", exercises / "slips.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module, exercises
    while mlflow.active_run() is not None:  # before the store goes back
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def raised_by(student, slip: str) -> tuple[BaseException, dict]:
    """What ``slip`` raised, and the notes a sandboxed call's reply carries about it, as
    the judge gets them (``facts`` noted in the child, then the zygote's ``plain_notes``)."""
    module, exercises = student
    with pytest.raises(Exception) as raised:
        getattr(module, slip)(f"kata-{slip[:20]}")
    found = facts(raised.value, str(exercises))
    assert found is not None, f"{slip}: {raised.value!r} not noted"
    return raised.value, plain_notes({NOTE: found})


def spoken(notes: dict, error: BaseException, lang: str):
    with i18n.use(lang):
        return explain(notes, f"{type(error).__name__}: {error}", i18n._)


@pytest.mark.parametrize("slip", sorted(EXPECTED))
def test_each_mlflow_error_of_the_catalog_is_explained_in_english_and_in_spanish(student, slip):
    error, notes = raised_by(student, slip)
    english, spanish = spoken(notes, error, "en"), spoken(notes, error, "es")
    assert english is not None and spanish is not None, f"{slip}: {notes}"
    assert english.key == spanish.key == EXPECTED[slip], (slip, english)
    mlflows_own = " ".join(str(error).split("\n\n")[0].split())[:60]
    assert f'— MLflow says: "{mlflows_own}' in english.text, english.text
    assert f"— MLflow dice: «{mlflows_own}" in spanish.text, spanish.text
    sentence, spanish_sentence = english.text.partition(" — MLflow")[0], spanish.text.partition(" — MLflow")[0]
    entry = next(entry for entry in CATALOG if entry.key == english.key and sentence.startswith(
        entry.says.partition("{")[0]))
    assert i18n.translations("es").gettext(entry.says) != entry.says, f"no Spanish for {entry.says!r}"
    assert spanish_sentence.startswith(i18n.translations("es").gettext(entry.says).partition("{")[0])
    # the student's line that led to it: the slip's own line marked "# cause"
    assert (english.file, english.line) == ("slips.py", str(cause_line(slip))), (slip, english)


def test_a_run_left_active_is_blamed_on_the_line_that_started_it(student):
    """The slip of issue 21: a call dedented out of the ``with`` block starts a run of its
    own, and the *next* ``start_run`` fails on the skeleton's ``with`` line. The student is
    told of their call, and of the line that failed; a run left open by a ``start_run``
    names the line that opened it."""
    lines = SLIPS.splitlines()
    error, notes = raised_by(student, "call_outside_the_with_block")
    with_line = next(n for n, line in enumerate(lines, 1) if "with mlflow.start_run():" in line)
    english = spoken(notes, error, "en").text
    assert english.startswith("a run was still active: this mlflow.set_tags call ran outside any "
                              f"`with mlflow.start_run()` block, so MLflow started a run of its own for it, "
                              f"and the next mlflow.start_run() (line {with_line}) found that run still open")
    spanish = spoken(notes, error, "es").text
    assert spanish.startswith("seguía activa una ejecución: esta llamada a mlflow.set_tags se ejecutó fuera")
    assert f"(línea {with_line})" in spanish

    mlflow_errors.STARTED.clear()  # a run the student's code did not start: what MLflow's text means
    generic = spoken(plain_notes({NOTE: facts(error, str(student[1]))}), error, "en")
    assert generic.text.startswith("a run was still active when mlflow.start_run() was called: "), generic
    assert generic.line == str(with_line)

    import mlflow

    while mlflow.active_run() is not None:
        mlflow.end_run()
    error, notes = raised_by(student, "a_run_left_open")
    opened = next(n for n, line in enumerate(lines, 1) if 'start_run(run_name="outer")' in line)
    assert f"the run mlflow.start_run() started on line {opened} had not ended" in spoken(notes, error, "en").text


def test_the_catalog_recognises_by_type_and_code_never_by_wording_alone():
    for entry in CATALOG:
        assert entry.code or (entry.type and (entry.raised_in or entry.context)), entry
        assert not entry.wording or entry.code, f"{entry.key}: wording without a code"
    assert set(EXPECTED.values()) == {entry.key for entry in CATALOG}, "an entry without its real error here"
    # MLflow's wording, in another error, changes nothing: the code must match first
    notes = {NOTE: {"type": "builtins.ValueError", "raised_in": "mlflow.tracking.fluent.log_param"}}
    assert explain(notes, "ValueError: Changing param values is not allowed.") is None


def test_an_error_the_catalog_does_not_know_passes_through_unchanged(student):
    import mlflow

    module, exercises = student
    try:
        1 / 0
    except ZeroDivisionError as error:
        assert facts(error, str(exercises)) is None  # not MLflow's: no note at all
    try:
        mlflow.MlflowClient().get_run("0" * 32)  # MLflow's, but not a beginner's error of this lab
    except Exception as error:  # noqa: BLE001
        notes = plain_notes({NOTE: facts(error, str(exercises))})
        assert notes[NOTE]["code"] == "RESOURCE_DOES_NOT_EXIST"
        assert explain(notes, f"{type(error).__name__}: {error}") is None
    assert explain(None, "") is None and explain({}, "MlflowException: x") is None


def test_what_a_reply_forges_is_capped_or_dropped():
    """The reply is the student's process's: its notes may be anything. Non-strings drop
    the note (the zygote); a field that is not what ``facts`` writes is dropped (the judge);
    MLflow's text is quoted short; the templates are the kit's, never the reply's."""
    huge = {NOTE: {"type": "builtins.Exception", "raised_in": START_RUN, "started": "implicit",
                   "start_call": "mlflow.set_tags" + "x" * 10**6, "start_file": "../../etc/passwd.py",
                   "start_line": "9" * 5000, "line": "39", "file": "task2_tuning.py"}}
    explained = explain(plain_notes(huge), "Exception: {explanation}" + "y" * 10**7, i18n._)
    assert explained is not None and explained.key == "run_active"
    assert "xxx" not in explained.text and "passwd" not in explained.text and "999" not in explained.text
    assert len(explained.text) < 700, len(explained.text)
    assert "{explanation}" in explained.text  # MLflow's text is quoted, never a template
    assert (explained.file, explained.line) == ("task2_tuning.py", "39")
    for forged in ({NOTE: {"type": 1}}, {NOTE: {"type": "builtins.Exception", "code": {"a": 1}}}, {NOTE: "x"},
                   {NOTE: None}, {NOTE: ["builtins.Exception"]}, {"elsewhere": {"type": "builtins.Exception"}}):
        assert explain(plain_notes(forged), "Exception: x") is None, forged
        assert explain(forged, "Exception: x") is None, forged
    injected = {NOTE: {"type": "builtins.Exception", "raised_in": START_RUN, "started": "implicit",
                       "start_call": "{__class__}", "line": "3"}}
    assert "{" not in explain(injected, "Exception: x").text


# -- end to end: the dedented call of issue 21, in Spanish ------------------------------------------

WITH_LINE = "        with mlflow.start_run() as run:\n"
TAGS_IN_THE_BLOCK = '''            # BEGIN TODO 2.4
            mlflow.set_tags({"task": "hyperparameter-tuning", "model_family": "RandomForest"})
            # END TODO 2.4
'''
TAGS_DEDENTED = '''        # BEGIN TODO 2.4
        mlflow.set_tags({"task": "hyperparameter-tuning", "model_family": "RandomForest"})
        # END TODO 2.4
'''


def dedented_task2(root: Path) -> tuple[Path, int, int]:
    """The reference solution with TODO 2.4's call dedented out of the ``with`` block: the
    exercises folder, the ``set_tags`` line and the skeleton's ``with`` line."""
    exercises = root / "exercises"
    shutil.copytree(SOLUTIONS_DIR, exercises, ignore=shutil.ignore_patterns("__pycache__"))
    task2 = exercises / "task2_tuning.py"
    source = task2.read_text()
    assert TAGS_IN_THE_BLOCK in source and WITH_LINE in source
    source = source.replace(TAGS_IN_THE_BLOCK, TAGS_DEDENTED)
    task2.write_text(source)
    lines = source.splitlines(keepends=True)
    return exercises, next(n for n, line in enumerate(lines, 1) if "mlflow.set_tags(" in line), \
        lines.index(WITH_LINE) + 1


def test_a_call_dedented_out_of_the_with_block_is_explained_in_spanish_naming_its_line(tmp_path):
    """Issue 21, item 2: the English "Run with UUID … is already active", pointing at the
    skeleton's ``with mlflow.start_run()`` line, was all a Spanish student got."""
    exercises, tags_line, with_line = dedented_task2(tmp_path)
    failures = Failures()
    test = "test_each_run_is_tagged_with_task_and_model_family"
    pytest.main([f"{TESTS_DIR / 'test_task2.py'}::{test}", "--exercises", str(exercises), "--kata-lang", "es",
                 "-p", "no:cacheprovider", "-q", "--rootdir", str(KIT_ROOT), "-c", str(PYTEST_INI)],
                plugins=[failures])
    text = " ".join(failures.texts[test].split())
    assert f"TODO 2.4: tu código de este TODO, en task2_tuning.py, línea {tags_line} (`mlflow.set_tags(" in text, text
    assert "`): seguía activa una ejecución: esta llamada a mlflow.set_tags " \
           "se ejecutó fuera de todo bloque `with mlflow.start_run()`" in text, text
    assert text.count("seguía activa") == 1, text  # said once (the TODO's attribution, then the catalog)
    assert f"el siguiente mlflow.start_run() (línea {with_line}) la encontró todavía abierta" in text, text
    assert re.search(r"— MLflow dice: «Run with UUID [0-9a-f]+ is already active\.", text), text
    assert f"línea {with_line}:" not in text, text


def test_kata_run_explains_it_in_spanish_too(tmp_path, monkeypatch, capsys):
    from grader.student import run as try_task

    from grader.judge.store import template_path

    exercises, tags_line, with_line = dedented_task2(tmp_path)
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(template_path(), tmp_path / "mlflow.db")  # kata run's store, without MLflow's migrations
    # its own address: MLflow keeps a store per address for the process (``sqlite:///mlflow.db``
    # would stay this folder's for every later test of this worker)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setattr("sys.path", list(__import__("sys").path))  # kata run puts the exercises first
    forget_the_active_experiment(monkeypatch)
    assert try_task.run_task("2", Path("exercises"), "es") == 1
    first, code, _tests = capsys.readouterr().err.splitlines()
    assert first.startswith(f"kata run 2: un error de MLflow detuvo tu código (exercises/task2_tuning.py, "
                            f"línea {tags_line}): seguía activa una ejecución: esta llamada a mlflow.set_tags"), first
    assert f"(línea {with_line})" in first and "MLflow dice: «Run with UUID" in first, first
    assert code.strip().startswith("mlflow.set_tags(")
    import mlflow

    assert not getattr(mlflow.start_run, "kata_watched", False)  # kata run put MLflow back
