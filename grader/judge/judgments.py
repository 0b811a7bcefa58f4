"""What a TODO's tests conclude from the store, written once for the public test and the
hidden tests of that TODO: a hidden test varies the inputs (an earlier attempt left in
the experiment, the best run logged first), never the judging. Each function fails the
test through ``case`` (``case.fail``/``case.expect``) or returns quietly."""

from __future__ import annotations

from grader.core.i18n import _, ngettext
from grader.judge.case import KataCase
from grader.judge.messages import candidate_run, returned_note, run_label, run_status, runs_held


# -- Task 1 ----------------------------------------------------------------------------------
def baseline_run_returned(case: KataCase, run_id, others: list) -> None:
    """TODO 1.2: ``run_id`` (what the function returned) names a run called 'baseline'
    that is FINISHED; ``others``: the runs MLflow holds, to say what is there instead."""
    run = case.run_or_none(run_id)
    if run is None:
        case.fail(
            _("expected the id of the new run to be returned, but got {value}{note}; {held}").format(
                value=repr(run_id), note=returned_note(run_id), held=runs_held(others)
            )
        )
    case.expect(
        run.info.run_name == "baseline",
        _("expected the run to be named 'baseline', but it is {run}").format(run=run_label(run)),
    )
    case.expect(
        run.info.status == "FINISHED",
        _(
            "expected the run to be FINISHED when the function returns, but MLflow holds "
            "{status} (a run started without `with` runs until mlflow.end_run())"
        ).format(status=run_status(run.info.status)),
    )


# -- Task 4 ----------------------------------------------------------------------------------
def versions_of(case: KataCase, model_name: str) -> list:
    """The versions of ``model_name`` in the Model Registry, oldest first (none when the
    registry cannot be searched for it)."""
    from mlflow.exceptions import MlflowException

    try:
        found = case.client.search_model_versions(f"name = '{model_name}'")
    except MlflowException:
        return []
    return sorted(found, key=lambda version: int(version.version))


def same_version(returned, version) -> bool:
    """A version number equal by meaning: ``2`` or ``"2"`` (MLflow 3 gives an int)."""
    if isinstance(returned, bool) or not isinstance(returned, (int, str)):
        return False
    return str(returned).strip() == str(version)


def new_versions_held(model_name: str, count: int, seeded_version) -> str:
    """4.1's message when ``count`` versions (not one) are new besides the seeded one:
    none is said as none ("0 besides version 1" read badly), more in the plural."""
    if count == 0:
        template = _(
            "expected one new version of {model} in the Model Registry, but it holds no version "
            "besides version {version}, which the test registered before your call"
        )
    else:
        template = ngettext(
            "expected one new version of {model} in the Model Registry, but it holds {n} new version "
            "besides version {version}, which the test registered before your call",
            "expected one new version of {model} in the Model Registry, but it holds {n} new versions "
            "besides version {version}, which the test registered before your call",
            count,
        )
    return template.format(model=repr(model_name), n=count, version=seeded_version)


def best_registered_and_returned(
    case: KataCase, model_name: str, seeded_version, best_run_id: str, returned, best: str
) -> None:
    """TODO 4.1: exactly one version of ``model_name`` is new besides ``seeded_version``
    (the test registered it before the call), it comes from ``best_run_id`` and its number
    was returned. ``best``: how the message names the best run (e.g. "the first one
    logged")."""
    new = [v for v in versions_of(case, model_name) if v.version != seeded_version]
    case.expect(len(new) == 1, new_versions_held(model_name, len(new), seeded_version))
    version = new[0]
    if version.run_id != best_run_id:
        case.fail(
            _(
                "expected version {version} to come from the run with the highest r2 ({best}), "
                "but it comes from {source}"
            ).format(version=version.version, best=best, source=candidate_run(case, version.run_id))
        )
    case.expect(
        same_version(returned, version.version),
        _("expected the new version number {version} to be returned (version.version), but got {value}").format(
            version=version.version, value=repr(returned)
        ),
    )
