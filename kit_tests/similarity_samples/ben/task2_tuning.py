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


def _split_config(cfg, seed=42):
    """n_estimators apart from the rest of the config, plus the seed."""
    trees = cfg.get("n_estimators")
    rest = {key: cfg.get(key) for key in ("max_depth", "min_samples_split")}
    rest["random_state"] = seed
    return trees, rest


TUNING_TAGS = {"task": "hyperparameter-tuning", "model_family": "RandomForest"}


def tune_random_forest(data_path, experiment_name="devops-tuning", param_grid=PARAM_GRID):
    """One tracked run per config of ``param_grid``; return the run ids in grid order."""
    X_train, X_test, y_train, y_test = load_split(data_path)
    mlflow.set_experiment(experiment_name)

    run_ids = []
    for config in param_grid:
        model = RandomForestRegressor(random_state=42, **config).fit(X_train, y_train)
        metrics = evaluate(model, X_test, y_test)
        with mlflow.start_run() as run:
            trees, rest = _split_config(config)
            mlflow.log_param("n_estimators", trees)

            mlflow.log_params(rest)

            mlflow.log_metrics({key: float(val) for key, val in metrics.items()})

            for tag_key, tag_value in TUNING_TAGS.items():
                mlflow.set_tag(tag_key, tag_value)
        run_ids.append(run.info.run_id)
    return run_ids
