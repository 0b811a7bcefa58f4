"""Task 3, hidden inputs: the instructor's kit only (a student release leaves
``tests/hidden/`` out). ``kata grade``, ``kata validate`` and the Gradescope bundle run
these with ``tests/test_task3.py``; a TODO passes only when all its tests pass.
"""

import time

import pytest

from grader.case import Unreturned

FUNCTION = "compare_models"
MODEL_NAMES = ("LinearRegression", "RandomForest", "GradientBoosting")
ROWS = 100  # as small as the public tests' sample: the call logs three models


@pytest.mark.todo("3.1")
def test_three_new_named_runs_when_the_experiment_holds_an_earlier_attempt(case):
    experiment = case.name("comparison-again")
    experiment_id = case.client.create_experiment(
        experiment, artifact_location=(case.dir / "store" / "mlruns" / "earlier").as_uri())
    later = int(time.time() * 1000) + 3_600_000
    earlier = case.client.create_run(experiment_id, start_time=later, run_name="RandomForest")
    case.client.log_param(earlier.info.run_id, "model_type", "RandomForest")
    case.client.set_terminated(earlier.info.run_id, "FINISHED", end_time=later + 1000)

    case.excuse("model_logging")  # a failing log_model is 3.3's alone
    run_ids = case.call(FUNCTION, case.sample_data(ROWS), experiment_name=experiment)
    if isinstance(run_ids, Unreturned):
        case.fail(f"expected a run id for each of {list(MODEL_NAMES)}, but {run_ids.why}")
    case.expect(isinstance(run_ids, dict) and sorted(run_ids) == sorted(MODEL_NAMES),
                f"expected a dict with the keys {list(MODEL_NAMES)}, but got {run_ids!r}")
    for name in MODEL_NAMES:
        case.expect(run_ids[name] != earlier.info.run_id,
                    f"expected a new {name} run, but got {earlier.info.run_id!r}, the run an earlier "
                    f"attempt left in {experiment!r}")
        run = case.run_or_none(run_ids[name])
        case.expect(run is not None, f"expected a run for {name}, but MLflow holds none for "
                    f"{run_ids[name]!r}")
        case.expect(run.info.experiment_id == experiment_id,
                    f"expected the {name} run in the existing experiment {experiment!r}, but MLflow "
                    f"holds it in {case.client.get_experiment(run.info.experiment_id).name!r}")
        case.expect(run.info.run_name == name,
                    f"expected the {name} run to be named {name!r}, but MLflow holds {run.info.run_name!r}")
        held = run.data.params.get("model_type")
        case.expect(held == name,
                    f"expected param model_type = {name!r} on the {name} run, but MLflow holds {held!r}")
    case.expect(len(set(run_ids.values())) == len(MODEL_NAMES),
                f"expected three different runs, but got {len(set(run_ids.values()))}")
