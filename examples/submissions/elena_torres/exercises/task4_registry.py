"""Task 4 — Model registry.

Register the best model of the comparison, annotate the new version, promote it to
staging with an alias, and load it back by that alias to predict.

Tarea 4 — Registro de modelos.
Registra el mejor modelo de la comparación, anota la nueva versión, promuévela a
staging con un alias y vuelve a cargarla por ese alias para predecir.

Check your work / Comprueba tu trabajo:  pytest tests/test_task4.py
"""

import mlflow
import mlflow.pyfunc
from mlflow.tracking import MlflowClient

from labkit.registry import newest_version

STAGING_ALIAS = staging  # nombre del alias


def register_best(
    experiment_name="devops-model-comparison", model_name="devops-response-time", metric="r2"
):
    """Register the best run's model, annotate and promote it; return its version."""
    client = MlflowClient()
    experiment = client.get_experiment_by_name(experiment_name)

    version = None
    # 4.1
    ranked = client.search_runs([experiment.experiment_id], order_by=[f"metrics.{metric} DESC"])
    version = mlflow.register_model(f"runs:/{ranked[0].info.run_id}/model", model_name)

    # Until TODO 4.1 registers a version, practise 4.2 and 4.3 on the newest one.
    version = version or newest_version(client, model_name)
    if version is None:
        return None
    source_run = client.get_run(version.run_id)

    # 4.2
    tags = {
        "model_type": source_run.data.params["model_type"],
        "r2": str(source_run.data.metrics["r2"]),
    }
    for key, value in tags.items():
        client.set_model_version_tag(model_name, version.version, key, value)
    client.update_model_version(model_name, version.version,
                                description="Mejor modelo de la comparación")

    # 4.3
    client.set_registered_model_alias(model_name, STAGING_ALIAS, version.version)

    return version.version


def load_staging_model(model_name="devops-response-time"):
    """Return the pyfunc model the ``staging`` alias points at."""
    # 4.4
    return mlflow.pyfunc.load_model(f"models:/{model_name}@{STAGING_ALIAS}")
