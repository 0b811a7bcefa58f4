"""Task 2 — hyperparameter tuning: ``tune_random_forest(data_path, experiment_name, param_grid)``.

The tests pass their own small grids (so hard-coded answers fail and the suite stays
fast) and judge each TODO on every run the call returns.
Run: ``pytest tests/test_task2.py``.
"""

import pytest

FUNCTION = "tune_random_forest"
TAGS = {"task": "hyperparameter-tuning", "model_family": "RandomForest"}


def random_grid(case, size=2):
    """Small, distinct configs; one has max_depth None like the default grid."""
    grid = []
    for index in range(size):
        grid.append({
            "n_estimators": case.rng.randrange(3, 12),
            "max_depth": None if index == size - 1 else case.rng.randrange(2, 7),
            "min_samples_split": case.rng.randrange(2, 6),
        })
    return grid


def tuning_runs(case, data, grid):
    """Call the student function; return ``[(config, run)]`` in grid order."""
    run_ids = case.call(FUNCTION, data, experiment_name=case.name("tuning"), param_grid=grid)
    case.expect(isinstance(run_ids, list) and len(run_ids) == len(grid),
                f"expected a list of {len(grid)} run ids (one per config), but got {run_ids!r}")
    runs = [case.run_or_none(run_id) for run_id in run_ids]
    missing = [run_id for run_id, run in zip(run_ids, runs) if run is None]
    case.expect(not missing, f"expected every returned id to be a run, but MLflow holds none for {missing}")
    return list(zip(grid, runs))


@pytest.mark.todo("2.1")
def test_each_run_has_its_n_estimators(case):
    grid = random_grid(case)
    for config, run in tuning_runs(case, case.sample_data(), grid):
        held = run.data.params.get("n_estimators")
        case.expect(held == str(config["n_estimators"]),
                    f"expected param n_estimators = {config['n_estimators']} in the run of config "
                    f"{config}, but MLflow holds {held!r}")


@pytest.mark.todo("2.2")
def test_each_run_has_max_depth_min_samples_split_and_random_state(case):
    grid = random_grid(case)
    for config, run in tuning_runs(case, case.sample_data(), grid):
        expected = {"max_depth": str(config["max_depth"]),
                    "min_samples_split": str(config["min_samples_split"]), "random_state": "42"}
        held = {key: run.data.params.get(key) for key in expected}
        case.expect(held == expected,
                    f"expected params {expected} in the run of config {config}, but MLflow holds {held}")


@pytest.mark.todo("2.3")
def test_each_run_has_the_metrics_of_its_own_model(case):
    from grader.oracle import expected_metrics

    data = case.sample_data()
    grid = random_grid(case)
    for config, run in tuning_runs(case, data, grid):
        expected = expected_metrics("RandomForest", data, random_state=42, **config)
        held = run.data.metrics
        for name, value in expected.items():
            case.expect(name in held, f"expected metric {name} in the run of config {config}, "
                        f"but MLflow holds only {sorted(held)}")
            case.expect(held[name] == pytest.approx(value, rel=1e-6),
                        f"expected {name} = {value:.6g} for config {config}, but MLflow holds "
                        f"{held[name]:.6g} (metrics of another config's model?)")


@pytest.mark.todo("2.4")
def test_each_run_is_tagged_with_task_and_model_family(case):
    grid = random_grid(case)
    for config, run in tuning_runs(case, case.sample_data(), grid):
        held = {key: run.data.tags.get(key) for key in TAGS}
        case.expect(held == TAGS, f"expected tags {TAGS} on the run of config {config}, "
                    f"but MLflow holds {held}")
