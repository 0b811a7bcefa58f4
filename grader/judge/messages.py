"""What MLflow holds, said for failure messages: runs by their names (never their hex ids),
what a run's params or tags have of what was expected, runs logged where they should not
be, metrics that are the training set's, a model's aliases and tags. The judgments
(``grader.judge.judgments``) and the kata tests word their verdicts with these; each
quotes what the student chose cut to ``NAME_CHARS``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from grader.core import i18n
from grader.core.i18n import N_, _, ngettext
from grader.judge import inputs
from grader.judge.calls import Described

if TYPE_CHECKING:
    from grader.judge.case import KataCase

AUTO_RUN_NAME = re.compile(r"[a-z]+-[a-z]+-\d{1,3}")  # MLflow's name for a run nobody named


NAME_CHARS = 200  # of a student-made name quoted in a message (a run name may be megabytes)


def quoted(name) -> str:
    """``repr(name)``, cut to ``NAME_CHARS`` with the length said: the student chose it."""
    text = str(name)
    if len(text) <= NAME_CHARS:
        return repr(text)
    return repr(text[:NAME_CHARS]) + "…" + _("({count} characters)").format(count=len(text))


def run_label(run) -> str:
    """A run as a message names it: by its name, never its hex id; a run the student
    did not name is said to be one (with the name MLflow gave it, to find it in the UI)."""
    name = run.info.run_name or ""
    if not name or AUTO_RUN_NAME.fullmatch(name):
        return _("a run without a name of yours (MLflow named it {name})").format(name=repr(name))
    return _("the run {name}").format(name=quoted(name))


# MLflow's run statuses, said in the student's language; MLflow's own word (what its UI and
# API show, what a student looks up) follows it. In English MLflow's word says it alone.
RUN_STATUSES = {
    "FINISHED": N_("finished (a run's status)"),
    "RUNNING": N_("running (a run's status)"),
    "FAILED": N_("failed (a run's status)"),
    "KILLED": N_("killed (a run's status)"),
    "SCHEDULED": N_("scheduled (a run's status)"),
}


def run_status(status, within: bool = False) -> str:
    """A run's status (``FINISHED``) in the current language: ``terminada (FINISHED)``, or
    ``terminada, FINISHED`` ``within`` parentheses of the message; ``FINISHED`` in English
    (and for a status the kit has no word for)."""
    word = RUN_STATUSES.get(str(status))
    said = _(word) if word else ""
    if not said or said == word:
        return str(status)
    return f"{said}, {status}" if within else f"{said} ({status})"


def describe_runs(runs) -> str:
    """``the run 'baseline' (FINISHED), a run without a name of yours (…) (RUNNING)``
    (``(terminada, FINISHED)`` in Spanish)."""
    return ", ".join(f"{run_label(run)} ({run_status(run.info.status, within=True)})" for run in runs)


def runs_held(runs) -> str:
    """``MLflow holds the run 'baseline' (FINISHED)``, or ``MLflow holds no run at all``."""
    if not runs:
        return _("MLflow holds no run at all")
    return _("MLflow holds {runs}").format(runs=describe_runs(runs))


def stray_runs(case: KataCase, keep, holds) -> list:
    """Runs of the store other than ``keep`` (runs or ids) for which ``holds(run)``: what
    logging with no active run leaves (MLflow starts a new run for it)."""
    ids = {getattr(getattr(run, "info", None), "run_id", run) for run in keep}
    return [run for run in case.all_runs() if run.info.run_id not in ids and holds(run)]


def stray_note(strays) -> str:
    """``; but MLflow holds them on another run: …``, or ``""`` without strays."""
    if not strays:
        return ""
    return "; " + _(
        "they are on another run instead: {runs}. Logging while no run is active "
        "(after the `with` block, or outside it) makes MLflow start a new run for "
        "it"
    ).format(runs=describe_runs(strays))


EXTRA_SHOWN = 5  # keys the student logged beside the expected ones, named when one is missing
EXTRA_VALUE_CHARS = 40


def held_text(held, expected: dict) -> str:
    """What ``held`` (a run's params or tags) has of ``expected``'s keys, and which it
    lacks: ``{'a': '1'} (no b)``; with a key missing, also the keys the student logged
    besides (MLflow's own ``mlflow.*`` tags aside): a typo'd ``random_sate`` is then in the
    message, as MLflow holds it: ``{'a': '1'} (no b); it holds {'bb': '2'} too``."""
    present = {key: held[key] for key in expected if key in held}
    missing = [key for key in expected if key not in held]
    if not missing:
        return str(present)
    text = ngettext("{present} (no {missing})", "{present} (no {missing})", len(missing)).format(
        present=present, missing=", ".join(missing)
    )
    extra = sorted(str(key) for key in held if key not in expected and not str(key).startswith("mlflow."))
    if extra:
        shown = {key: str(held[key])[:EXTRA_VALUE_CHARS] for key in extra[:EXTRA_SHOWN]}
        text += _("; it holds {extra} too").format(extra=shown)
    return text


def training_metrics(kind: str, data_path, **params) -> dict[str, float]:
    """What the kit's own ``kind(**params)`` scores on the *training* rows: what a
    student's metrics are when the model was evaluated on the wrong split."""
    from grader.judge.oracle import fitted
    from labkit import evaluate

    split = inputs.split(data_path)
    return evaluate(fitted(kind, data_path, **params), split.X_train, split.y_train)


def metric_note(name: str, held: float, training: dict[str, float]) -> str:
    """`` — the model's rmse on the training set: …`` when ``held`` is it, else ``""``."""
    import math

    if name in training and math.isclose(held, training[name], rel_tol=1e-6):
        return " — " + _(
            "that is the model's {metric} on the training set: score it on the held-out split (X_test, y_test)"
        ).format(metric=name)
    return ""


def returned_note(value) -> str:
    """`` (its id is run.info.run_id)`` when ``value`` is a run object, not its id."""
    if isinstance(value, Described) and value.type in ("ActiveRun", "Run"):
        return " " + _("(its id is run.info.run_id)")
    return ""


def candidate_run(case: KataCase, run_id) -> str:
    """A candidate run of Task 4 by its name and r2: ``the RandomForest run, r2 = 0.91``."""
    run = case.run_or_none(run_id)
    if run is None:
        return repr(run_id)
    return _("the {name} run, r2 = {r2}").format(
        name=str(run.info.run_name)[:NAME_CHARS], r2=run.data.metrics.get("r2")
    )


# -- what a Task 4 test set up (``KataCase.set_up``) ------------------------------------------
# Task 4's tests never read the student's Task 3: each logs candidate runs of its own, with
# r2 scores it chooses (so its best need not be LAB.md's GradientBoosting), and may register
# versions before the call. Their failures say so, as LAB.md does.


def seeded_candidates(experiment: str, candidates: list[dict]) -> str:
    """``3 candidate runs of its own, with r2 scores of its choosing, in experiment 'x'
    (RandomForest r2 = 0.62, LinearRegression r2 = 0.91, …: the best is the LinearRegression
    run)``; ``candidates``: what ``grader.judge.seeding.seed_comparison`` logged, in order."""
    best = max(candidates, key=lambda candidate: candidate["r2"])
    return ngettext(
        "{count} candidate run of its own, with an r2 score of its choosing, in experiment "
        "{experiment} ({runs}: the best is the {best} run)",
        "{count} candidate runs of its own, with r2 scores of its choosing, in experiment "
        "{experiment} ({runs}: the best is the {best} run)",
        len(candidates),
    ).format(
        count=len(candidates),
        experiment=repr(experiment),
        runs=", ".join(f"{candidate['model_type']} r2 = {candidate['r2']}" for candidate in candidates),
        best=best["model_type"],
    )


def seeded_version(model_name: str, version, source: str) -> str:
    """``version 1 of 'm', registered from the RandomForest run``: a version the test
    registered before the call, from the candidate run of model type ``source``."""
    return _("version {version} of {model}, registered from the {source} run").format(
        version=version, model=repr(model_name), source=source
    )


def seeded_staging(model_name: str, versions: list, staging) -> str:
    """``versions 1, 2, 3 of 'm' (…), with alias staging on version 2``: what
    ``grader.judge.seeding.seed_staging`` registered and promoted before the call."""
    return _(
        "versions {versions} of {model} (each a LinearRegression model trained on other rows), "
        "with alias staging on version {staging}"
    ).format(versions=", ".join(str(version) for version in versions), model=repr(model_name), staging=staging)


def tag_held(version, key: str) -> str:
    """``MLflow holds '0.91'``, or, when the version has no tag ``key``, which it has."""
    if key in version.tags:
        return _("MLflow holds {held}").format(held=repr(version.tags[key]))
    return _("version {version} has no tag {key} (its tags: {tags})").format(
        version=version.version, key=key, tags=dict(version.tags) or "{}"
    )


def aliases_note(case: KataCase, model_name: str) -> str:
    """What the model's aliases are, when it has no ``staging``: ``the model has no alias
    'staging'; its aliases are {'Staging': 2} (aliases are case-sensitive)``."""
    from mlflow.exceptions import MlflowException

    try:
        aliases = dict(case.client.get_registered_model(model_name).aliases or {})
    except MlflowException:
        aliases = {}
    if not aliases:
        return _("the model has no alias at all")
    return _("the model has no alias 'staging'; its aliases are {aliases} (aliases are case-sensitive)").format(
        aliases=aliases
    )


def stages_feedback() -> str:
    """What a passing TODO 4.3 that used a stage is told (in each language when none)."""
    lines = []
    for lang in i18n.hint_languages():
        with i18n.use(lang):
            lines.append(
                _(
                    "accepted, but stages are deprecated: use an alias instead, "
                    "client.set_registered_model_alias(name, 'staging', version)"
                )
            )
    return "TODO 4.3: " + " / ".join(dict.fromkeys(lines))


def grid_config(config: dict) -> str:
    """A config of the grid a task-2 test passed to ``tune_random_forest``, said to be the
    test's: the student never wrote it (their default grid is another one)."""
    return _("{config} (from the param_grid the test passed)").format(config=config)
