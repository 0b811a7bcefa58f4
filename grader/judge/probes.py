"""The judge's probes: kit code run in a sandboxed child around the student's function,
for what the lab's tests need beyond a plain call (a DataFrame argument, a returned
model's predictions, an MLflow model's, trusted seeding) and the excuses that let one
TODO be judged apart from another's failure.

Added to the sandbox's own probes (``grader.sandbox.probes``) by the judge's preload
module (``grader.judge.preload``): the sandbox itself knows nothing of the lab.
"""

from __future__ import annotations

import json

from grader.sandbox.probes import EXCUSES_USED, WrongResult, answer, described, student_function, to_json
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
