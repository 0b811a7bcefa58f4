"""Task 1, hidden inputs: the instructor's kit only (a student release leaves
``tests/hidden/`` out). ``kata grade``, ``kata validate`` and the Gradescope bundle run
these with ``tests/test_task1.py``; a TODO passes only when all its tests pass.
"""

import time

import pytest

from grader.core.i18n import _
from grader.judge.judgments import baseline_run_returned

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
    case.expect(run_id != earlier, _("expected the id of the new run, but got the id of the run an "
                                     "earlier attempt left in {experiment}").format(
                                         experiment=repr(experiment)))
    baseline_run_returned(case, run_id, [other for other in case.all_runs() if other.info.run_id != earlier])
