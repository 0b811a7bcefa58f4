"""MLflow's errors that this lab's beginners meet, explained in the student's language.

MLflow says what went wrong inside MLflow, in English ("Run with UUID … is already active
…"), at the line where MLflow noticed it, which is often not the line a beginner got
wrong. ``CATALOG`` holds the errors this lab's students meet, each with one sentence on
what it means for the lab; MLflow's own text stays quoted after it.

Each is recognised by what the exception *is*, never by its English alone: its class,
MLflow's error code (``MlflowException.error_code``), the MLflow function that raised it
and the exception it was raised while handling (``Entry``). Where two share a code and a
raising function, MLflow's wording tells them apart (``Entry.wording``), only beside a code.

Two halves, one on each side of the sandbox:

* where the student's code ran (kit code in the sandboxed child, once it raised; ``kata
  run``'s own process): ``facts`` reads those from the real exception, with the deepest
  line of the student's file on its way and, for a run still active, the student's line
  that started that run: plain strings, which a sandboxed call notes as ``NOTE`` in its
  reply (``grader.sandbox.probes.NOTES``, capped by the zygote). Who started each run is
  recorded here once (``watch_run_starts``, ``STARTED``), for ``facts`` and for
  ``grader.judge.attribution`` (which TODO a run left active is charged to).
* in the judge: ``explain`` matches what a reply noted (untrusted: a field that is not
  what ``facts`` writes is dropped) against ``CATALOG`` and words it in the student's
  language, naming the student's line that led to it.

Imported by the judge: nothing heavy at import time (MLflow only inside the functions
that run where the student's code ran).
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType


def N_(template: str) -> str:
    """Marks a template for the message catalog; translated where it is shown."""
    return template


NOTE = "mlflow_error"  # the note (``grader.sandbox.probes.NOTES``) a call's reply carries
MLFLOW_EXCEPTION = "mlflow.exceptions.MlflowException"
START_RUN = "mlflow.tracking.fluent.start_run"
QUOTED_CHARS = 300  # of MLflow's own text, after the explanation


@dataclass(frozen=True)
class Entry:
    """One MLflow error this lab's students meet, and what it means for the lab.

    Recognised by what the exception is: ``code`` (MLflow's error code; any
    ``MlflowException`` carries one) or, for an exception without one, its exact class
    ``type``; then, when given, ``raised_in`` (the MLflow function the exception was raised
    in: a qualified name, or a module's prefix ending in ``.``), ``context`` (the class of
    the exception it was raised while handling) and ``wording`` (MLflow's text holds one of
    these: only beside a ``code``, to tell apart errors that share it). ``started`` and
    ``needs``: for a run still active, how that run was started and what the sentence names.
    """

    key: str
    says: str  # one sentence (N_), formatted with the facts ``needs`` names
    code: str = ""
    type: str = ""
    raised_in: tuple[str, ...] = ()
    context: str = ""
    wording: tuple[str, ...] = ()
    started: str | None = None  # "implicit", "explicit"; None: any
    needs: tuple[str, ...] = ()

    def matches(self, facts: dict[str, str], text: str) -> bool:
        if self.code:
            if facts.get("code") != self.code:
                return False
        elif not self.type or facts.get("type") != self.type:
            return False
        raised_in = facts.get("raised_in", "")
        if self.raised_in and not any(
            raised_in == where or (where.endswith(".") and raised_in.startswith(where)) for where in self.raised_in
        ):
            return False
        if self.context and facts.get("context") != self.context:
            return False
        if self.wording and not any(words in text for words in self.wording):
            return False
        if self.started is not None and facts.get("started") != self.started:
            return False
        return all(facts.get(name) for name in self.needs)


TRACKING_STORE = "mlflow.store.tracking.sqlalchemy_store.SqlAlchemyStore."
REGISTRY_STORE = "mlflow.store.model_registry.sqlalchemy_store.SqlAlchemyStore."
METRIC_VALUES = "mlflow.tracking.metric_value_conversion_utils."
SKOPS_UNTRUSTED = "skops.io.exceptions.UntrustedTypesFoundException"

# Said of both ways MLflow fails on a store it cannot use (the file store, a server not running).
STORE_MISSING = N_(
    "MLflow cannot use the store it was pointed at (a tracking server that is not running, or a "
    "./mlruns folder, which MLflow 3 no longer writes): remove set_tracking_uri and "
    "MLFLOW_TRACKING_URI from your code, the tests and kata run give it a store of its own"
)

# In order: the first entry that matches explains the error.
CATALOG: tuple[Entry, ...] = (
    Entry(
        "run_active",
        N_(
            "a run was still active: this {call} call ran outside any `with mlflow.start_run()` block, "
            "so MLflow started a run of its own for it, and the next mlflow.start_run() (line {failed_line}) "
            "found that run still open: put the call inside the `with` block"
        ),
        type="builtins.Exception",
        raised_in=(START_RUN,),
        started="implicit",
        needs=("start_call", "line"),
    ),
    Entry(
        "run_active",
        N_(
            "a run was still active: the run mlflow.start_run() started on line {start_line} had not ended, "
            "so this mlflow.start_run() failed: start one run at a time (a `with mlflow.start_run():` "
            "block ends its run where the block ends), or pass nested=True for a run inside another"
        ),
        type="builtins.Exception",
        raised_in=(START_RUN,),
        started="explicit",
        needs=("start_line",),
    ),
    Entry(
        "run_active",
        N_(
            "a run was still active when mlflow.start_run() was called: a `with mlflow.start_run():` "
            "block ends its run where the block ends, and an mlflow.log_* call outside any such block "
            "starts a run of its own that stays open"
        ),
        type="builtins.Exception",
        raised_in=(START_RUN,),
    ),
    Entry(
        "param_changed",
        N_(
            "this run already holds that param with another value, and MLflow keeps a run's params for good: "
            "log each param once per run (in a loop, inside that config's own `with mlflow.start_run()` block)"
        ),
        code="INVALID_PARAMETER_VALUE",
        wording=("Changing param values is not allowed",),
    ),
    Entry(
        "metric_not_number",
        N_(
            "a metric's value must be one number: log each held-out value on its own (a float such as "
            'metrics["rmse"]), not a string, a list or None'
        ),
        code="INVALID_PARAMETER_VALUE",
        raised_in=("mlflow.utils.validation._validate_metric", METRIC_VALUES),
    ),
    Entry(
        "metric_not_number",
        N_(
            "a metric's value must be one number: log each held-out value on its own (a float such as "
            'metrics["rmse"]), not a string, a list or None'
        ),
        type="builtins.TypeError",
        raised_in=(METRIC_VALUES,),
    ),
    Entry(
        "signature_mismatch",
        N_(
            "the data given to the model does not fit the signature it was logged with: infer the signature "
            "from the same features the model is fitted on and asked about (infer_signature(X_test, "
            "model.predict(X_test)))"
        ),
        code="INVALID_PARAMETER_VALUE",
        raised_in=("mlflow.pyfunc._validate_prediction_input", "mlflow.models.utils."),
    ),
    Entry(
        "alias_unknown",
        N_(
            "no version of this registered model carries that alias: set it first with "
            "MlflowClient().set_registered_model_alias(name, alias, version) (aliases are case-sensitive)"
        ),
        code="INVALID_PARAMETER_VALUE",
        raised_in=(REGISTRY_STORE + "get_model_version_by_alias",),
    ),
    Entry(
        "store_missing",
        STORE_MISSING,
        code="INVALID_PARAMETER_VALUE",
        raised_in=(
            "mlflow.store.tracking.file_store.FileStore.__init__",
            "mlflow.store.model_registry.file_store.FileStore.__init__",
        ),
    ),
    Entry(
        "store_missing",
        STORE_MISSING,
        code="INTERNAL_ERROR",
        raised_in=("mlflow.utils.rest_utils.",),
        context="requests.exceptions.ConnectionError",
    ),
    Entry(
        "experiment_unknown",
        N_(
            "this store holds no experiment with that id: an experiment's id is the one MLflow gives it, "
            "not its name (mlflow.set_experiment(experiment_name) finds or creates it by name)"
        ),
        code="RESOURCE_DOES_NOT_EXIST",
        raised_in=(TRACKING_STORE + "_get_experiment",),
    ),
    Entry(
        "experiment_unknown",
        N_(
            "this store holds no experiment with that id: an experiment's id is the one MLflow gives it, "
            "not its name (mlflow.set_experiment(experiment_name) finds or creates it by name)"
        ),
        code="INVALID_PARAMETER_VALUE",
        raised_in=("mlflow.utils.validation._parse_experiment_id",),  # a name where an id goes
    ),
    Entry(
        "model_unknown",
        N_(
            "this store holds no registered model of that name yet: mlflow.register_model(model_uri, "
            "model_name) creates it with its first version (model names are case-sensitive)"
        ),
        code="RESOURCE_DOES_NOT_EXIST",
        raised_in=(REGISTRY_STORE + "_get_registered_model",),
    ),
    Entry(
        "version_unknown",
        N_(
            "that version of the registered model does not exist: use the version "
            "mlflow.register_model returned (its .version), not a number of your own"
        ),
        code="RESOURCE_DOES_NOT_EXIST",
        raised_in=(REGISTRY_STORE + "_get_model_version_from_db",),
    ),
    Entry(
        "experiment_exists",
        N_(
            "an experiment of that name already exists, and create_experiment only makes new ones: "
            "mlflow.set_experiment(experiment_name) uses it when it exists and creates it when it does not"
        ),
        code="RESOURCE_ALREADY_EXISTS",
        raised_in=(TRACKING_STORE + "create_experiment",),
    ),
    Entry(
        "model_exists",
        N_(
            "a registered model of that name already exists: mlflow.register_model(model_uri, model_name) "
            "adds a new version to it (and creates it only when it is missing)"
        ),
        code="RESOURCE_ALREADY_EXISTS",
        raised_in=("mlflow.prompt.registry_utils.handle_resource_already_exist_error", REGISTRY_STORE),
    ),
    Entry(
        "skops_untrusted",
        N_(
            "MLflow 3 saves scikit-learn models with skops, which refuses the trees inside RandomForest "
            "and GradientBoosting unless told to trust them: pass "
            'skops_trusted_types=["sklearn.tree._tree.Tree"] to mlflow.sklearn.log_model'
        ),
        code="INTERNAL_ERROR",
        context=SKOPS_UNTRUSTED,
    ),
)

# -- where the student's code ran: the facts of a real exception --------------------------------

EXPLICIT = "mlflow.start_run"  # a run the student's line started itself


@dataclass(frozen=True)
class RunStart:
    """How the student's code started a run: ``call``, the MLflow function the student's
    line called (``mlflow.start_run``, or a call MLflow started a run of its own for, as
    ``mlflow.set_tags`` outside any ``with`` block: ``implicit``), and ``frames``, the
    student's frames on the way (their file, as the code names it, and line), deepest
    first: that line is the first."""

    call: str
    frames: tuple[tuple[str, int], ...]

    @property
    def implicit(self) -> bool:
        return self.call != EXPLICIT


STARTED: dict[str, RunStart] = {}  # run id -> how the student's code started it
WATCHED: list[str] = []  # the student's folder whose lines ``watch_run_starts`` records


def qualified(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


def frame_name(frame: FrameType) -> str:
    """``mlflow.tracking.fluent.start_run``: the frame's module and function."""
    return f"{frame.f_globals.get('__name__', '')}.{frame.f_code.co_qualname}"


