"""The kit's reference models, fitted by the judge to know what a TODO should leave.

Every fit reads the judge's own copy of the data (``grader.judge.inputs``), never the file a
student call could have replaced; fits are cached by that copy's content: a grading
worker meets the same test samples for every submission, so each reference model is
fitted once per worker.
"""

from __future__ import annotations

import hashlib
import io
import json
from functools import lru_cache
from pathlib import Path

from grader.judge import inputs

MODEL_KINDS = ("LinearRegression", "RandomForest", "GradientBoosting")


def build(kind: str, params: dict):
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import LinearRegression

    classes = {
        "LinearRegression": LinearRegression,
        "RandomForest": RandomForestRegressor,
        "GradientBoosting": GradientBoostingRegressor,
    }
    return classes[kind](**params)


class Content:
    """Data bytes that hash and compare by their digest (an ``lru_cache`` key)."""

    def __init__(self, data: bytes):
        self.data = data
        self.digest = hashlib.sha256(data).hexdigest()

    def __hash__(self) -> int:
        return hash(self.digest)

    def __eq__(self, other) -> bool:
        return isinstance(other, Content) and other.digest == self.digest


def fitted(kind: str, data_path: Path | str, rows: slice = slice(None), **params):
    """``kind(**params)`` fitted on the training rows of ``data_path`` (optionally a slice)."""
    content = Content(inputs.read(data_path))
    return _fitted(kind, content, rows.start, rows.stop, json.dumps(params, sort_keys=True))


@lru_cache(maxsize=256)
def _fitted(kind, content: Content, start, stop, params_json):
    from labkit import load_split

    split = load_split(io.BytesIO(content.data))
    return build(kind, json.loads(params_json)).fit(split.X_train.iloc[start:stop], split.y_train.iloc[start:stop])


def expected_metrics(kind: str, data_path: Path, **params) -> dict[str, float]:
    """The held-out metrics the kit's own ``kind(**params)`` gets on ``data_path``."""
    from labkit import evaluate

    split = inputs.split(data_path)
    return evaluate(fitted(kind, data_path, **params), split.X_test, split.y_test)
