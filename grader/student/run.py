"""``kata run TASK``: run your own task code once against ``./mlflow.db`` so you can
look at what it logged in the MLflow UI (``mlflow ui --backend-store-uri sqlite:///mlflow.db``).

This runs the student's own code in this process, on the student's own machine:
it is a learning aid, not part of grading (which always sandboxes student code).

What a student sees instead of a traceback:

* a task that needs an earlier one (task 4 reads task 3's comparison; the bonus serves
  task 4's ``staging`` model) says in one line which ``kata run`` to do first;
* an exception in the student's code is one short message naming the exception, the
  student's file and line (and that line's code);
* code that chooses its own MLflow store (``mlflow.set_tracking_uri(...)`` at the top of
  the file, as MLflow's tutorials do) is told so at once, with its line, before MLflow
  opens that store or waits on a server (``grader.judge.probes.StoreGuard``, the guard
  of the tests' sandboxed calls).

``kata run bonus`` serves ``models:/devops-response-time@staging`` from the store with
``mlflow models serve`` (this interpreter, a free port on 127.0.0.1, stopped afterwards),
sends it the body the student's ``build_request`` builds for three rows, and prints the
reply and what ``parse_predictions`` makes of it.
"""

from __future__ import annotations

import importlib.util
import json
import linecache
import os
import sys
import tempfile
import traceback
from pathlib import Path

from grader.core import i18n
from grader.core.i18n import _
from grader.core.paths import DATA_PATH
from grader.judge import mlflow_errors
from grader.judge.mlflow_internals import event_lines_muted
from grader.judge.probes import StoreGuard
from grader.lab.todos import task_by_name

STORE_URI = "sqlite:///mlflow.db"
UI_COMMAND = "mlflow ui --backend-store-uri sqlite:///mlflow.db"
# The names the lab's functions use by default (task 3 → task 4 → the bonus).
COMPARISON_EXPERIMENT = "devops-model-comparison"
MODEL_NAME = "devops-response-time"
ALIAS = "staging"
BONUS_ROWS = 3


def texts(lang: str) -> dict[str, str]:
    """Every line ``kata run`` prints, in ``lang`` (``grader/core/i18n.py``)."""
    with i18n.use(lang):
        return {
            "returned": _("{function}() returned: {value}"),
            "registered": _("register_best() returned version: {value}"),
            "predicts": _("the staging model predicts (ms): {values}"),
            "look": _("Look at it in the MLflow UI:\n  {command}"),
            "nothing": _(
                "Nothing is logged in the store yet: the TODOs of this task log it "
                "(pytest tests/{test_file} says which)."
            ),
            "raised": _("kata run {task}: your code raised {error} ({file}, line {line})"),
            "raised_nowhere": _("kata run {task}: your code raised {error}"),
            "mlflow": _("kata run {task}: an MLflow error stopped your code ({file}, line {line}): {explanation}"),
            "mlflow_nowhere": _("kata run {task}: an MLflow error stopped your code: {explanation}"),
            "own_tracking": _(
                "kata run {task}: your code sets its own tracking address ({how}): remove it — "
                "kata run gives your code the store {store}, as the tests give each call one of theirs"
            ),
            "own_registry": _(
                "kata run {task}: your code sets its own model registry address ({how}): remove it — "
                "kata run gives your code the store {store}, as the tests give each call one of theirs"
            ),
            "where": _("{file}, line {line}"),
            "tests": _("The tests say which TODO it breaks: pytest tests/{test_file}"),
            "no_store": _("kata run {task}: there is no ./mlflow.db yet: run `kata run {first}` first."),
            "no_comparison": _(
                "kata run 4: no experiment {experiment} with runs in {store} yet: run `kata run 3` first."
            ),
            "no_model": _(
                "kata run 4: the best run of {experiment} ({run}) has no logged model "
                '"model" (TODO 3.3): finish it, then `kata run 3` again.'
            ),
            "no_alias": _(
                "kata run bonus: no version of {model} has the alias {alias} in "
                "{store} yet: run `kata run 4` first (it needs `kata run 3` before it)."
            ),
            "serving": _("Serving models:/{model}@{alias} with mlflow models serve on 127.0.0.1 (about 10 s) …"),
            "no_server": _("kata run bonus: the model server did not start: {reason}"),
            "body": _("build_request() built this body for {n} rows:"),
            "not_json": _("kata run bonus: build_request() returned something that is not JSON: {error}"),
            "reply": _("POST {url}/invocations answered HTTP {status}:"),
            "parsed": _("parse_predictions() made of it: {value}"),
            "curl": _("The server is stopped. The same by hand, with curl: see LAB.md."),
        }


