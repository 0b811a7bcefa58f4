"""Task 1, hidden inputs: the instructor's kit only (a student release leaves
``tests/hidden/`` out). ``kata grade``, ``kata validate`` and the Gradescope bundle run
these with ``tests/test_task1.py``; a TODO passes only when all its tests pass.
"""

import time

import pytest

FUNCTION = "log_baseline_run"


def earlier_attempt(case, experiment):
    """``experiment`` already exists and holds a finished run named 'baseline' from an
    earlier attempt, started later than any new run will be (so it sorts first)."""
    experiment_id = case.client.create_experiment(
        experiment, artifact_location=(case.dir / "store" / "mlruns" / "earlier").as_uri())
    later = int(time.time() * 1000) + 3_600_000
    run = case.client.create_run(experiment_id, start_time=later, run_name="baseline")
    case.client.log_param(run.info.run_id, "model_type", "LinearRegression")
    case.client.set_terminated(run.info.run_id, "FINISHED", end_time=later + 1000)
    return run.info.run_id


@pytest.mark.todo("1.2")
def test_the_new_runs_id_is_returned_when_an_earlier_baseline_run_is_there(case):
    experiment = case.name("baseline-again")
    earlier = earlier_attempt(case, experiment)
    run_id = case.call(FUNCTION, case.sample_data(), experiment_name=experiment)
    case.expect(run_id != earlier, f"expected the id of the new run, but got {earlier!r}, the run "
                f"an earlier attempt left in {experiment!r}")
    run = case.run_or_none(run_id)
    case.expect(run is not None, f"expected the id of the new run to be returned, but got {run_id!r}")
    case.expect(run.info.run_name == "baseline",
                f"expected the run to be named 'baseline', but MLflow holds {run.info.run_name!r}")
    case.expect(run.info.status == "FINISHED",
                f"expected the run to be FINISHED when the function returns, "
                f"but MLflow holds {run.info.status}")
