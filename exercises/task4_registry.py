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
    # TODO 4.1: Find the run with the highest `metric` (client.search_runs(...,
    #     order_by=[f"metrics.{metric} DESC"])) and register its model:
    #     mlflow.register_model(f"runs:/{run_id}/model", model_name).
    #   ES: Busca la ejecución con el `metric` más alto (client.search_runs(...,
    #     order_by=[f"metrics.{metric} DESC"])) y registra su modelo en el Model
    #     Registry: mlflow.register_model(f"runs:/{run_id}/model", model_name).
    pass

    # Until TODO 4.1 registers a version, practise 4.2 and 4.3 on the newest one.
    #   ES: Hasta que el TODO 4.1 registre una versión, practica 4.2 y 4.3 con la más
    #     reciente.
    version = version or newest_version(client, model_name)
    if version is None:
        return None
    source_run = client.get_run(version.run_id)

    # TODO 4.2: Tag the new version with model_type (the run's param) and r2 (the run's
    #     metric, as text) and give it a description.
    #   ES: Etiqueta la nueva versión con model_type (el parámetro de la ejecución) y r2
    #     (su métrica, como texto) y dale una descripción.
    pass

    # TODO 4.3: Promote the new version to staging: point the alias "staging" at it
    #     (stages are deprecated; aliases replace them).
    #   ES: Promueve la nueva versión a staging: apunta el alias "staging" a ella (las
    #     etapas están obsoletas; los alias las sustituyen).
    pass

    return version.version


def load_staging_model(model_name="devops-response-time"):
    """Return the pyfunc model the ``staging`` alias points at.

    ES: Devuelve el modelo pyfunc al que apunta el alias ``staging``.
    """
    # TODO 4.4: Load and return the pyfunc model behind models:/{model_name}@staging.
    #   ES: Carga y devuelve el modelo pyfunc de models:/{model_name}@staging.
    return None
