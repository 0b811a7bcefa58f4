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
    """Register the best run's model, annotate and promote it; return its version.

    ES: Registra en el Model Registry el modelo de la mejor ejecución, anota la
    versión y promuévela; devuelve su número de versión.
    """
    client = MlflowClient()
    experiment = client.get_experiment_by_name(experiment_name)

    version = None
    # BEGIN TODO 4.1
    best_run = client.search_runs(
        [experiment.experiment_id], order_by=[f"metrics.{metric} DESC"], max_results=1
    )[0]
    version = mlflow.register_model(f"runs:/{best_run.info.run_id}/model", model_name)
    # END TODO 4.1

    # Until TODO 4.1 registers a version, practise 4.2 and 4.3 on the newest one.
    #   ES: Hasta que el TODO 4.1 registre una versión, practica 4.2 y 4.3 con la más
    #     reciente.
    version = version or newest_version(client, model_name)
    if version is None:
        return None
    source_run = client.get_run(version.run_id)

    # BEGIN TODO 4.2
    client.set_model_version_tag(
        model_name, version.version, "model_type", source_run.data.params["model_type"]
    )
    client.set_model_version_tag(
        model_name, version.version, "r2", str(source_run.data.metrics["r2"])
    )
    client.update_model_version(
        model_name,
        version.version,
        description=f"Best {source_run.data.params['model_type']} by {metric}.",
    )
    # END TODO 4.2

    # BEGIN TODO 4.3
    client.set_registered_model_alias(model_name, "staging", version.version)
    # END TODO 4.3

    return version.version


def load_staging_model(model_name="devops-response-time"):
    """Return the pyfunc model the ``staging`` alias points at.

    ES: Devuelve el modelo pyfunc al que apunta el alias ``staging``.
    """
    # BEGIN TODO 4.4
    return mlflow.pyfunc.load_model(f"models:/{model_name}@staging")
    # STUB: return None
    # END TODO 4.4
