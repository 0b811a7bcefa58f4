"""Kit code that runs inside a sandboxed child, around the student's function.

Each probe receives the request and returns a JSON-able value. The student module is
imported here, in the child, never in the zygote or the judge. What went wrong travels
to the judge as a *kind* (``error_kind``), a field of the reply: never as text a
student's own exception could imitate.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

from grader.sandbox.words import with_words


class WrongResult(Exception):
    """The student function returned, but not the kind of value the task needs."""

    kind = "wrong_result"


class StudentImportError(Exception):
    """The student module could not even be imported (syntax error, crash at import)."""

    kind = "import"


def error_kind(error: BaseException) -> str:
    """``import``, ``wrong_result`` (the kit's own verdicts on the student module),
    ``memory``, or ``raised`` (anything the student's code raised)."""
    if isinstance(error, (WrongResult, StudentImportError)):
        return error.kind
    return "memory" if isinstance(error, MemoryError) else "raised"


def import_student_module(exercises: str, module: str):
    """Import ``exercises/module.py`` under a private name (kit packages win)."""
    path = Path(exercises) / f"{module}.py"
    if not path.is_file():
        raise with_words(FileNotFoundError(), "file_missing", file=f"{module}.py")
    if exercises not in sys.path:
        sys.path.append(exercises)  # after site-packages: kit modules cannot be shadowed
    spec = importlib.util.spec_from_file_location(f"student_{module}", path)
    student = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(student)
    except SyntaxError as error:
        raise with_words(StudentImportError(), "syntax_error", file=f"{module}.py",
                         error=f"SyntaxError: {error.msg} (line {error.lineno})") from None
    except Exception as error:  # noqa: BLE001 - any crash at import time
        raise with_words(StudentImportError(), "import_crash", file=f"{module}.py",
                         error=f"{type(error).__name__}: {error}") from error
    return student


def student_function(request: dict):
    student = import_student_module(request["exercises"], request["module"])
    function = getattr(student, request["function"], None)
    if not callable(function):
        raise with_words(AttributeError(), "no_function", file=f"{request['module']}.py",
                         function=request["function"])
    return function


class NotPlainData(TypeError):
    """A value with no JSON form (an ActiveRun, a ModelVersion, …)."""


def to_json(value):
    """Plain JSON types from numpy/pandas scalars and containers; reject the rest."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars, pandas Series
        return to_json(value.tolist())
    raise NotPlainData(type(value).__name__)


def answer(value) -> dict:
    """The reply fields for a value the student's function returned: ``value``, or,
    when it has no JSON form, ``described`` (its type and a short repr), so that only
    the TODOs that need the returned value fail on it; the others are still judged by
    what MLflow holds."""
    try:
        return {"value": to_json(value)}
    except NotPlainData:
        return described(value)


def described(value, why: str = "") -> dict:
    """The reply for a value the kit cannot use: its type and a short repr (and ``why``)."""
    text = repr(value)
    text = text if len(text) <= 100 else text[:97] + "..."
    return {"value": None, "described": {"type": type(value).__name__, "repr": f"{text}{why}"}}


def frame(records: dict):
    import pandas as pd

    return pd.DataFrame(records["data"], columns=records["columns"])


EXCUSES_USED: list[str] = []  # the excuses that swallowed an exception in this call


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

    mlflow.sklearn.log_model = excused(mlflow.sklearn.log_model)
    signature = excused(mlflow.models.infer_signature)
    mlflow.models.infer_signature = mlflow.models.signature.infer_signature = signature


EXCUSES = {"model_logging": excuse_model_logging}


def call(request: dict):
    """Call the student function with JSON arguments; return its answer (``answer``)."""
    for name in request.get("excused", []):
        EXCUSES[name]()  # before the student module binds the names at import
    function = student_function(request)
    returned = answer(function(*request.get("args", []), **request.get("kwargs", {})))
    if request.get("excused"):
        returned["excuses_used"] = sorted(set(EXCUSES_USED))
    return returned


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
    return answer({"type": type(model).__module__ + "." + type(model).__name__,
                   "predictions": predictions(model, request["frame"])})


def load_model_and_predict(request: dict):
    """Load the MLflow model at ``request['uri']`` (student-made) and predict with it."""
    import mlflow.pyfunc
    from mlflow.models import get_model_info

    try:
        info = get_model_info(request["uri"])
    except Exception as error:  # noqa: BLE001 - nothing logged there: the TODO's own failure
        return answer({"missing": True, "reason": f"{type(error).__name__}: {error}"})
    model = mlflow.pyfunc.load_model(request["uri"])
    return answer({
        "missing": False,
        "flavors": sorted(info.flavors),
        "has_signature": info.signature is not None,
        "predictions": predictions(model, request["frame"]),
    })


def kit(request: dict):
    """Run trusted kit code (``grader.judge.seeding``) in the child's warm interpreter."""
    from grader.judge.seeding import KIT_FUNCTIONS

    return answer(KIT_FUNCTIONS[request["function"]](**request.get("kwargs", {})))


def self_test(request: dict):
    """What the zygote runs once to see whether a confinement works here: the work
    folder is writable, lazy imports and a model fit still work."""
    import os

    import mlflow
    import sklearn.tree

    # Read from disk as a lazy import would: a uid of its own must reach the standard
    # library, site-packages and labkit/ along their real paths.
    import labkit

    for module in (os, sklearn.tree, mlflow, labkit):
        Path(module.__file__).read_bytes()
    Path("probe.txt").write_text("ok")
    sklearn.tree.DecisionTreeRegressor(max_depth=1).fit([[0.0], [1.0]], [0.0, 1.0])
    return answer(Path("probe.txt").read_text())


PROBES = {
    "self_test": self_test,
    "kit": kit,
    "call": call,
    "call_with_frame": call_with_frame,
    "call_then_predict": call_then_predict,
    "load_model_and_predict": load_model_and_predict,
}