class NotYet(Exception):
    """An earlier task has not been run: the one-line message says which."""


class StudentError(Exception):
    """The student's code raised: the one-line message names it and where."""


class OwnStore(StudentError):
    """The student's code chose its own MLflow store: the one-line message says which and
    where (the tests say the same; no need to send the student to them)."""


# -- the student's code -----------------------------------------------------------------


def shown_path(path: str) -> str:
    """A student file as they would type it: relative to here when it is below here."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path


def student_error(error: BaseException, exercises: Path, task: str, lang: str) -> StudentError:
    """One short message for ``error``: the exception and the innermost frame in a file of
    ``exercises`` (for a syntax error, its own file and line), with that line's code."""
    text = texts(lang)
    folder = exercises.resolve()
    summary = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
    summary = summary.rstrip(": ")[:300]
    where: tuple[str, int, str] | None = None
    if isinstance(error, SyntaxError) and error.filename:
        where = (error.filename, error.lineno or 0, (error.text or "").strip())
        summary = f"SyntaxError: {error.msg}"
    else:
        for frame in traceback.extract_tb(error.__traceback__):
            if Path(frame.filename).resolve().is_relative_to(folder):
                where = (frame.filename, frame.lineno or 0, (frame.line or "").strip())
    # An MLflow error the catalog knows: what it means, and the line that led to it.
    with i18n.use(lang):
        explained = mlflow_errors.explain_error(error, str(folder), _)
    if explained is not None:
        if explained.file and explained.line:
            path = str(folder / explained.file)
            where = (path, int(explained.line), linecache.getline(path, int(explained.line)).strip())
        if where is None:
            return StudentError(text["mlflow_nowhere"].format(task=task, explanation=explained.text))
        message = text["mlflow"].format(task=task, explanation=explained.text, file=shown_path(where[0]), line=where[1])
        return StudentError(message + (f"\n    {where[2]}" if where[2] else ""))
    if where is None:
        return StudentError(text["raised_nowhere"].format(task=task, error=summary))
    message = text["raised"].format(task=task, error=summary, file=shown_path(where[0]), line=where[1])
    return StudentError(message + (f"\n    {where[2]}" if where[2] else ""))


# The guard of the store while ``kata run`` runs the student's code (``run_task``).
GUARD: StoreGuard | None = None


def own_store_error(task: str, lang: str) -> OwnStore | None:
    """The message for code that chose a store other than ``kata run``'s, used yet or not
    (``GUARD``), or None."""
    guard = GUARD
    note = guard.elsewhere() if guard is not None else None
    if guard is None or note is None:
        return None
    text = texts(lang)
    how = note.get("call", "")
    if note.get("file") and note.get("line"):
        how += ", " + text["where"].format(file=note["file"], line=note["line"])
    template = text["own_registry" if note.get("what") == "registry" else "own_tracking"]
    return OwnStore(template.format(task=task, how=how, store=guard.given["tracking"]))


def load(exercises: Path, module: str, task: str = "", lang: str = "en"):
    spec = importlib.util.spec_from_file_location(module, exercises / f"{module}.py")
    assert spec is not None and spec.loader is not None  # a .py file always has a loader
    student = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(student)
    except Exception as error:
        raise own_store_error(task, lang) or student_error(error, exercises, task, lang) from None
    elsewhere = own_store_error(task, lang)  # at the top of the file: said before any call
    if elsewhere is not None:
        raise elsewhere
    return student


