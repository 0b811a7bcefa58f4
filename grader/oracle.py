"""The kit's reference models, fitted by the judge to know what a TODO should leave.

Fits are cached by the data file's content: a grading worker meets the same test
samples for every submission, so each reference model is fitted once per worker.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

MODEL_KINDS = ("LinearRegression", "RandomForest", "GradientBoosting")


def build(kind: str, params: dict):
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import LinearRegression

    classes = {"LinearRegression": LinearRegression, "RandomForest": RandomForestRegressor,
               "GradientBoosting": GradientBoostingRegressor}
    return classes[kind](**params)


def fitted(kind: str, data_path: Path, rows: slice = slice(None), **params):
    """``kind(**params)`` fitted on the training rows of ``data_path`` (optionally a slice)."""
    digest = hashlib.sha256(Path(data_path).read_bytes()).hexdigest()
    return _fitted(kind, digest, str(data_path), rows.start, rows.stop, json.dumps(params, sort_keys=True))


@lru_cache(maxsize=256)
def _fitted(kind, digest, data_path, start, stop, params_json):
    from labkit import load_split

    split = load_split(data_path)
    return build(kind, json.loads(params_json)).fit(split.X_train.iloc[start:stop],
                                                    split.y_train.iloc[start:stop])


def expected_metrics(kind: str, data_path: Path, **params) -> dict[str, float]:
    """The held-out metrics the kit's own ``kind(**params)`` gets on ``data_path``."""
    from labkit import evaluate, load_split

    split = load_split(data_path)
    return evaluate(fitted(kind, data_path, **params), split.X_test, split.y_test)
