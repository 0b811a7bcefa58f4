"""Kit code that prepares MLflow state for tests: Task 4 runs and versions, the
bonus server's model. Runs in a sandboxed child (the zygote is already warm there),
so the judge never pays for importing MLflow's model machinery; the zygote's warm-up
runs it too (``grader.judge.preload.warm_up``), so it leaves no process-wide state: its
runs start in an experiment named by id, never made the active one (``set_experiment``).
"""

from __future__ import annotations

from collections.abc import Callable

import mlflow
import mlflow.sklearn
from mlflow.models import infer_signature

from labkit import evaluate, load_split

PIP_REQUIREMENTS = ["mlflow", "scikit-learn", "pandas"]


def fit_on_slice(data_path: str, start: int, stop: int | None):
    """A cheap model whose predictions differ per slice of the training rows; the very
    fit the tests expect (``grader.judge.oracle``), so seeding and judging cannot drift."""
    from grader.judge.oracle import fitted

    return fitted("LinearRegression", data_path, slice(start, stop)), load_split(data_path)


def experiment_id(name: str) -> str:
    """The id of the experiment ``name``, made if missing."""
    client = mlflow.MlflowClient()
    found = client.get_experiment_by_name(name)
    return found.experiment_id if found is not None else client.create_experiment(name)


def log_candidate(model, split, model_type: str, r2: float, experiment: str) -> str:
    """One finished run like Task 3 leaves, in the experiment of id ``experiment``: param
    model_type, metrics, a logged model."""
    with mlflow.start_run(run_name=model_type, experiment_id=experiment) as run:
        mlflow.log_param("model_type", model_type)
        metrics = evaluate(model, split.X_test, split.y_test)
        metrics["r2"] = r2  # the test decides which run is best
        mlflow.log_metrics(metrics)
        mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="cloudpickle",
            signature=infer_signature(split.X_test, model.predict(split.X_test)),
            pip_requirements=PIP_REQUIREMENTS,
        )
    return run.info.run_id


def seed_comparison(
    data_path: str, experiment_name: str, candidates: list[dict], registered: dict | None = None
) -> dict:
    """Create ``experiment_name`` with one run per candidate ``{model_type, r2, slice}``.

    ``registered`` optionally pre-registers one candidate's model (``{"model_name",
    "index"}``), as an earlier round of Task 4 would have. Returns the run ids.
    """
    experiment = experiment_id(experiment_name)
    run_ids = []
    for candidate in candidates:
        model, split = fit_on_slice(data_path, *candidate["slice"])
        run_ids.append(log_candidate(model, split, candidate["model_type"], candidate["r2"], experiment))
    version = None
    if registered:
        source = run_ids[registered["index"]]
        version = mlflow.register_model(f"runs:/{source}/model", registered["model_name"]).version
    return {"run_ids": run_ids, "version": version}


def seed_staging(data_path: str, model_name: str, slices: list[list[int]], staging_index: int) -> dict:
    """Register one version per slice and point ``staging`` at one of them."""
    experiment = experiment_id(f"{model_name}-candidates")
    versions = []
    for number, (start, stop) in enumerate(slices):
        model, split = fit_on_slice(data_path, start, stop)
        run_id = log_candidate(model, split, "LinearRegression", 0.5 + number / 100, experiment)
        versions.append(mlflow.register_model(f"runs:/{run_id}/model", model_name).version)
    mlflow.MlflowClient().set_registered_model_alias(model_name, "staging", versions[staging_index])
    return {"versions": versions}


def save_served_model(data_path: str, path: str) -> str:
    """Save the model the bonus tests serve with ``mlflow models serve``."""
    model, split = fit_on_slice(data_path, 0, None)
    mlflow.sklearn.save_model(
        model,
        path,
        serialization_format="cloudpickle",
        pip_requirements=PIP_REQUIREMENTS,
        signature=infer_signature(split.X_test, model.predict(split.X_test)),
    )
    return path


KIT_FUNCTIONS: dict[str, Callable[..., object]] = {
    "seed_comparison": seed_comparison,
    "seed_staging": seed_staging,
    "save_served_model": save_served_model,
}
