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


def _log_all_metrics(metric_values):
    """Log every metric; skip the ones that are not numbers."""
    logged = 0
    for metric_name in sorted(metric_values):
        metric_value = metric_values[metric_name]
        if isinstance(metric_value, (int, float)):
            mlflow.log_metric(metric_name, float(metric_value))
            logged += 1
    return logged


def log_baseline_run(data_path, experiment_name="devops-baseline"):
    """Train and track the baseline model; return the MLflow run id."""
    X_train, X_test, y_train, y_test = load_split(data_path)
    model = LinearRegression().fit(X_train, y_train)
    metrics = evaluate(model, X_test, y_test)

    experiment = mlflow.set_experiment(experiment_name)
    print(f"Using experiment {experiment.name} ({experiment.experiment_id})")

    run = None
    with mlflow.start_run(run_name="baseline") as run:
        baseline_params = dict(model_type=type(model).__name__, random_state=42)
        mlflow.log_params(baseline_params)

        count = _log_all_metrics(metrics)
        assert count == 3, f"expected 3 metrics, logged {count}"

    return run.info.run_id if run else None
