"""Task 4 — model registry: ``register_best(...)`` and ``load_staging_model(...)``.

Every test seeds its own comparison runs and registered versions with kit code
(``grader.judge.seeding``), so Task 4 never depends on the student's Task 3.
Run: ``pytest tests/test_task4.py``.
"""

import warnings

import pytest

from grader.judge.case import KataFeedback
from grader.judge.messages import (aliases_note, candidate_run, seeded_candidates, seeded_staging,
                                   seeded_version, stages_feedback, tag_held)
from grader.core.i18n import _
from grader.judge.judgments import best_registered_and_returned, versions_of


def seed(case, registered_index=None):
    """Three finished candidate runs with distinct r2 (the best is neither the first
    nor the last logged), optionally one of them already registered as version 1; every
    failure of the test says so (``case.set_up``): its best need not be LAB.md's."""
    experiment, model_name = case.name("comparison"), case.name("response-time")
    scores = sorted(case.rng.sample(range(50, 99), 3))
    r2 = [scores[0] / 100, scores[2] / 100, scores[1] / 100]  # best in the middle
    kinds = case.rng.sample(["LinearRegression", "RandomForest", "GradientBoosting"], 3)  # any may win
    candidates = [{"model_type": kind, "r2": value, "slice": [index * 60, index * 60 + 120]}
                  for index, (kind, value) in enumerate(zip(kinds, r2))]
    registered = None if registered_index is None else {"model_name": model_name,
                                                        "index": registered_index}
    seeded = case.kit("seed_comparison", data_path=case.sample_data(300), experiment_name=experiment,
                      candidates=candidates, registered=registered)
    case.set_up(seeded_candidates(experiment, candidates))
    if registered:
        case.set_up(seeded_version(model_name, seeded["version"], kinds[registered_index]))
    best_run_id = seeded["run_ids"][r2.index(max(r2))]
    return experiment, model_name, best_run_id, seeded


@pytest.mark.todo("4.1")
@pytest.mark.inputs("registry")
def test_the_best_runs_model_is_registered_and_its_version_returned(case):
    experiment, model_name, best_run_id, seeded = seed(case, registered_index=1)
    returned = case.call("register_best", experiment_name=experiment, model_name=model_name)
    best_registered_and_returned(case, model_name, seeded["version"], best_run_id, returned,
                                 best=candidate_run(case, best_run_id))


@pytest.mark.todo("4.2")
@pytest.mark.inputs("registry")
def test_the_new_version_is_tagged_and_described(case):
    experiment, model_name, _best, _seeded = seed(case, registered_index=1)
    case.call("register_best", experiment_name=experiment, model_name=model_name)
    version = versions_of(case, model_name)[-1]
    source = case.run_or_none(version.run_id)
    # What the student's code registered is read as the student left it: a version from a
    # run without the candidates' param or metric is the student's fail, never a KeyError.
    if source is None or "model_type" not in source.data.params or "r2" not in source.data.metrics:
        case.fail(_("expected version {version} to come from one of the candidate runs, but it "
                    "comes from {source}, which has no param model_type or no metric r2").format(
                        version=version.version, source=candidate_run(case, version.run_id)),
                  waiting_for="4.1")
    expected_type = source.data.params["model_type"]
    expected_r2 = source.data.metrics["r2"]
    held_type = version.tags.get("model_type")
    case.expect(held_type == expected_type,
                _("expected tag model_type = {expected} on version {version}, but {held}").format(
                    expected=repr(expected_type), version=version.version,
                    held=tag_held(version, "model_type")))
    held_r2 = version.tags.get("r2")
    try:
        close = held_r2 is not None and abs(float(held_r2) - expected_r2) <= 5e-5
    except ValueError:
        close = False
    case.expect(close, _("expected tag r2 = {expected} (the run's metric, as text) on version "
                         "{version}, but {held}").format(expected=repr(str(expected_r2)),
                                                         version=version.version,
                                                         held=tag_held(version, "r2")))
    case.expect(bool((version.description or "").strip()),
                _("expected a description on version {version}, but MLflow holds none").format(
                    version=version.version))


@pytest.mark.todo("4.3")
@pytest.mark.inputs("registry")
def test_the_new_version_is_promoted_to_staging(case):
    from mlflow.exceptions import MlflowException

    experiment, model_name, _best, _seeded = seed(case, registered_index=1)
    case.call("register_best", experiment_name=experiment, model_name=model_name)
    version = versions_of(case, model_name)[-1]
    try:
        alias = case.client.get_model_version_by_alias(model_name, "staging").version
    except MlflowException:
        alias = None
    if alias is None and version.current_stage == "Staging":
        warnings.warn(KataFeedback(stages_feedback()))
        return
    if alias != version.version:
        held = (_("it points at version {version}").format(version=alias) if alias is not None
                else aliases_note(case, model_name))
        case.fail(_("expected alias 'staging' of {model} to point at version {version}, but "
                    "{held}").format(model=repr(model_name), version=version.version, held=held))


@pytest.mark.todo("4.4")
def test_the_staging_model_is_loaded_for_prediction(case):
    from grader.judge.oracle import fitted
    from grader.judge.inputs import split as load_split  # the judge's copy of the sample

    model_name, data = case.name("response-time"), case.sample_data(300)
    slices = [[0, 80], [80, 160], [160, 240]]
    staging = case.rng.randrange(len(slices) - 1)  # never the newest version
    seeded = case.kit("seed_staging", data_path=data, model_name=model_name, slices=slices,
                      staging_index=staging)
    case.set_up(seeded_staging(model_name, seeded["versions"], seeded["versions"][staging]))
    split = load_split(data)
    start, stop = slices[staging]
    expected = fitted("LinearRegression", data, slice(start, stop)).predict(split.X_test)
    answer = case.call_then_predict("load_staging_model", split.X_test, model_name)
    if answer["predictions"] != pytest.approx(expected.tolist(), rel=1e-6):
        like = _("predicts otherwise")
        for index, (start, stop) in enumerate(slices):
            model = fitted("LinearRegression", data, slice(start, stop))
            if index != staging and answer["predictions"] == pytest.approx(
                    model.predict(split.X_test).tolist(), rel=1e-6):
                like = (_("predicts as version {version}, the newest, does") if index == len(slices) - 1
                        else _("predicts as version {version} does")).format(
                            version=seeded["versions"][index])
        case.fail(_("expected the predictions of version {version} (the one alias staging points "
                    "at), but the returned {type} {like}").format(
                        version=seeded["versions"][staging], type=answer["type"], like=like))
