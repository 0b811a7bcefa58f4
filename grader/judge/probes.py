"""The judge's probes: kit code run in a sandboxed child around the student's function,
for what the lab's tests need beyond a plain call (a DataFrame argument, a returned
model's predictions, an MLflow model's, trusted seeding) and the excuses that let one
TODO be judged apart from another's failure.

Added to the sandbox's own probes (``grader.sandbox.probes``) by the judge's preload
module (``grader.judge.preload``): the sandbox itself knows nothing of the lab.
"""

from __future__ import annotations

import json

from grader.judge.attribution import note_raise, rewrite
from grader.sandbox.probes import (
    EXCUSES_USED,
    NOTES,
    WrongResult,
    answer,
    described,
    student_function,
    to_json,
)
from grader.sandbox.words import with_words


def frame(records: dict):
    import pandas as pd

    return pd.DataFrame(records["data"], columns=records["columns"])


def excuse_model_logging() -> None:
    """Judging TODOs that do not own model logging (3.1, 3.2), a failing
    ``mlflow.sklearn.log_model`` or ``infer_signature`` (3.3's job: e.g. no
    ``skops_trusted_types`` for a tree model) returns None instead of raising, so the
    function goes on to its other runs. The TODO that owns it is judged without this.
    Each swallowed exception is noted in ``EXCUSES_USED``: a call whose excuses
    swallowed nothing behaved exactly as it would have without them."""
    import functools

    import mlflow.models
    import mlflow.models.signature
    import mlflow.sklearn

    def excused(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except Exception:  # noqa: BLE001 - the owning TODO reports it
                EXCUSES_USED.append("model_logging")
                return None

        return wrapper

    # mlflow types its flavour modules as LazyLoader objects, which have no log_model
    mlflow.sklearn.log_model = excused(mlflow.sklearn.log_model)  # type: ignore[attr-defined]
    signature = excused(mlflow.models.infer_signature)
    mlflow.models.infer_signature = mlflow.models.signature.infer_signature = signature


EXCUSES = {"model_logging": excuse_model_logging}

OWN_STORE = "own_store"  # the note (``NOTES``) of a call whose code chose its own store
URI_VARIABLES = {"tracking": "MLFLOW_TRACKING_URI", "registry": "MLFLOW_REGISTRY_URI"}
SETTERS = {"tracking": "set_tracking_uri", "registry": "set_registry_uri"}
CLIENT_ARGUMENTS = {"tracking": "tracking_uri", "registry": "registry_uri"}
SHOWN_CHARS = 160  # of an address in a note


class StoreElsewhere(Exception):
    """The student's code asked MLflow for a store other than the one the call was given
    (``guard_store``)."""


def guard_store(request: dict) -> None:
    """Every call is given its own MLflow store (``MLFLOW_TRACKING_URI`` and
    ``MLFLOW_REGISTRY_URI``); code that chooses another one, as MLflow's tutorials do
    (``mlflow.set_tracking_uri("http://127.0.0.1:5000")`` or ``"sqlite:///mlflow.db"``
    at the top of the file), would leave its work where the judge never looks, or wait
    for a server the sandbox cannot reach until the time limit. So, in the child, before
    the student module is imported, a ``StoreGuard`` for the whole call: the first time
    MLflow is about to use a store whose URI is not the call's, the note ``own_store``
    says which address was chosen and by what (``NOTES``: the judge names it on the TODOs
    that fail), and ``StoreElsewhere`` is raised there, before any store is opened or
    server asked; again at every later use."""
    guard = StoreGuard(request["exercises"])
    if guard.given["tracking"]:  # a call given a store: guard it
        guard.install(lambda note: NOTES.setdefault(OWN_STORE, note))


class StoreGuard:
    """Stops student code at the first use of an MLflow store other than the one given in
    ``MLFLOW_TRACKING_URI``/``MLFLOW_REGISTRY_URI`` (``mlflow_internals.watch_store_uris``:
    whatever chose it, a setter, an ``MlflowClient`` argument or the environment), raising
    ``StoreElsewhere`` after telling ``noted`` which address was chosen, by what and on
    which line of a file of ``exercises`` (a note: ``what``, ``uri``, ``call``, ``file``,
    ``line``). The public setters are wrapped only to remember the student's line that
    chose an address (``chosen``). Setting the given URI again changes nothing and is not
    noted. ``remove`` undoes it all (``kata run``, in the student's own process)."""

    def __init__(self, exercises: str):
        import os

        self.exercises = os.path.abspath(exercises)
        self.given = {what: os.environ.get(name) for what, name in URI_VARIABLES.items()}
        self.given["registry"] = self.given["registry"] or self.given["tracking"]
        self.chosen: dict[tuple[str, str], dict[str, str]] = {}  # (what, uri) -> how, by a setter
        self._undo: list = []
        self._settings: tuple | None = None  # MLflow's store URIs when installed

    def student_place(self) -> dict[str, str]:
        """The innermost frame of a student file on the stack: its file and line."""
        import os
        import sys
        from types import FrameType

        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            path = os.path.abspath(frame.f_code.co_filename)
            if os.path.dirname(path) == self.exercises:
                return {"file": os.path.basename(path), "line": str(frame.f_lineno)}
            frame = frame.f_back
        return {}

    def how(self, what: str, uri) -> dict[str, str]:
        """How ``uri`` came to be the ``what`` store: a setter's call and line, the
        environment variable, else an argument (``MlflowClient(tracking_uri=...)``)."""
        import os

        how = self.chosen.get((what, uri))
        if how is None and os.environ.get(URI_VARIABLES[what]) == uri:
            how = {"call": f"os.environ[{URI_VARIABLES[what]!r}] = {shown(uri)}"}
        if how is None:  # an argument: MlflowClient(tracking_uri=...) where it was made
            how = {"call": f"MlflowClient({CLIENT_ARGUMENTS[what]}={shown(uri)})", **self.student_place()}
        return {"what": what, "uri": str(uri)[:SHOWN_CHARS], **how}

    def elsewhere(self) -> dict[str, str] | None:
        """The note for a store chosen now other than the given one, used yet or not."""
        import mlflow

        for what, uri in (("tracking", mlflow.get_tracking_uri()), ("registry", mlflow.get_registry_uri())):
            if uri != self.given[what]:
                return self.how(what, uri)
        return None

    def install(self, noted) -> None:
        from functools import wraps

        import mlflow
        import mlflow.config
        import mlflow.tracking

        from grader.judge import mlflow_internals

        self._settings = mlflow_internals.store_uri_settings()

        def current(what: str) -> str:
            return mlflow.get_tracking_uri() if what == "tracking" else mlflow.get_registry_uri()

        def remembered(what: str, setter):
            @wraps(setter)
            def wrapper(uri, *args, **kwargs):
                result = setter(uri, *args, **kwargs)
                now = current(what)
                if now != self.given[what]:
                    self.chosen[what, now] = {"call": f"mlflow.{SETTERS[what]}({shown(uri)})", **self.student_place()}
                return result

            return wrapper

        for what, name in SETTERS.items():
            original = getattr(mlflow, name)
            wrapped = remembered(what, original)
            for module in (mlflow, mlflow.tracking, mlflow.config):  # where MLflow offers them
                if hasattr(module, name):
                    self._undo.append((module, name, getattr(module, name)))
                    setattr(module, name, wrapped)

        def check(what: str, uri) -> None:
            if uri == self.given[what]:
                return
            note = self.how(what, uri)
            noted(note)
            raise StoreElsewhere(f"the tests give each call its own MLflow store; {note['call']} chose another one")

        self._stop_watching = mlflow_internals.watch_store_uris(check)

    def remove(self) -> None:
        """Undo ``install``, and what the student's code set since: MLflow's store URIs as
        they were (the process may go on, as a test's does)."""
        from grader.judge import mlflow_internals

        if self._settings is not None:
            mlflow_internals.restore_store_uri_settings(self._settings)
            self._settings = None
        for module, name, original in reversed(self._undo):
            setattr(module, name, original)
        self._undo.clear()
        stop = getattr(self, "_stop_watching", None)
        if stop is not None:
            stop()
            self._stop_watching = None


def shown(value) -> str:
    """An address as a note quotes it: its repr, cut to ``SHOWN_CHARS``."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def watch_run_starts(request: dict) -> None:
    """Which student lines started each run, and how (``grader.judge.mlflow_errors.
    watch_run_starts``, the one record of run starts): when a run still active makes a later
    ``start_run`` fail, the line that started it is the cause the student is told of
    (``note_mlflow_error``) and the TODO it is charged to (``note_raise``)."""
    from grader.judge.mlflow_errors import watch_run_starts as watch

    watch(request["exercises"])


GUARDS = [guard_store, watch_run_starts]
REWRITES = [rewrite]  # a replay of a call without the statement that raised (grader.judge.attribution)


def note_mlflow_error(request: dict, error: BaseException) -> None:
    """What an MLflow error that ended the call is (``grader.judge.mlflow_errors.facts``),
    noted for the judge, which explains it in the student's language."""
    from grader.judge.mlflow_errors import NOTE, facts

    found = facts(error, request.get("exercises", ""))
    if found:
        NOTES[NOTE] = found


# which TODO's code raised (grader.judge.attribution); which MLflow error it is (grader.judge.mlflow_errors)
ON_RAISE = [note_raise, note_mlflow_error]


def call_with_frame(request: dict):
    """Call the student function with a DataFrame built from ``request['frame']``. What
    it returns is a request body (``build_request``): it must be what ``json.dumps`` (and
    so ``requests.post(json=…)``) writes; ``to_json`` would quietly turn a numpy array in
    it into a list, which no real client does."""
    function = student_function(request)
    value = function(frame(request["frame"]))
    try:
        json.dumps(value)
    except (TypeError, ValueError) as error:
        return described(value, f" (json.dumps: {error})")
    return answer(value)


def predictions(model, rows: dict) -> list:
    if not hasattr(model, "predict"):
        raise with_words(WrongResult(), "no_predict", type=type(model).__name__)
    return to_json(model.predict(frame(rows)))


def call_then_predict(request: dict):
    """Call the student function, which returns a model; predict ``request['frame']``."""
    function = student_function(request)
    model = function(*request.get("args", []), **request.get("kwargs", {}))
    if model is None:
        raise with_words(WrongResult(), "no_model")
    return answer(
        {
            "type": type(model).__module__ + "." + type(model).__name__,
            "predictions": predictions(model, request["frame"]),
        }
    )


def load_model_and_predict(request: dict):
    """Load the MLflow model at ``request['uri']`` (student-made) and predict with it."""
    import mlflow.pyfunc
    from mlflow.models import get_model_info

    try:
        info = get_model_info(request["uri"])
    except Exception as error:  # noqa: BLE001 - nothing logged there: the TODO's own failure
        return answer({"missing": True, "reason": f"{type(error).__name__}: {error}"})
    model = mlflow.pyfunc.load_model(request["uri"])
    return answer(
        {
            "missing": False,
            "flavors": sorted(info.flavors),
            "has_signature": info.signature is not None,
            "predictions": predictions(model, request["frame"]),
        }
    )


def kit(request: dict):
    """Run trusted kit code (``grader.judge.seeding``) in the child's warm interpreter."""
    from grader.judge.seeding import KIT_FUNCTIONS

    return answer(KIT_FUNCTIONS[request["function"]](**request.get("kwargs", {})))


PROBES = {
    "kit": kit,
    "call_with_frame": call_with_frame,
    "call_then_predict": call_then_predict,
    "load_model_and_predict": load_model_and_predict,
}
