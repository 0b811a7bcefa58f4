"""Task 1 — Baseline experiment tracking.

Train a LinearRegression on the system metrics, and track it with MLflow: the
experiment, a named run, its params and its held-out metrics.

Tarea 1 — Seguimiento de un experimento base.
Entrena una LinearRegression con las métricas del sistema y regístrala en MLflow:
el experimento, una ejecución con nombre, sus parámetros y sus métricas de prueba.

Check your work / Comprueba tu trabajo:  pytest tests/test_task1.py
"""

import mlflow
from sklearn.linear_model import LinearRegression

from labkit import evaluate, load_split

RUN_NAME = "baseline"
BASELINE_PARAMS = {"model_type": "LinearRegression", "random_state": 42}


def log_baseline_run(data_path, experiment_name="devops-baseline"):
    """Train and track the baseline model; return the MLflow run id."""
    X_train, X_test, y_train, y_test = load_split(data_path)
    model = LinearRegression().fit(X_train, y_train)
    metrics = evaluate(model, X_test, y_test)

    # TODO 1.1 (done)
    mlflow.set_experiment(experiment_name)

    # TODO 1.2 (done) -- the `with` closes the run, so it ends FINISHED
    with mlflow.start_run(run_name=RUN_NAME) as active_run:
        # TODO 1.3 (done)
        for param, value in BASELINE_PARAMS.items():
            mlflow.log_param(param, value)

        # TODO 1.4 (done)
        for metric, value in metrics.items():
            mlflow.log_metric(metric, value)

    return active_run.info.run_id
