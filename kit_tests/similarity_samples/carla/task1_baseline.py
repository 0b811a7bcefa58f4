"""Task 1 — Baseline experiment tracking.

Train a LinearRegression on the system metrics, and track it with MLflow: the
experiment, a named run, its params and its held-out metrics.

Tarea 1 — Seguimiento de un experimento base.
Entrena una LinearRegression con las métricas del sistema y regístrala en MLflow:
el experimento, una ejecución con nombre, sus parámetros y sus métricas de prueba.

Check your work / Comprueba tu trabajo:  pytest tests/test_task1.py
"""

from contextlib import nullcontext  # noqa: F401  (used by the starting version)

import mlflow
from sklearn.linear_model import LinearRegression

from labkit import evaluate, load_split


def log_baseline_run(data_path, experiment_name="devops-baseline"):
    """Train and track the baseline model; return the MLflow run id."""
    X_train, X_test, y_train, y_test = load_split(data_path)
    model = LinearRegression().fit(X_train, y_train)
    metrics = evaluate(model, X_test, y_test)

    # make sure the experiment exists and is active
    mlflow.set_experiment(experiment_name)

    run = None
    with mlflow.start_run(run_name="baseline") as run:  # named run
        mlflow.log_params(params={"model_type": "LinearRegression", "random_state": 42})

        list(map(lambda item: mlflow.log_metric(key=item[0], value=item[1]), metrics.items()))

    return run.info.run_id if run else None