def call(function, *args, exercises: Path, task: str, lang: str):
    """``function(*args)``, with an exception in it turned into a ``StudentError`` (a
    store of its own said as such, even where MLflow did not use it yet)."""
    try:
        value = function(*args)
    except Exception as error:
        raise own_store_error(task, lang) or student_error(error, exercises, task, lang) from None
    elsewhere = own_store_error(task, lang)
    if elsewhere is not None:
        raise elsewhere
    return value


# -- what must have run before ----------------------------------------------------------


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI", STORE_URI)


def no_store_yet() -> bool:
    """Whether ``kata run`` uses the default store ``./mlflow.db`` and it does not exist
    (never create it just to look)."""
    return tracking_uri() == STORE_URI and not Path("mlflow.db").is_file()


def require_store(task: str, first: str, lang: str) -> None:
    """The default store ``./mlflow.db`` must exist."""
    if no_store_yet():
        raise NotYet(texts(lang)["no_store"].format(task=task, first=first))


def require_comparison(lang: str) -> None:
    """Task 4 registers the best run of task 3's comparison: it must be there, with its model."""
    from mlflow.tracking import MlflowClient

    require_store("4", "3", lang)
    client = MlflowClient()
    experiment = client.get_experiment_by_name(COMPARISON_EXPERIMENT)
    runs = (
        client.search_runs([experiment.experiment_id], order_by=["metrics.r2 DESC"], max_results=1)
        if experiment
        else []
    )
    if not runs or experiment is None:
        raise NotYet(texts(lang)["no_comparison"].format(experiment=COMPARISON_EXPERIMENT, store=tracking_uri()))
    best = runs[0]
    try:
        models = client.search_logged_models([experiment.experiment_id])
    except Exception:  # noqa: BLE001 - a store without logged models: let task 4 say so
        return
    if not any(model.source_run_id == best.info.run_id for model in models):
        label = best.info.run_name or best.info.run_id
        r2 = best.data.metrics.get("r2")
        label += f", r2 {r2:.3f}" if r2 is not None else ""
        raise NotYet(texts(lang)["no_model"].format(experiment=COMPARISON_EXPERIMENT, run=label))


