"""Task 2 — hyperparameter tuning: ``tune_random_forest(data_path, experiment_name, param_grid)``.

The tests pass their own small grids (so hard-coded answers fail and the suite stays
fast) and judge each TODO on every run the call returns.
Run: ``pytest tests/test_task2.py``.
"""

import pytest

from grader.judge.messages import (grid_config, held_text, metric_note, stray_note, stray_runs,
                                   training_metrics)
from grader.core.i18n import _

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
                _("expected a list of {n} run ids (one per config), but got {value}").format(
                    n=len(grid), value=repr(run_ids)))
    runs = [case.run_or_none(run_id) for run_id in run_ids]
    missing = [run_id for run_id, run in zip(run_ids, runs) if run is None]
    case.expect(not missing, _("expected every returned id to be a run, but MLflow holds none for "
                               "{ids}").format(ids=missing))
    return list(zip(grid, runs))


@pytest.mark.todo("2.1")
@pytest.mark.inputs("tuning")
def test_each_run_has_its_n_estimators(case):
    grid = random_grid(case)
    for config, run in tuning_runs(case, case.sample_data(), grid):
        held = run.data.params.get("n_estimators")
        if held != str(config["n_estimators"]):
            if held is None:
                found = _("the run has no param n_estimators; its params are {params}").format(
                    params=dict(run.data.params) or "{}")
            else:
                found = _("MLflow holds n_estimators = {value}").format(value=repr(held))
            case.fail(_("expected param n_estimators = {value} in the run of config {config}, but "
                        "{found}").format(value=config["n_estimators"], config=grid_config(config), found=found))


@pytest.mark.todo("2.2")
@pytest.mark.inputs("tuning")
def test_each_run_has_max_depth_min_samples_split_and_random_state(case):
    grid = random_grid(case)
    for config, run in tuning_runs(case, case.sample_data(), grid):
        expected = {"max_depth": str(config["max_depth"]),
                    "min_samples_split": str(config["min_samples_split"]), "random_state": "42"}
        held = {key: run.data.params.get(key) for key in expected}
        case.expect(held == expected,
                    _("expected params {expected} in the run of config {config}, but MLflow holds "
                      "{held}").format(expected=expected, config=grid_config(config),
                                       held=held_text(run.data.params, expected)))


@pytest.mark.todo("2.3")
@pytest.mark.inputs("tuning")
def test_each_run_has_the_metrics_of_its_own_model(case):
    from grader.judge.oracle import expected_metrics

    grid = random_grid(case)
    data = case.sample_data()
    for config, run in tuning_runs(case, data, grid):
        expected = expected_metrics("RandomForest", data, random_state=42, **config)
        held = run.data.metrics
        for name, value in expected.items():
            case.expect(name in held, _("expected metric {metric} in the run of config {config}, "
                                        "but MLflow holds only {held}").format(
                                            metric=name, config=grid_config(config), held=sorted(held)))
            if held[name] != pytest.approx(value, rel=1e-6):
                case.fail(_("expected {metric} = {value} for config {config}, but MLflow holds "
                            "{held}").format(metric=name, value=f"{value:.6g}", config=grid_config(config),
                                             held=f"{held[name]:.6g}")
                          + whose_metric(data, grid, config, name, held[name]))


def whose_metric(data, grid, config, name, held) -> str:
    """Whose metric ``held`` is, when the kit can tell: another config's model's, or this
    model's on the training set."""
    from grader.judge.oracle import expected_metrics

    for other in grid:
        if other != config and expected_metrics("RandomForest", data, random_state=42, **other)[name] \
                == pytest.approx(held, rel=1e-6):
            return " — " + _("the {metric} of config {other}'s model: log each config's metrics "
                             "inside its own run").format(metric=name, other=other)
    return metric_note(name, held, training_metrics("RandomForest", data, random_state=42, **config))


@pytest.mark.todo("2.4")
@pytest.mark.inputs("tuning")
def test_each_run_is_tagged_with_task_and_model_family(case):
    grid = random_grid(case)
    runs = tuning_runs(case, case.sample_data(), grid)
    for config, run in runs:
        held = {key: run.data.tags.get(key) for key in TAGS}
        if held != TAGS:
            strays = stray_runs(case, [pair[1] for pair in runs], lambda other: all(
                other.data.tags.get(key) == value for key, value in TAGS.items()))
            case.fail(_("expected tags {expected} on the run of config {config}, but MLflow holds "
                        "{held}").format(expected=TAGS, config=grid_config(config),
                                         held=held_text(run.data.tags, TAGS)) + stray_note(strays))
