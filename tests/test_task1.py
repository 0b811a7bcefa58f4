"""Task 1 — baseline tracking: ``log_baseline_run(data_path, experiment_name)``.

Each test judges one TODO by what the call leaves in a fresh MLflow store.
Run: ``pytest tests/test_task1.py``.
"""

import pytest

from grader.judge.messages import (describe_runs, held_text, metric_note, run_label, stray_note, stray_runs,
                                  training_metrics)
from grader.core.i18n import _
from grader.judge.judgments import baseline_run_returned

FUNCTION = "log_baseline_run"


def new_run(case, run_id, runs_before=()):
    """The run the call made: by returned id, else the one new run in the store
    (TODO 1.2 may not return the id yet; the other TODOs are still judged)."""
    run = case.run_or_none(run_id)
    if run is None:
        new = [r for r in case.all_runs() if r.info.run_id not in runs_before]
        run = new[0] if len(new) == 1 else None
    return run


def run_ids(case):
    return {run.info.run_id for run in case.all_runs()}


def no_run(case, runs_before=()):
    """Why ``new_run`` found none: no run yet (TODO 1.2 starts it), or several."""
    new = [run for run in case.all_runs() if run.info.run_id not in runs_before]
    if not new:
        return _("MLflow holds no run yet: TODO 1.2 starts it"), "1.2"
    return _("MLflow holds {n} new runs and the function returned the id of none of them: "
             "{runs}").format(n=len(new), runs=describe_runs(new)), None


@pytest.mark.todo("1.1")
def test_the_run_is_in_the_named_experiment_whether_or_not_it_exists(case):
    data = case.sample_data()
    existing = case.name("baseline-existing")
    case.client.create_experiment(existing)
    for experiment in (case.name("baseline-new"), existing):
        before = run_ids(case)
        run = new_run(case, case.call(FUNCTION, data, experiment_name=experiment), before)
        if run is None:
            why, waiting_for = no_run(case, before)
            case.fail(_("expected a new run in experiment {experiment}, but {why}").format(
                experiment=repr(experiment), why=why), waiting_for)
        holder = case.client.get_experiment(run.info.experiment_id).name
        if holder != experiment:
            note = (" " + _("(MLflow's experiment for runs started while no experiment is set)")
                    if holder == "Default" else "")
            case.fail(_("expected the run in experiment {experiment}, but MLflow holds it in "
                        "{holder}").format(experiment=repr(experiment), holder=repr(holder)) + note)


@pytest.mark.todo("1.2")
@pytest.mark.inputs("baseline")
def test_the_run_is_named_baseline_finished_and_its_id_returned(case):
    run_id = case.call(FUNCTION, case.sample_data(), experiment_name=case.name("baseline"))
    baseline_run_returned(case, run_id, case.all_runs())


@pytest.mark.todo("1.3")
@pytest.mark.inputs("baseline")
def test_the_run_has_params_model_type_and_random_state(case):
    run = new_run(case, case.call(FUNCTION, case.sample_data(), experiment_name=case.name("baseline")))
    expected = {"model_type": "LinearRegression", "random_state": "42"}
    if run is None:
        why, waiting_for = no_run(case)
        case.fail(_("expected params {expected}, but {why}").format(expected=expected, why=why),
                  waiting_for)
    held = {key: run.data.params.get(key) for key in expected}
    if held != expected:
        strays = stray_runs(case, [run], lambda other: all(
            other.data.params.get(key) == value for key, value in expected.items()))
        case.fail(_("expected params {expected}, but {run} holds {held}").format(
            expected=expected, run=run_label(run), held=held_text(run.data.params, expected))
            + stray_note(strays))


@pytest.mark.todo("1.4")
@pytest.mark.inputs("baseline")
def test_the_run_has_the_held_out_metrics(case):
    from grader.judge.oracle import expected_metrics

    data = case.sample_data()
    run = new_run(case, case.call(FUNCTION, data, experiment_name=case.name("baseline")))
    expected = expected_metrics("LinearRegression", data)
    held = run.data.metrics if run else {}
    for name, value in expected.items():
        if name not in held:
            if run is None:
                why, waiting_for = no_run(case)
                case.fail(_("expected metric {metric} = {value}, but {why}").format(
                    metric=name, value=f"{value:.6g}", why=why), waiting_for)
            strays = stray_runs(case, [run], lambda other: name in other.data.metrics)
            case.fail(_("expected metric {metric} = {value} on {run}, but it holds only {held}").format(
                metric=name, value=f"{value:.6g}", run=run_label(run), held=sorted(held))
                + stray_note(strays))
        if held[name] != pytest.approx(value, rel=1e-6):
            note = metric_note(name, held[name], training_metrics("LinearRegression", data))
            case.fail(_("expected {metric} = {value} on the held-out 20 %, but MLflow holds "
                        "{held}").format(metric=name, value=f"{value:.6g}", held=f"{held[name]:.6g}")
                      + note)
