"""Task 2 — Hyperparameter tuning.

Train one RandomForestRegressor per configuration of the grid, one MLflow run each,
and record what makes the runs comparable: params, metrics and tags.

Tarea 2 — Ajuste de hiperparámetros.
Entrena un RandomForestRegressor por cada configuración de la rejilla, una ejecución
de MLflow por cada una, y registra lo que permite compararlas: parámetros, métricas
y etiquetas.

Check your work / Comprueba tu trabajo:  pytest tests/test_task2.py
"""

import mlflow
from sklearn.ensemble import RandomForestRegressor

from labkit import evaluate, load_split

PARAM_GRID = [
    {"n_estimators": 50, "max_depth": 5, "min_samples_split": 2},
    {"n_estimators": 100, "max_depth": 10, "min_samples_split": 4},
    {"n_estimators": 200, "max_depth": None, "min_samples_split": 2},
]


def tune_random_forest(data_path, experiment_name="devops-tuning", param_grid=PARAM_GRID):
    """One tracked run per config of ``param_grid``; return the run ids in grid order.

    ES: Una ejecución por configuración de ``param_grid``; devuelve sus ids en el
    orden de la rejilla.
    """
    X_train, X_test, y_train, y_test = load_split(data_path)
    mlflow.set_experiment(experiment_name)

    run_ids = []
    for config in param_grid:
        model = RandomForestRegressor(random_state=42, **config).fit(X_train, y_train)
        metrics = evaluate(model, X_test, y_test)
        with mlflow.start_run() as run:
            # BEGIN TODO 2.1
            mlflow.log_param("n_estimators", config["n_estimators"])
            # END TODO 2.1

            # BEGIN TODO 2.2
            mlflow.log_params(
                {
                    "max_depth": config["max_depth"],
                    "min_samples_split": config["min_samples_split"],
                    "random_state": 42,
                }
            )
            # END TODO 2.2

            # BEGIN TODO 2.3
            mlflow.log_metrics(metrics)
            # END TODO 2.3

            # BEGIN TODO 2.4
            mlflow.set_tags({"task": "hyperparameter-tuning", "model_family": "RandomForest"})
            # END TODO 2.4
        run_ids.append(run.info.run_id)
    return run_ids
