"""Task 1 — Baseline experiment tracking.

Train a LinearRegression on the system metrics, and track it with MLflow: the
experiment, a named run, its params and its held-out metrics.

Tarea 1 — Seguimiento de un experimento base.
Entrena una LinearRegression con las métricas del sistema y regístrala en MLflow:
el experimento, una ejecución con nombre, sus parámetros y sus métricas de prueba.

Check your work / Comprueba tu trabajo:  pytest tests/test_task1.py
"""

# The starting version uses nullcontext.
#   ES: La versión inicial usa nullcontext.
from contextlib import nullcontext  # noqa: F401

import mlflow
from sklearn.linear_model import LinearRegression

from labkit import evaluate, load_split


def log_baseline_run(data_path, experiment_name="devops-baseline"):
    """Train and track the baseline model; return the MLflow run id.

    ES: Entrena el modelo base y síguelo con MLflow; devuelve el id de la ejecución.
    """
    X_train, X_test, y_train, y_test = load_split(data_path)
    model = LinearRegression().fit(X_train, y_train)
    metrics = evaluate(model, X_test, y_test)

    # BEGIN TODO 1.1
    mlflow.set_experiment(experiment_name)
    # END TODO 1.1

    run = None
    # BEGIN TODO 1.2
    with mlflow.start_run(run_name="baseline") as run:
    # STUB: with nullcontext():
    # END TODO 1.2
        # BEGIN TODO 1.3
        mlflow.log_params({"model_type": "LinearRegression", "random_state": 42})
        # END TODO 1.3

        # BEGIN TODO 1.4
        for name, value in metrics.items():
            mlflow.log_metric(name, value)
        # END TODO 1.4

    return run.info.run_id if run else None
