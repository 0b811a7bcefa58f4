"""Task 4, hidden inputs: the instructor's kit only (a student release leaves
``tests/hidden/`` out). ``kata grade``, ``kata validate`` and the Gradescope bundle run
these with ``tests/test_task4.py``; a TODO passes only when all its tests pass.

As in the public tests, the candidate runs and versions are seeded by kit code
(``grader.judge.seeding``), never by the student's Task 3.
"""

import warnings

import pytest

from grader.judge.case import KataFeedback
from grader.judge.messages import (aliases_note, candidate_run, seeded_candidates, seeded_staging,
                                   seeded_version, stages_feedback)
from grader.core.i18n import _
from grader.judge.judgments import best_registered_and_returned, versions_of


def seed(case, r2, registered_index):
    """Three finished candidate runs logged in order with the scores ``r2``, the run at
    ``registered_index`` already registered as version 1."""
    experiment, model_name = case.name("comparison"), case.name("response-time")
    kinds = case.rng.sample(["LinearRegression", "RandomForest", "GradientBoosting"], 3)
    candidates = [{"model_type": kind, "r2": value, "slice": [index * 60, index * 60 + 120]}
                  for index, (kind, value) in enumerate(zip(kinds, r2))]
    seeded = case.kit("seed_comparison", data_path=case.sample_data(300), experiment_name=experiment,
                      candidates=candidates,
                      registered={"model_name": model_name, "index": registered_index})
    case.set_up(seeded_candidates(experiment, candidates))
    case.set_up(seeded_version(model_name, seeded["version"], kinds[registered_index]))
    return experiment, model_name, seeded


def distinct_scores(case):
    return [value / 100 for value in sorted(case.rng.sample(range(50, 99), 3), reverse=True)]


@pytest.mark.todo("4.1")
def test_the_best_run_is_registered_when_it_was_logged_first(case):
    r2 = distinct_scores(case)  # best first, worst last
    experiment, model_name, seeded = seed(case, r2, registered_index=2)
    best_run_id = seeded["run_ids"][0]
    returned = case.call("register_best", experiment_name=experiment, model_name=model_name)
    best_registered_and_returned(case, model_name, seeded["version"], best_run_id, returned,
                                 best=_("{run}, the first one logged").format(
                                     run=candidate_run(case, best_run_id)))


@pytest.mark.todo("4.3")
def test_the_staging_alias_moves_to_the_new_version_from_an_older_one(case):
    from mlflow.exceptions import MlflowException

    experiment, model_name, data = case.name("comparison"), case.name("response-time"), case.sample_data(300)
    # An earlier round registered versions 1 and 2 and promoted version 1 to staging: the
    # alias points at neither the newest version nor the one this call registers.
    earlier = case.kit("seed_staging", data_path=data, model_name=model_name,
                       slices=[[0, 80], [80, 160]], staging_index=0)
    promoted = earlier["versions"][0]
    case.set_up(seeded_staging(model_name, earlier["versions"], promoted))
    r2 = distinct_scores(case)
    case.rng.shuffle(r2)
    kinds = case.rng.sample(["LinearRegression", "RandomForest", "GradientBoosting"], 3)
    candidates = [{"model_type": kind, "r2": value, "slice": [index * 60, index * 60 + 120]}
                  for index, (kind, value) in enumerate(zip(kinds, r2))]
    case.kit("seed_comparison", data_path=data, experiment_name=experiment, candidates=candidates)
    case.set_up(seeded_candidates(experiment, candidates))
    case.call("register_best", experiment_name=experiment, model_name=model_name)
    version = versions_of(case, model_name)[-1]
    try:
        alias = case.client.get_model_version_by_alias(model_name, "staging").version
    except MlflowException:
        alias = None
    if str(alias) == str(promoted) and version.current_stage == "Staging":
        # Judged as the public test judges stages: this code never used the alias.
        warnings.warn(KataFeedback(stages_feedback()))
        return
    if alias != version.version:
        if str(alias) == str(promoted):
            case.fail(_("expected alias 'staging' of {model} to move to version {version}, but it "
                        "still points at version {alias}").format(
                            model=repr(model_name), version=version.version, alias=alias))
        held = (_("it points at version {version}").format(version=alias) if alias is not None
                else aliases_note(case, model_name))
        case.fail(_("expected alias 'staging' of {model} to point at version {version}, but "
                    "{held}").format(model=repr(model_name), version=version.version, held=held))
