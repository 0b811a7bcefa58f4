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


def _best_run_id(client, experiment, metric):
    """The id of the run with the highest ``metric`` (None when there are no runs)."""
    if experiment is None:
        raise ValueError("run task 3 first: no comparison experiment")
    found = client.search_runs(
        experiment_ids=[experiment.experiment_id],
        filter_string=f"metrics.{metric} > -1e9",
        order_by=[f"metrics.{metric} DESC"],
        max_results=5,
    )
    return found[0].info.run_id if found else None


def register_best(
    experiment_name="devops-model-comparison", model_name="devops-response-time", metric="r2"
):
    """Register the best run's model, annotate and promote it; return its version."""
    client = MlflowClient()
    experiment = client.get_experiment_by_name(experiment_name)

    version = None
    best_run_id = _best_run_id(client, experiment, metric)
    if best_run_id is not None:
        version = mlflow.register_model(model_uri=f"runs:/{best_run_id}/model", name=model_name)

    # Until TODO 4.1 registers a version, practise 4.2 and 4.3 on the newest one.
    version = version or newest_version(client, model_name)
    if version is None:
        return None
    source_run = client.get_run(version.run_id)

    tags = {
        "model_type": source_run.data.params.get("model_type", "unknown"),
        "r2": f"{source_run.data.metrics.get('r2', float('nan'))}",
    }
    for key, value in tags.items():
        client.set_model_version_tag(model_name, version.version, key, value)
    summary = ", ".join(f"{k}={v}" for k, v in tags.items())
    client.update_model_version(model_name, version.version, description=f"Registered by register_best ({summary})")

    client.set_registered_model_alias(model_name, "staging", version.version)
    assert client.get_model_version_by_alias(model_name, "staging").version == version.version

    return version.version


def load_staging_model(model_name="devops-response-time"):
    """Return the pyfunc model the ``staging`` alias points at."""
    uri = f"models:/{model_name}@staging"
    loaded = mlflow.pyfunc.load_model(uri)
    if loaded is None:
        raise RuntimeError(f"nothing at {uri}")
    return loaded
