"""Task 1's four TODOs, tested the plain way (see conftest.py): same checks as the kit's
``tests/test_task1.py``, without its messages, hints, sandbox or judge."""

import pytest

from conftest import name


def test_the_run_is_in_the_named_experiment_whether_or_not_it_exists(task1, store, sample_data):  # TODO 1.1
    existing = name("baseline-existing")
    store.create_experiment(existing)
    for experiment in (name("baseline-new"), existing):
        run_id = task1.log_baseline_run(str(sample_data), experiment_name=experiment)
        run = store.get_run(run_id)
        assert store.get_experiment(run.info.experiment_id).name == experiment


def test_the_run_is_named_baseline_finished_and_its_id_returned(task1, store, sample_data):  # TODO 1.2
    run_id = task1.log_baseline_run(str(sample_data), experiment_name=name("baseline"))
    run = store.get_run(run_id)
    assert run.info.run_name == "baseline"
    assert run.info.status == "FINISHED"


def test_the_run_has_params_model_type_and_random_state(task1, store, sample_data):  # TODO 1.3
    run = store.get_run(task1.log_baseline_run(str(sample_data), experiment_name=name("baseline")))
    assert {key: run.data.params.get(key) for key in ("model_type", "random_state")} == {
        "model_type": "LinearRegression",
        "random_state": "42",
    }


def test_the_run_has_the_held_out_metrics(task1, store, sample_data):  # TODO 1.4
    from sklearn.linear_model import LinearRegression

    from labkit import evaluate, load_split

    run = store.get_run(task1.log_baseline_run(str(sample_data), experiment_name=name("baseline")))
    split = load_split(sample_data)
    expected = evaluate(LinearRegression().fit(split.X_train, split.y_train), split.X_test, split.y_test)
    for metric, value in expected.items():
        assert run.data.metrics.get(metric) == pytest.approx(value, rel=1e-6)
