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

    # TODO 1.1: Put the run in the experiment named `experiment_name` (create it if
    #     missing): mlflow.set_experiment(...).
    #   ES: Coloca la ejecución en el experimento llamado `experiment_name` (créalo si
    #     no existe): mlflow.set_experiment(...).
    pass

    run = None
    # TODO 1.2: Replace nullcontext() with mlflow.start_run(run_name="baseline") and
    #     return the run's id (run.info.run_id).
    #   ES: Sustituye nullcontext() por mlflow.start_run(run_name="baseline") y devuelve
    #     el id de la ejecución (run.info.run_id).
    with nullcontext():
        # TODO 1.3: Log the params model_type="LinearRegression" and random_state=42.
        #   ES: Anota los parámetros model_type="LinearRegression" y random_state=42.
        pass

        # TODO 1.4: Log the held-out metrics in `metrics` (rmse, r2, mae):
        #     mlflow.log_metric(...) for each.
        #   ES: Anota las métricas de prueba de `metrics` (rmse, r2, mae):
        #     mlflow.log_metric(...) para cada una.
        pass

    return run.info.run_id if run else None
