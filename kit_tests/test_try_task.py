"""`kata run`: a task whose predecessor has not run says which `kata run` to do first; an
exception in the student's code is one short message with their file and line; and
`kata run bonus` serves the staging model, sends the student's body and parses the reply
(one run for real, on a store seeded here in a few seconds)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.student import run as try_task
from grader.core.paths import EXERCISES_DIR, KIT_ROOT, SOLUTIONS_DIR


def kata(*args: str, cwd: Path, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(KIT_ROOT), **(env or {})})


def exercises_copy(root: Path, source: Path = SOLUTIONS_DIR) -> Path:
    folder = root / "exercises"
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


# -- what must run first -----------------------------------------------------------------

def test_run_4_before_3_says_what_to_run_first_and_creates_no_store(tmp_path):
    exercises_copy(tmp_path)
    result = kata("run", "4", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "kata run 4: there is no ./mlflow.db yet: run `kata run 3` first."
    assert not (tmp_path / "mlflow.db").exists()
    spanish = kata("run", "bonus", "--lang", "es", cwd=tmp_path)
    assert spanish.returncode == 1
    assert spanish.stderr.strip() == "kata run bonus: todavía no hay ./mlflow.db: ejecuta antes `kata run 3`."


# -- the student's exception -----------------------------------------------------------------

def write_task1(folder: Path, source: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "task1_baseline.py"
    path.write_text(textwrap.dedent(source))
    return path


@pytest.mark.parametrize("source, error, line, code", [
    ("""\
        def log_baseline_run(data_path, experiment_name="x"):
            return helper()


        def helper():
            return {}["rmse"]
        """, "KeyError: 'rmse'", 6, 'return {}["rmse"]'),
    ("""\
        import json


        def log_baseline_run(data_path, experiment_name="x"):
            return json.loads("{")
        """, "JSONDecodeError: Expecting property name enclosed in double quotes", 5,
     'return json.loads("{")'),
    ("""\
        def log_baseline_run(data_path, experiment_name="x":
            pass
        """, "SyntaxError: ", 1, 'def log_baseline_run(data_path, experiment_name="x":'),
], ids=["in-their-helper", "in-a-library-they-call", "syntax"])
def test_a_student_exception_is_one_message_with_their_file_and_line(
        tmp_path, monkeypatch, capsys, source, error, line, code):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'unused.db'}")
    write_task1(tmp_path / "exercises", source)
    assert try_task.run_task("1", Path("exercises"), "en") == 1
    captured = capsys.readouterr()
    first, second, third = captured.err.splitlines()
    assert first.startswith(f"kata run 1: your code raised {error}")
    assert first.endswith(f"(exercises/task1_baseline.py, line {line})")
    assert second.strip() == code
    assert third == "The tests say which TODO it breaks: pytest tests/test_task1.py"
    assert "Traceback" not in captured.err + captured.out


def test_the_message_is_spanish_with_lang_es(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'unused.db'}")
    write_task1(tmp_path / "exercises", "def log_baseline_run(data_path):\n    raise ValueError('no')\n")
    assert try_task.run_task("1", Path("exercises"), "es") == 1
    err = capsys.readouterr().err
    assert err.startswith("kata run 1: tu código lanzó ValueError: no (exercises/task1_baseline.py, línea 2)")


# -- a store of the student's own --------------------------------------------------------------

@pytest.mark.parametrize("source, lang, said", [
    ("""\
        import mlflow
        mlflow.set_tracking_uri("http://127.0.0.1:9")


        def log_baseline_run(data_path, experiment_name="x"):
            return None
        """, "es", "kata run 1: tu código fija su propia dirección de seguimiento "
                   "(mlflow.set_tracking_uri('http://127.0.0.1:9'), task1_baseline.py, línea 2): quítala — "
                   "kata run da a tu código el almacén {store}, como los tests dan a cada llamada uno suyo"),
    ("""\
        import mlflow


        def log_baseline_run(data_path, experiment_name="x"):
            mlflow.set_tracking_uri("http://127.0.0.1:9")
            mlflow.set_experiment(experiment_name)
        """, "en", "kata run 1: your code sets its own tracking address "
                   "(mlflow.set_tracking_uri('http://127.0.0.1:9'), task1_baseline.py, line 5): remove it — "
                   "kata run gives your code the store {store}, as the tests give each call one of theirs"),
    ("""\
        import mlflow


        def log_baseline_run(data_path, experiment_name="x"):
            mlflow.set_registry_uri("sqlite:///elsewhere.db")
            return "an id"
        """, "en", "kata run 1: your code sets its own model registry address "
                   "(mlflow.set_registry_uri('sqlite:///elsewhere.db'), task1_baseline.py, line 5): remove it"),
], ids=["at-the-top-es", "in-the-function", "registry-unused"])
def test_code_that_sets_its_own_tracking_address_is_told_so_at_once(tmp_path, monkeypatch, capsys, source, lang,
                                                                    said):
    """``mlflow.set_tracking_uri("http://127.0.0.1:5000")`` at the top of a task file (MLflow's
    tutorials) made ``kata run 1`` wait ~250 s on a server nobody runs: now one line, at once,
    naming the call and its line, in the student's language (port 9 here: never asked)."""
    import time

    import mlflow

    monkeypatch.chdir(tmp_path)
    store = f"sqlite:///{tmp_path / 'kata.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    original = mlflow.set_tracking_uri
    write_task1(tmp_path / "exercises", source)
    started = time.monotonic()
    assert try_task.run_task("1", Path("exercises"), lang) == 1
    assert time.monotonic() - started < 30
    captured = capsys.readouterr()
    assert captured.err.startswith(said.format(store=store)), captured.err
    assert captured.err.count("\n") == 1 and captured.out == ""
    assert not any(tmp_path.glob("*.db"))  # neither kata run's store nor the student's was made
    assert mlflow.set_tracking_uri is original  # the guard is gone with the run, and what the code set
    assert mlflow.get_tracking_uri() == store == mlflow.get_registry_uri()


# -- the bonus, for real ------------------------------------------------------------------------

SEED = """
import mlflow
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LinearRegression
from labkit import load_split

split = load_split()
model = LinearRegression().fit(split.X_train, split.y_train)
mlflow.set_experiment("devops-model-comparison")
with mlflow.start_run(run_name="no-model-here"):  # the best run, but task 3.3 not done
    mlflow.log_metric("r2", 0.99)
mlflow.set_experiment("somewhere-else")
with mlflow.start_run() as run:
    mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])  # no inference
version = mlflow.register_model(f"runs:/{run.info.run_id}/model", "devops-response-time")
MlflowClient().set_registered_model_alias("devops-response-time", "staging", version.version)

from grader.student.run import NotYet, require_comparison  # what `kata run 4` checks first

try:
    require_comparison("en")
except NotYet as reason:
    print(reason)
"""


def port_is_closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def migrated_store(path: Path) -> Path:
    """A new, empty store at ``path`` without paying MLflow's migrations."""
    from grader.judge.store import template_path

    shutil.copyfile(template_path(), path)
    return path


def test_run_4_without_a_logged_model_and_run_bonus_for_real(tmp_path):
    exercises_copy(tmp_path)
    migrated_store(tmp_path / "mlflow.db")
    seeded = subprocess.run([sys.executable, "-c", SEED], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "MLFLOW_TRACKING_URI": "sqlite:///mlflow.db",
                                 "PYTHONPATH": str(KIT_ROOT)}, timeout=240)
    assert seeded.returncode == 0, seeded.stderr[-2000:]

    assert seeded.stdout.strip() == (
        "kata run 4: the best run of devops-model-comparison (no-model-here, r2 0.990) has no "
        "logged model \"model\" (TODO 3.3): finish it, then `kata run 3` again.")

    bonus = kata("run", "bonus", cwd=tmp_path)
    assert bonus.returncode == 0, bonus.stderr[-2000:]
    lines = bonus.stdout.splitlines()
    assert lines[0] == "build_request() built this body for 3 rows:"
    assert lines[1].startswith('  {"dataframe_split": {"columns": ["cpu_usage_pct"')
    assert lines[2].startswith("Serving models:/devops-response-time@staging with mlflow models serve")
    assert lines[3].startswith("POST http://127.0.0.1:") and lines[3].endswith("/invocations answered HTTP 200:")
    assert lines[4].startswith('  {"predictions": [')
    assert lines[5].startswith("parse_predictions() made of it: [")
    assert len(lines[5].split(",")) == 3
    port = int(lines[3].split(":")[2].split("/")[0])
    assert port_is_closed(port)  # the server was stopped
    assert "Traceback" not in bonus.stderr


