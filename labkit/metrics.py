"""The three held-out metrics every task logs."""

from __future__ import annotations

import math

from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score


def evaluate(model, X_test, y_test) -> dict[str, float]:
    """Return ``{"rmse", "r2", "mae"}`` of a fitted model on the held-out rows."""
    predictions = model.predict(X_test)
    return {
        "rmse": math.sqrt(mean_squared_error(y_test, predictions)),
        "r2": float(r2_score(y_test, predictions)),
        "mae": float(mean_absolute_error(y_test, predictions)),
    }
