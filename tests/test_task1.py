"""Task 1 — baseline tracking: ``log_baseline_run(data_path, experiment_name)``.

Each test judges one TODO by what the call leaves in a fresh MLflow store.
Run: ``pytest tests/test_task1.py``.
"""

import pytest

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


@pytest.mark.todo("1.1")
def test_the_run_is_in_the_named_experiment_whether_or_not_it_exists(case):
    data = case.sample_data()
    existing = case.name("baseline-existing")
    case.client.create_experiment(existing)
    for experiment in (case.name("baseline-new"), existing):
        before = run_ids(case)
        run = new_run(case, case.call(FUNCTION, data, experiment_name=experiment), before)
        case.expect(run is not None,
                    f"expected a new run in experiment {experiment!r}, but MLflow holds none")
        holder = case.client.get_experiment(run.info.experiment_id).name
        case.expect(holder == experiment,
                    f"expected the run in experiment {experiment!r}, but MLflow holds it in {holder!r}")


@pytest.mark.todo("1.2")
def test_the_run_is_named_baseline_finished_and_its_id_returned(case):
    run_id = case.call(FUNCTION, case.sample_data(), experiment_name=case.name("baseline"))
    run = case.run_or_none(run_id)
    case.expect(run is not None,
                f"expected the id of the new run to be returned, but got {run_id!r}; "
                f"MLflow holds the runs {sorted(run_ids(case))}")
    case.expect(run.info.run_name == "baseline",
                f"expected the run to be named 'baseline', but MLflow holds {run.info.run_name!r}")
    case.expect(run.info.status == "FINISHED",
                f"expected the run to be FINISHED when the function returns, "
                f"but MLflow holds {run.info.status}")


@pytest.mark.todo("1.3")
def test_the_run_has_params_model_type_and_random_state(case):
    run = new_run(case, case.call(FUNCTION, case.sample_data(), experiment_name=case.name("baseline")))
    expected = {"model_type": "LinearRegression", "random_state": "42"}
    held = {key: run.data.params.get(key) for key in expected} if run else "no run at all"
    case.expect(held == expected, f"expected params {expected}, but MLflow holds {held}")


@pytest.mark.todo("1.4")
def test_the_run_has_the_held_out_metrics(case):
    from grader.oracle import expected_metrics

    data = case.sample_data()
    run = new_run(case, case.call(FUNCTION, data, experiment_name=case.name("baseline")))
    expected = expected_metrics("LinearRegression", data)
    held = run.data.metrics if run else {}
    for name, value in expected.items():
        case.expect(name in held, f"expected metric {name} = {value:.6g}, "
                    f"but MLflow holds {sorted(held) if run else 'no run at all'}")
        case.expect(held[name] == pytest.approx(value, rel=1e-6),
                    f"expected {name} = {value:.6g} on the held-out 20 %, but MLflow holds {held[name]:.6g}")
