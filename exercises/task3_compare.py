"""Task 3 — Model comparison.

Train three regressors on the same split, one named run each, with their metrics
and the fitted model itself, so the MLflow UI can rank them (sort by r2).

Tarea 3 — Comparación de modelos.
Entrena tres regresores con la misma partición, una ejecución con nombre para cada
uno, con sus métricas y el propio modelo entrenado, para que la UI de MLflow los
ordene (ordena por r2).

Check your work / Comprueba tu trabajo:  pytest tests/test_task3.py
"""

import mlflow
import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import LinearRegression

from labkit import evaluate, load_split


def build_models():
    """The three candidates, keyed by the name their run and param carry.

    ES: Los tres candidatos, por el nombre que llevan su ejecución y su parámetro.
    """
    return {
        "LinearRegression": LinearRegression(),
        "RandomForest": RandomForestRegressor(n_estimators=100, random_state=42),
        "GradientBoosting": GradientBoostingRegressor(random_state=42),
    }


def compare_models(data_path, experiment_name="devops-model-comparison"):
    """Train, evaluate and log every model; return ``{model name: run id}``.

    ES: Entrena, evalúa y anota cada modelo; devuelve ``{nombre del modelo: id de la
    ejecución}``.
    """
    X_train, X_test, y_train, y_test = load_split(data_path)
    mlflow.set_experiment(experiment_name)

    run_ids = {}
    for name, model in build_models().items():
        model.fit(X_train, y_train)
        # TODO 3.1: Name the run after the model (mlflow.start_run(run_name=name)) and
        #     log the param model_type=name.
        #   ES: Nombra la ejecución como el modelo (mlflow.start_run(run_name=name)) y
        #     anota el parámetro model_type=name.
        with mlflow.start_run() as run:
            # TODO 3.2: Log the model's held-out metrics with one mlflow.log_metrics
            #     call.
            #   ES: Anota las métricas de prueba del modelo con una sola llamada a
            #     mlflow.log_metrics.
            pass

            # TODO 3.3: Log the fitted model as an MLflow sklearn model named "model",
            #     with a signature (mlflow.sklearn.log_model). Tree models need
            #     skops_trusted_types=["sklearn.tree._tree.Tree"].
            #   ES: Anota (guarda en la ejecución) el modelo entrenado como modelo
            #     sklearn de MLflow llamado "model", con firma
            #     (mlflow.sklearn.log_model). Los modelos de árboles necesitan
            #     skops_trusted_types=["sklearn.tree._tree.Tree"].
            pass
        run_ids[name] = run.info.run_id
    return run_ids