def in_folder(frame: FrameType, folder: str) -> bool:
    return bool(folder) and os.path.dirname(os.path.realpath(frame.f_code.co_filename)) == folder


def api_name(frame: FrameType | None) -> str:
    """How the student called MLflow's function whose frame this is: ``mlflow.set_tags``
    (the fluent API, which ``mlflow`` offers as its own), ``mlflow.sklearn.log_model``."""
    if frame is None:
        return ""
    module = str(frame.f_globals.get("__name__", ""))
    module = "mlflow" if module == "mlflow.tracking.fluent" else module
    return f"{module}.{frame.f_code.co_name}"


def run_start(folder: str, frame: FrameType | None) -> RunStart | None:
    """The frames of files of ``folder`` from ``frame`` outwards, and the MLflow function
    the innermost of them called (the outermost MLflow frame inside it; none: it called
    ``start_run`` itself); None when no student frame is on the stack."""
    callee: FrameType | None = None
    frames: list[tuple[str, int]] = []
    while frame is not None:
        if in_folder(frame, folder):
            frames.append((frame.f_code.co_filename, frame.f_lineno))
        elif not frames and frame_name(frame).startswith("mlflow."):
            callee = frame
        frame = frame.f_back
    return RunStart(api_name(callee) or EXPLICIT, tuple(frames)) if frames else None


