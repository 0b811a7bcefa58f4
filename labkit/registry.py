"""Small registry helpers used by the Task 4 exercise and its tests."""

from __future__ import annotations

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient


def newest_version(client: MlflowClient, model_name: str) -> ModelVersion | None:
    """The highest-numbered version of ``model_name``, or None if it has none."""
    try:
        versions = client.search_model_versions(f"name = '{model_name}'")
    except MlflowException:
        return None
    return max(versions, key=lambda v: int(v.version), default=None)