def test_a_store_without_task_3_or_task_4_says_which_to_run(tmp_path):
    exercises_copy(tmp_path, EXERCISES_DIR)
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{migrated_store(tmp_path / 'empty.db')}"}
    four = kata("run", "4", cwd=tmp_path, env=env)
    assert four.returncode == 1
    assert four.stderr.strip().startswith("kata run 4: no experiment devops-model-comparison with runs in ")
    assert four.stderr.strip().endswith("run `kata run 3` first.")
    bonus = kata("run", "bonus", cwd=tmp_path, env=env)
    assert bonus.returncode == 1
    assert bonus.stderr.strip().startswith(
        "kata run bonus: no version of devops-response-time has the alias staging in ")
    assert "Traceback" not in four.stderr + bonus.stderr


def test_run_1_on_the_stub_says_nothing_is_logged_instead_of_pointing_at_the_ui(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    shutil.copytree(EXERCISES_DIR, tmp_path / "exercises", ignore=shutil.ignore_patterns("__pycache__"))
    assert try_task.run_task("1", Path("exercises"), "en") == 0
    out = capsys.readouterr().out
    assert "Nothing is logged in the store yet" in out and "tests/test_task1.py" in out
    assert "MLflow UI" not in out
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # run_task set it: fresh again
    shutil.copy(SOLUTIONS_DIR / "task1_baseline.py", tmp_path / "exercises" / "task1_baseline.py")
    assert try_task.run_task("1", Path("exercises"), "en") == 0
    assert "Look at it in the MLflow UI" in capsys.readouterr().out
