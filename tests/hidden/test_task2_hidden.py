"""Task 2, hidden inputs: the instructor's kit only (a student release leaves
``tests/hidden/`` out). ``kata grade``, ``kata validate`` and the Gradescope bundle run
these with ``tests/test_task2.py``; a TODO passes only when all its tests pass.
"""

import pytest

from grader.judge.messages import grid_config, held_text
from grader.core.i18n import _

FUNCTION = "tune_random_forest"


def none_first_grid(case):
    """Three small configs, max_depth None first (the public tests put it last)."""
    sizes = case.rng.sample(range(3, 10), 3)
    splits = case.rng.sample(range(2, 7), 3)
    depths = [None, *case.rng.sample(range(2, 8), 2)]
    return [{"n_estimators": n, "max_depth": depth, "min_samples_split": split}
            for n, depth, split in zip(sizes, depths, splits)]


@pytest.mark.todo("2.2")
def test_three_configs_with_max_depth_none_first_each_get_their_own_params(case):
    grid = none_first_grid(case)
    run_ids = case.call(FUNCTION, case.sample_data(300), experiment_name=case.name("tuning"),
                        param_grid=grid)
    case.expect(isinstance(run_ids, list) and len(run_ids) == len(grid),
                _("expected a list of {n} run ids (one per config), but got {value}").format(
                    n=len(grid), value=repr(run_ids)))
    for config, run_id in zip(grid, run_ids):
        run = case.run_or_none(run_id)
        case.expect(run is not None, _("expected every returned id to be a run, but MLflow holds none "
                                       "for {ids}").format(ids=[run_id]))
        expected = {"max_depth": str(config["max_depth"]),
                    "min_samples_split": str(config["min_samples_split"]), "random_state": "42"}
        held = {key: run.data.params.get(key) for key in expected}
        case.expect(held == expected,
                    _("expected params {expected} in the run of config {config}, but MLflow holds "
                      "{held}").format(expected=expected, config=grid_config(config),
                                       held=held_text(run.data.params, expected)))
