"""Task 3, hidden inputs: the instructor's kit only (a student release leaves
``tests/hidden/`` out). ``kata grade``, ``kata validate`` and the Gradescope bundle run
these with ``tests/test_task3.py``; a TODO passes only when all its tests pass.
"""

import time

import pytest

from grader.judge.calls import Unreturned
from grader.judge.messages import run_label
from grader.core.i18n import _

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
        case.fail(_("expected a run id for each of {names}, but {why}").format(
            names=list(MODEL_NAMES), why=run_ids.why))
    case.expect(isinstance(run_ids, dict) and sorted(run_ids) == sorted(MODEL_NAMES),
                _("expected a dict with the keys {names}, but got {value}").format(
                    names=list(MODEL_NAMES), value=repr(run_ids)))
    for name in MODEL_NAMES:
        the_run = _("the {name} run").format(name=name)
        case.expect(run_ids[name] != earlier.info.run_id,
                    _("expected a new {name} run, but got the id of the run an earlier attempt left "
                      "in {experiment}").format(name=name, experiment=repr(experiment)))
        run = case.run_or_none(run_ids[name])
        case.expect(run is not None, _("expected a run for {name}, but MLflow holds none for "
                                       "{value}").format(name=name, value=repr(run_ids[name])))
        if run.info.experiment_id != experiment_id:
            case.fail(_("expected {run} in the existing experiment {experiment}, but MLflow holds it "
                        "in {holder}").format(
                            run=the_run, experiment=repr(experiment),
                            holder=repr(case.client.get_experiment(run.info.experiment_id).name)))
        case.expect(run.info.run_name == name,
                    _("expected {run} to be named {name}, but it is {label}").format(
                        run=the_run, name=repr(name), label=run_label(run)))
        held = run.data.params.get("model_type")
        case.expect(held == name,
                    _("expected param model_type = {name} on {run}, but MLflow holds {held}").format(
                        name=repr(name), run=the_run, held=repr(held)))
    case.expect(len(set(run_ids.values())) == len(MODEL_NAMES),
                _("expected three different runs, but got {n}").format(n=len(set(run_ids.values()))))