def watch_run_starts(exercises: str) -> Callable[[], None]:
    """Remember, for each run ``mlflow.start_run`` starts from here on, how the student's
    code started it (``STARTED``): the ``start_run`` of a ``with`` block, or a
    ``mlflow.log_*`` call made while no run was active, for which MLflow starts one of its
    own. When a later ``start_run`` fails because a run is still active, ``started_by``
    says how that run was started: ``facts`` names its line, the cause, and
    ``grader.judge.attribution`` charges it to the TODO that holds it. Where the student's
    code runs, before it is imported (the guard ``grader.judge.probes.watch_run_starts``;
    ``kata run``), through the kit's one wrapper of ``start_run``
    (``grader.judge.mlflow_internals.watch_run_starts``). Returns what stops watching."""
    from grader.judge.mlflow_internals import watch_run_starts as watch

    WATCHED[:] = [os.path.realpath(exercises)]

    def record(run) -> None:
        try:
            start = run_start(WATCHED[0], sys._getframe(2))  # the caller of mlflow_internals' wrapper
            if start is not None:
                STARTED[run.info.run_id] = start
        except Exception:  # noqa: BLE001 - never the student's start_run's failure
            pass

    return watch(record)


def started_by(error: BaseException) -> RunStart | None:
    """How the student's code started the run that was still active when ``start_run``
    raised ``error`` (``mlflow_internals.RUN_STILL_ACTIVE``); None for any other error, or
    a run their code did not start."""
    from grader.judge.mlflow_internals import RUN_STILL_ACTIVE

    run_id = getattr(error, RUN_STILL_ACTIVE, None)
    return STARTED.get(run_id) if isinstance(run_id, str) else None


