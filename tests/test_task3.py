"""Task 3 — model comparison: ``compare_models(data_path, experiment_name)``.

Run: ``pytest tests/test_task3.py``.
"""

import pytest

from grader.case import Unreturned

FUNCTION = "compare_models"
MODEL_NAMES = ("LinearRegression", "RandomForest", "GradientBoosting")
ROWS = 120  # a small sample keeps the fits and the skops files of 100 trees small


SPEC_PARAMS = {  # the three models as the spec defines them
    "LinearRegression": {},
    "RandomForest": {"n_estimators": 100, "random_state": 42},
    "GradientBoosting": {"random_state": 42},
}


def fitted_models(data):
    """The three models fitted by the kit on ``data``, and the split."""
    from grader.oracle import fitted
    from labkit import load_split

    return {name: fitted(name, data, **params) for name, params in SPEC_PARAMS.items()}, load_split(data)


def comparison_runs(case, data, experiment):
    """Call the student function; return ``{model name: run}`` from its answer."""
    if case.todo.id != "3.3":
        case.excuse("model_logging")  # a failing log_model is 3.3's alone
    run_ids = case.call(FUNCTION, data, experiment_name=experiment)
    if isinstance(run_ids, Unreturned):
        case.fail(f"expected a run id for each of {list(MODEL_NAMES)}, but {run_ids.why}")
    case.expect(isinstance(run_ids, dict) and sorted(run_ids) == sorted(MODEL_NAMES),
                f"expected a dict with the keys {list(MODEL_NAMES)}, but got {run_ids!r}")
    runs = {name: case.run_or_none(run_ids[name]) for name in MODEL_NAMES}
    missing = [name for name, run in runs.items() if run is None]
    case.expect(not missing, f"expected a run for each model, but MLflow holds none for {missing}")
    return runs


@pytest.mark.todo("3.1")
def test_one_named_run_per_model_with_its_model_type(case):
    experiment = case.name("comparison")
    runs = comparison_runs(case, case.sample_data(ROWS), experiment)
    found = case.client.get_experiment_by_name(experiment)
    for name, run in runs.items():
        holder = case.client.get_experiment(run.info.experiment_id).name
        case.expect(found is not None and run.info.experiment_id == found.experiment_id,
                    f"expected the {name} run in experiment {experiment!r}, but MLflow holds it "
                    f"in {holder!r}")
        case.expect(run.info.run_name == name,
                    f"expected the {name} run to be named {name!r}, but MLflow holds {run.info.run_name!r}")
        held = run.data.params.get("model_type")
        case.expect(held == name,
                    f"expected param model_type = {name!r} on the {name} run, but MLflow holds {held!r}")
    ids = {run.info.run_id for run in runs.values()}
    case.expect(len(ids) == len(MODEL_NAMES), f"expected three different runs, but got {len(ids)}")


@pytest.mark.todo("3.2")
def test_each_run_has_the_metrics_of_its_model(case):
    from grader.oracle import expected_metrics

    data = case.sample_data(ROWS)
    runs = comparison_runs(case, data, case.name("comparison"))
    for name, run in runs.items():
        expected = expected_metrics(name, data, **SPEC_PARAMS[name])
        held = run.data.metrics
        for metric, value in expected.items():
            case.expect(metric in held, f"expected metric {metric} on the {name} run, "
                        f"but MLflow holds only {sorted(held)}")
            case.expect(held[metric] == pytest.approx(value, rel=1e-6),
                        f"expected {metric} = {value:.6g} on the {name} run, but MLflow holds {held[metric]:.6g}")


@pytest.mark.todo("3.3")
def test_each_run_has_its_fitted_model_logged_with_a_signature(case):
    import numpy as np

    data = case.sample_data(ROWS)
    runs = comparison_runs(case, data, case.name("comparison"))
    models, split = fitted_models(data)
    rows = split.X_test.head(20)
    for name, run in runs.items():
        uri = f"runs:/{run.info.run_id}/model"
        logged = case.load_model_and_predict(uri, rows)
        case.expect(not logged["missing"], f"expected the fitted {name} logged as an MLflow model named "
                    f"'model' in its run, but MLflow holds no model at {uri}")
        case.expect("sklearn" in logged["flavors"],
                    f"expected {uri} to be an MLflow sklearn model, but its flavors are {logged['flavors']}")
        case.expect(logged["has_signature"], f"expected {uri} to have a signature, but it has none")
        expected = models[name].predict(rows)
        case.expect(np.allclose(logged["predictions"], expected, rtol=1e-6),
                    f"expected {uri} to predict what the fitted {name} predicts "
                    f"({np.round(expected[:3], 2).tolist()}…), but it predicts "
                    f"{np.round(logged['predictions'][:3], 2).tolist()}…")
