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


def register_best(
    experiment_name="devops-model-comparison", model_name="devops-response-time", metric="r2"
):
    """Register the best run's model, annotate and promote it; return its version."""
    client = MlflowClient()
    experiment = client.get_experiment_by_name(experiment_name)

    version = None
    ranked = client.search_runs(experiment_ids=[experiment.experiment_id],
                                order_by=[f"metrics.{metric} DESC"], max_results=1)
    top = ranked[0]
    version = mlflow.register_model(model_uri=f"runs:/{top.info.run_id}/model", name=model_name)

    # Until TODO 4.1 registers a version, practise 4.2 and 4.3 on the newest one.
    version = version or newest_version(client, model_name)
    if version is None:
        return None
    source_run = client.get_run(version.run_id)

    params, run_metrics = source_run.data.params, source_run.data.metrics
    client.set_model_version_tag(name=model_name, version=version.version, key="model_type", value=params["model_type"])
    client.set_model_version_tag(name=model_name, version=version.version, key="r2", value=str(run_metrics["r2"]))
    client.update_model_version(name=model_name, version=version.version,
                                description=f"{params['model_type']} with r2 {run_metrics['r2']:.4f}")

    client.set_registered_model_alias(name=model_name, alias="staging", version=version.version)

    return version.version


def load_staging_model(model_name="devops-response-time"):
    """Return the pyfunc model the ``staging`` alias points at."""
    return mlflow.pyfunc.load_model(model_uri=f"models:/{model_name}@staging")