def facts(error: BaseException, exercises: str = "") -> dict[str, str] | None:
    """What ``explain`` needs of ``error``, as plain strings; None when MLflow did not
    raise it (neither an ``MlflowException`` nor raised in MLflow's code): ``type``,
    ``code``, ``raised_in``, ``context``, the deepest line of a student file (of the folder
    ``exercises``) on its way (``file``, ``line``) and, for a run still active, how the
    student's code started that run (``started``: ``implicit`` or ``explicit``, and
    ``start_call``, ``start_file``, ``start_line``)."""
    try:
        from mlflow.exceptions import MlflowException
    except ImportError:
        return None
    frames = [frame for frame, _line in traceback.walk_tb(error.__traceback__)]
    raised_in = frame_name(frames[-1]) if frames else ""
    if not isinstance(error, MlflowException) and not raised_in.startswith("mlflow."):
        return None
    found = {"type": qualified(type(error)), "raised_in": raised_in}
    if isinstance(error, MlflowException):
        found["code"] = str(error.error_code)
    handled = error.__cause__ or error.__context__
    if handled is not None:
        found["context"] = qualified(type(handled))
    folder = os.path.realpath(exercises) if exercises else ""
    for tb in traceback.walk_tb(error.__traceback__):
        if in_folder(tb[0], folder):
            found.update(file=os.path.basename(tb[0].f_code.co_filename), line=str(tb[1]))
    if raised_in == START_RUN:
        found.update(active_run_start(error))
    return found