def require_staging(lang: str) -> None:
    """The bonus serves task 4's model: its ``staging`` alias must exist."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    require_store("bonus", "3", lang)
    try:
        MlflowClient().get_model_version_by_alias(MODEL_NAME, ALIAS)
    except MlflowException:
        raise NotYet(texts(lang)["no_alias"].format(model=MODEL_NAME, alias=ALIAS, store=tracking_uri())) from None


# -- the tasks ----------------------------------------------------------------------------


def feature_rows(n: int):
    import pandas as pd

    from labkit.dataset import FEATURES

    return pd.read_csv(DATA_PATH)[FEATURES].head(n)


def run_registry(exercises: Path, lang: str) -> None:
    text = texts(lang)
    require_comparison(lang)
    student = load(exercises, "task4_registry", "4", lang)
    version = call(student.register_best, exercises=exercises, task="4", lang=lang)
    print(text["registered"].format(value=version))
    model = call(student.load_staging_model, exercises=exercises, task="4", lang=lang)
    if model is not None:
        predictions = call(model.predict, feature_rows(BONUS_ROWS), exercises=exercises, task="4", lang=lang)
        print(text["predicts"].format(values=[round(float(p), 1) for p in predictions]))


def server_env_uri() -> str:
    """The store as the server (another process, maybe another folder) must name it."""
    uri = tracking_uri()
    if uri == STORE_URI:
        return f"sqlite:///{Path('mlflow.db').resolve()}"
    return uri


def run_bonus(exercises: Path, lang: str) -> None:
    """Serve the staging model, send the student's body, parse the reply with their code."""
    from grader.judge.model_server import ModelServer

    text = texts(lang)
    require_staging(lang)
    student = load(exercises, "bonus_serving", "bonus", lang)
    rows = feature_rows(BONUS_ROWS)
    body = call(student.build_request, rows, exercises=exercises, task="bonus", lang=lang)
    try:
        encoded = json.dumps(body)
    except (TypeError, ValueError) as error:
        raise StudentError(text["not_json"].format(error=error)) from None
    print(text["body"].format(n=len(rows)))
    print(f"  {shorten(encoded)}")
    print(text["serving"].format(model=MODEL_NAME, alias=ALIAS), flush=True)
    with tempfile.TemporaryDirectory(prefix="kata-run-bonus-") as home:
        given = os.environ["MLFLOW_TRACKING_URI"]
        os.environ["MLFLOW_TRACKING_URI"] = server_env_uri()  # the server's environment only
        try:
            server = ModelServer(f"models:/{MODEL_NAME}@{ALIAS}", Path(home) / "server.log")
        except RuntimeError as error:  # it stopped itself
            raise NotYet(text["no_server"].format(reason=str(error).splitlines()[0])) from None
        finally:
            os.environ["MLFLOW_TRACKING_URI"] = given  # the store kata run gave the student's code
        try:
            status, reply = server.invoke(body)
        finally:
            server.stop()
    print(text["reply"].format(url=server.url, status=status))
    print(f"  {shorten(reply if isinstance(reply, str) else json.dumps(reply))}")
    parsed = call(student.parse_predictions, reply, exercises=exercises, task="bonus", lang=lang)
    print(text["parsed"].format(value=parsed))
    print(text["curl"])


def shorten(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else text[:limit] + " …"


def run_task(name: str, exercises: Path, lang: str = "en") -> int:
    """Run task ``name`` once; 0 when it ran, 1 when something earlier is missing or the
    student's code raised (one message on stderr)."""
    global GUARD
    os.environ.setdefault("MLFLOW_TRACKING_URI", STORE_URI)
    unwatch = mlflow_errors.watch_run_starts(str(exercises))  # a run still active: which line started it
    GUARD = StoreGuard(str(exercises))
    GUARD.install(lambda note: None)  # own_store_error says it, from what the guard knows
    try:
        with event_lines_muted():  # MLflow's English lines; the kit says its own
            return _run_task(name, exercises, lang)
    finally:
        unwatch()
        GUARD.remove()
        GUARD = None


def _run_task(name: str, exercises: Path, lang: str) -> int:
    text = texts(lang)
    task = task_by_name(name)
    try:
        if task.server:
            run_bonus(exercises, lang)
            return 0
        if task.number == 4:
            run_registry(exercises, lang)
        else:
            student = load(exercises, task.module, name, lang)
            (function,) = task.functions
            value = call(getattr(student, function), str(DATA_PATH), exercises=exercises, task=name, lang=lang)
            print(text["returned"].format(function=function, value=value))
    except NotYet as reason:
        print(reason, file=sys.stderr)
        return 1
    except StudentError as reason:
        print(reason, file=sys.stderr)
        if not isinstance(reason, OwnStore):
            print(text["tests"].format(test_file=task.test_file), file=sys.stderr)
        return 1
    if holds_a_run():
        print(text["look"].format(command=UI_COMMAND))
    else:  # a stub logs nothing: no UI to look at
        print(text["nothing"].format(test_file=task.test_file))
    return 0


def holds_a_run() -> bool:
    """Whether the store ``kata run`` used holds any run (never creating ./mlflow.db)."""
    from mlflow import MlflowClient

    if no_store_yet():
        return False
    client = MlflowClient(tracking_uri())
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    return bool(experiments) and bool(client.search_runs(experiments, max_results=1))


def main_for(task: str, exercises: str, lang: str = "en") -> int:
    sys.path.insert(0, str(Path(exercises).resolve()))
    return run_task(task, Path(exercises), lang)
