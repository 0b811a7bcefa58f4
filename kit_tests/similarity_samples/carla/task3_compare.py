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
    """The three candidates, keyed by the name their run and param carry."""
    return {
        "LinearRegression": LinearRegression(),
        "RandomForest": RandomForestRegressor(n_estimators=100, random_state=42),
        "GradientBoosting": GradientBoostingRegressor(random_state=42),
    }


def compare_models(data_path, experiment_name="devops-model-comparison"):
    """Train, evaluate and log every model; return ``{model name: run id}``."""
    X_train, X_test, y_train, y_test = load_split(data_path)
    mlflow.set_experiment(experiment_name)

    run_ids = {}
    for name, model in build_models().items():
        model.fit(X_train, y_train)
        with mlflow.start_run(run_name=name, tags={"compare": "yes"}) as run:
            mlflow.log_param(key="model_type", value=name)
            mlflow.log_metrics(metrics=evaluate(model, X_test, y_test))

            # the signature describes inputs and outputs
            mlflow.sklearn.log_model(sk_model=model, name="model",
                                     input_example=X_test.iloc[:5],
                                     signature=infer_signature(model_input=X_train, model_output=model.predict(X_train)),
                                     skops_trusted_types=["sklearn.tree._tree.Tree"])
        run_ids[name] = run.info.run_id
    return run_ids