def active_run_start(error: BaseException) -> dict[str, str]:
    """How the run still active was started, when the student's code started it."""
    start = started_by(error)
    if start is None:
        return {}
    path, line = start.frames[0]
    return {
        "started": "implicit" if start.implicit else "explicit",
        "start_call": start.call,
        "start_file": os.path.basename(path),
        "start_line": str(line),
    }


# -- in the judge: what a reply noted, explained ------------------------------------------------

NAME = re.compile(r"[A-Za-z_][\w.<>]{0,199}")  # a class, a code, a function's qualified name
FIELDS = {
    "type": NAME,
    "code": re.compile(r"[A-Z_]{1,64}"),
    "raised_in": NAME,
    "context": NAME,
    "file": re.compile(r"[\w.-]{1,100}\.py"),
    "line": re.compile(r"[0-9]{1,7}"),
    "started": re.compile(r"implicit|explicit"),
    "start_call": re.compile(r"[A-Za-z_][\w.]{0,79}"),
    "start_file": re.compile(r"[\w.-]{1,100}\.py"),
    "start_line": re.compile(r"[0-9]{1,7}"),
}


@dataclass(frozen=True)
class Explanation:
    """An MLflow error, explained: ``text`` (the entry's sentence, MLflow's own text quoted
    after it) and the student's line that led to it (``file``, ``line``; empty: not known)."""

    key: str
    text: str
    file: str = ""
    line: str = ""


def plain(note) -> dict[str, str] | None:
    """The fields of a reply's note that are what ``facts`` writes; None for no note."""
    if not isinstance(note, dict):
        return None
    found = {}
    for name, pattern in FIELDS.items():
        value = note.get(name)
        if isinstance(value, str) and pattern.fullmatch(value):
            found[name] = value
    return found if "type" in found else None


def mlflow_text(error: str, type_name: str) -> str:
    """MLflow's own words from a reply's ``error`` (``Type: text``): the first paragraph,
    on one line, cut to ``QUOTED_CHARS``."""
    text = error if isinstance(error, str) else ""
    text = text[: QUOTED_CHARS * 20].removeprefix(type_name.rpartition(".")[2] + ": ")
    text = " ".join(text.split("\n\n")[0].split()).translate({ord("«"): '"', ord("»"): '"'})
    return text if len(text) <= QUOTED_CHARS else text[: QUOTED_CHARS - 1].rstrip() + "…"


def explain(notes, error: str, translate=N_) -> Explanation | None:
    """The catalog's explanation of the MLflow error a call's reply noted (``notes``: the
    reply's ``notes``; ``error``: its ``Type: text``), in ``translate``'s language; None
    when the reply noted none or the catalog does not know it (its text is then shown as
    it is)."""
    found = plain(notes.get(NOTE) if isinstance(notes, dict) else None)
    if found is None:
        return None
    text = mlflow_text(error, found["type"])
    entry = next((entry for entry in CATALOG if entry.matches(found, text)), None)
    if entry is None:
        return None
    params = {
        "call": found.get("start_call", ""),
        "start_line": found.get("start_line", ""),
        "failed_line": found.get("line", ""),
    }
    says = translate(entry.says).format(**params)
    if text:
        says = translate(N_('{explanation} — MLflow says: "{text}"')).format(explanation=says, text=text)
    if entry.started == "implicit":  # the line that started the run is the cause
        return Explanation(entry.key, says, found.get("start_file", ""), found.get("start_line", ""))
    return Explanation(entry.key, says, found.get("file", ""), found.get("line", ""))


def explain_error(error: BaseException, exercises: str = "", translate=N_) -> Explanation | None:
    """``explain`` for an exception raised in this process (``kata run``: the student's code
    runs there), by the student's code in the folder ``exercises``."""
    found = facts(error, exercises)
    if found is None:
        return None
    return explain({NOTE: found}, f"{type(error).__name__}: {error}", translate)
