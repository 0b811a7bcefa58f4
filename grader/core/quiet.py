"""One place that silences MLflow's telemetry and chatter (tests, grading, sandbox)."""

from __future__ import annotations

import logging
import os
import warnings

QUIET_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "PYTHONDONTWRITEBYTECODE": "1",
    "GIT_PYTHON_REFRESH": "quiet",
    "MLFLOW_LOGGING_LEVEL": "ERROR",
}


def silence_mlflow() -> None:
    """Set the quiet environment and mute MLflow's loggers and warnings."""
    os.environ.update(QUIET_ENV)
    for name in ("mlflow", "alembic", "mlflow.telemetry", "mlflow.store", "skops"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="mlflow")
    warnings.filterwarnings("ignore", category=FutureWarning)
