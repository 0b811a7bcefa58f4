"""Kit code that runs inside a sandboxed child, around the student's function.

Each probe receives the request and returns a JSON-able value. The student module is
imported here, in the child, never in the zygote or the judge.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path


class WrongResult(Exception):
    """The student function returned, but not the kind of value the task needs."""


class StudentImportError(Exception):
    """The student module could not even be imported (syntax error, crash at import)."""


def import_student_module(exercises: str, module: str):
    """Import ``exercises/module.py`` under a private name (kit packages win)."""
    path = Path(exercises) / f"{module}.py"
    if not path.is_file():
        raise FileNotFoundError(f"{module}.py is missing from the exercises folder")
    if exercises not in sys.path:
        sys.path.append(exercises)  # after site-packages: kit modules cannot be shadowed
    spec = importlib.util.spec_from_file_location(f"student_{module}", path)
    student = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(student)
    except SyntaxError as error:
        raise StudentImportError(f"{module}.py could not be imported: SyntaxError: {error.msg} "
                                 f"(line {error.lineno})") from None
    except Exception as error:  # noqa: BLE001 - any crash at import time
        raise StudentImportError(f"{module}.py crashed while being imported: "
                                 f"{type(error).__name__}: {error}") from error
    return student


def student_function(request: dict):
    student = import_student_module(request["exercises"], request["module"])
    function = getattr(student, request["function"], None)
    if not callable(function):
        raise AttributeError(f"{request['module']}.py has no function {request['function']}()")
    return function


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
    raise WrongResult(f"returned a {type(value).__name__}, which is not plain data")


def frame(records: dict):
    import pandas as pd

    return pd.DataFrame(records["data"], columns=records["columns"])


def call(request: dict):
    """Call the student function with JSON arguments; return its JSON-able result."""
    function = student_function(request)
    return to_json(function(*request.get("args", []), **request.get("kwargs", {})))


def call_with_frame(request: dict):
    """Call the student function with a DataFrame built from ``request['frame']``."""
    function = student_function(request)
    return to_json(function(frame(request["frame"])))


def predictions(model, rows: dict) -> list:
    if not hasattr(model, "predict"):
        raise WrongResult(f"returned a {type(model).__name__}, which has no predict()")
    return to_json(model.predict(frame(rows)))


def call_then_predict(request: dict):
    """Call the student function, which returns a model; predict ``request['frame']``."""
    function = student_function(request)
    model = function(*request.get("args", []), **request.get("kwargs", {}))
    if model is None:
        raise WrongResult("returned None instead of a model")
    return {"type": type(model).__module__ + "." + type(model).__name__,
            "predictions": predictions(model, request["frame"])}


def load_model_and_predict(request: dict):
    """Load the MLflow model at ``request['uri']`` (student-made) and predict with it."""
    import mlflow.pyfunc
    from mlflow.models import get_model_info

    try:
        info = get_model_info(request["uri"])
    except Exception as error:  # noqa: BLE001 - nothing logged there: the TODO's own failure
        return {"missing": True, "reason": f"{type(error).__name__}: {error}"}
    model = mlflow.pyfunc.load_model(request["uri"])
    return {
        "missing": False,
        "flavors": sorted(info.flavors),
        "has_signature": info.signature is not None,
        "predictions": predictions(model, request["frame"]),
    }


def kit(request: dict):
    """Run trusted kit code (``grader.seeding``) in the child's warm interpreter."""
    from grader.seeding import KIT_FUNCTIONS

    return KIT_FUNCTIONS[request["function"]](**request.get("kwargs", {}))


def self_test(request: dict):
    """What the zygote runs once to see whether a confinement works here: the work
    folder is writable, lazy imports and a model fit still work."""
    import sklearn.tree

    Path("probe.txt").write_text("ok")
    sklearn.tree.DecisionTreeRegressor(max_depth=1).fit([[0.0], [1.0]], [0.0, 1.0])
    return Path("probe.txt").read_text()


PROBES = {
    "self_test": self_test,
    "kit": kit,
    "call": call,
    "call_with_frame": call_with_frame,
    "call_then_predict": call_then_predict,
    "load_model_and_predict": load_model_and_predict,
}
