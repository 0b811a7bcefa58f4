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
            # TODO 2.1: Log this config's n_estimators with mlflow.log_param.
            #   ES: Anota el n_estimators de esta configuración con mlflow.log_param.
            pass

            # TODO 2.2: Log max_depth, min_samples_split and random_state=42 in one
            #     mlflow.log_params call.
            #   ES: Anota max_depth, min_samples_split y random_state=42 con una sola
            #     llamada a mlflow.log_params.
            pass

            # TODO 2.3: Log this config's held-out metrics (rmse, r2, mae).
            #   ES: Anota las métricas de prueba (rmse, r2, mae) de esta configuración.
            pass

            # TODO 2.4: Tag the run task="hyperparameter-tuning" and
            #     model_family="RandomForest" (mlflow.set_tags).
            #   ES: Etiqueta la ejecución con task="hyperparameter-tuning" y
            #     model_family="RandomForest" (mlflow.set_tags).
            pass
        run_ids.append(run.info.run_id)
    return run_ids
