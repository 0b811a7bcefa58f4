"""Every reach into MLflow's or skops's private parts, in one place.

The kit patches or reads a few attributes no public API offers; each is a bet that the
next MLflow (or skops) release keeps them. Gathered here, each with a kit test
(``kit_tests/test_mlflow_internals.py``) that names the attribute and fails loudly when
a release changes it, so an upgrade breaks one test with one line, not a verdict quietly.
Where MLflow offers a public way, the kit uses it instead (the warm-up's state: see
``grader.judge.preload.warm_up``, which leaves none a call could see).

* ``skip_requirement_inference``: ``mlflow.models.infer_pip_requirements``, looked up
  by the flavors at call time (a public name, replaced: no switch turns inference off).
* ``write_skops_schema_compactly``: ``skops.io._persist.json``.
* ``cache_schema_head``: ``mlflow.store.db.utils._get_latest_schema_revision``.
* ``dispose_client_stores``: ``MlflowClient._tracking_client.store`` and
  ``MlflowClient._get_registry_client().store`` (SQLAlchemy engines).
* ``event_lines_muted``: ``mlflow.utils.autologging_utils.logging_and_warnings.
  MlflowEventsAndWarningsBehaviorGlobally`` (``MLFLOW_LOGGING_STREAM``, ``eprint``).


* ``watch_store_uris``: ``TrackingStoreRegistry._get_store_with_resolved_uri`` and
  ``ModelRegistryStoreRegistry._get_store_with_resolved_uri`` (the one way to every store).
* ``watch_run_starts``: ``mlflow.tracking.fluent.start_run``, which the fluent logging
  calls reach through ``mlflow.tracking.fluent._get_or_start_run`` when no run is active
  (the kit's one watch on run starts: ``grader.judge.mlflow_errors.watch_run_starts``).
* ``store_uri_settings``: ``mlflow.tracking._tracking_service.utils._tracking_uri`` and
  ``mlflow.tracking._model_registry.utils._registry_uri`` (what the setters set).
"""

from __future__ import annotations

import contextlib
import json
import os
import types
from collections.abc import Callable, Iterator
from functools import cache

INFERENCE_PARAMETERS = ("model_uri", "flavor", "fallback")  # what the flavors pass


def skip_requirement_inference() -> None:
    """``log_model`` without ``pip_requirements`` spends ~4 s in a subprocess inferring
    them; in the sandbox the flavor's default requirements (its ``fallback``) are
    recorded instead. The flavors call ``mlflow.models.infer_pip_requirements(model_uri,
    flavor, fallback=...)`` through the module attribute, so replacing it there is seen."""
    import mlflow.models

    def default_requirements(model_uri, flavor, fallback=None, **_):
        return fallback or []

    mlflow.models.infer_pip_requirements = default_requirements  # type: ignore[assignment]


def write_skops_schema_compactly() -> None:
    """skops writes a model's ``schema.json`` with ``indent=2``, which sends it through
    Python's pure-Python JSON encoder: ~15 % of a ``log_model`` of a 100-tree forest.
    In the sandbox it is written without indentation (the C encoder); the file holds
    the same JSON and loads the same. skops's ``_persist`` module gets a ``json`` of its
    own whose ``dumps`` drops ``indent``; without skops, or with a skops whose
    ``_persist.json`` is not the json module, nothing changes."""
    try:
        import skops.io._persist as persist
    except ImportError:
        return
    if getattr(persist, "json", None) is json:
        compact = types.ModuleType("json")
        compact.__dict__.update(json.__dict__)

        def dumps(obj, indent=None, **options):
            return json.dumps(obj, **options)

        compact.dumps = dumps  # type: ignore[attr-defined]
        persist.json = compact


def cache_schema_head() -> None:
    """Opening a SQLite store, MLflow checks its schema against the newest migration,
    found by loading all ~70 migration scripts again every time (~15 ms a store, paid
    by every sandboxed call and by the judge for every test). That answer depends only
    on the installed MLflow: remember it for the process (and the children it forks)."""
    import mlflow.store.db.utils as db_utils

    latest = getattr(db_utils, "_get_latest_schema_revision", None)
    if latest is not None and not hasattr(latest, "cache_info"):
        db_utils._get_latest_schema_revision = cache(latest)


def client_stores(client) -> list:
    """The tracking and registry stores an ``MlflowClient`` holds (None where it holds
    none): MLflow has no public handle on them."""
    return [getattr(client._tracking_client, "store", None), getattr(client._get_registry_client(), "store", None)]


def dispose_client_stores(client) -> None:
    """Close the pooled connections of ``client``'s SQLAlchemy stores. MLflow caches one
    store (and engine) per URI: a folder reused by the next test must not be read
    through connections to the database deleted with the previous one."""
    for store in client_stores(client):
        engine = getattr(store, "engine", None)
        if engine is not None:
            engine.dispose()


@contextlib.contextmanager
def event_lines_muted() -> Iterator[None]:
    """MLflow's own English event lines muted inside the block: ``Successfully registered
    model 'm'.``, ``Created version '1' of model 'm'.`` and its log records all go
    through one stream, ``MLFLOW_LOGGING_STREAM`` (to stderr), which MLflow switches off
    and on with a counted context, ``MlflowEventsAndWarningsBehaviorGlobally`` (its own
    modules use it while they import: the stream's flag alone would be turned back on).
    ``kata run`` prints its own line, in the student's language; the student's own
    prints, to stdout or stderr, still show."""
    from mlflow.utils.autologging_utils.logging_and_warnings import MlflowEventsAndWarningsBehaviorGlobally

    with MlflowEventsAndWarningsBehaviorGlobally(
        disable_event_logs=True, disable_warnings=False, reroute_warnings=False
    ):
        yield


def store_registries() -> dict:
    """MLflow's two store registries (classes), by what they make stores for."""
    from mlflow.tracking._model_registry.registry import ModelRegistryStoreRegistry
    from mlflow.tracking._tracking_service.registry import TrackingStoreRegistry

    return {"tracking": TrackingStoreRegistry, "registry": ModelRegistryStoreRegistry}


def watch_store_uris(check):
    """Call ``check(what, uri)`` (``what``: ``tracking`` or ``registry``) with the URI of
    every store MLflow is about to use, as MLflow resolved it (an argument, what
    ``set_tracking_uri`` or ``set_registry_uri`` set, the environment), before it makes
    or reuses one: whatever ``check`` raises is raised there, before any store is opened
    or any server is asked. Every store a tracking or registry client uses comes from
    its registry's ``get_store``, which hands the resolved URI to
    ``_get_store_with_resolved_uri`` (cached per URI: wrapped outside the cache, the
    check sees every use). For a sandboxed child (``grader.judge.probes.guard_store``) and
    ``kata run``, which calls what this returns to stop watching."""
    saved = {}
    for what, registry in store_registries().items():
        resolved = saved[registry] = registry._get_store_with_resolved_uri

        def watched(self, uri, *args, _what=what, _resolved=resolved, **kwargs):
            check(_what, uri)
            return _resolved(self, uri, *args, **kwargs)

        registry._get_store_with_resolved_uri = watched

    def stop_watching() -> None:
        for registry, resolved in saved.items():
            registry._get_store_with_resolved_uri = resolved

    return stop_watching


URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def store_uri_settings() -> tuple:
    """What ``mlflow.set_tracking_uri`` and ``set_registry_uri`` set in this process: their
    module globals (no public getter tells "never set" from the default) and the variables
    they write, for ``restore_store_uri_settings`` (``kata run``: a student's
    ``set_tracking_uri`` must not outlive their code in a process that goes on)."""
    import mlflow.tracking._model_registry.utils as registry
    import mlflow.tracking._tracking_service.utils as tracking

    return (tracking._tracking_uri, registry._registry_uri, *(os.environ.get(name) for name in URI_VARIABLES))


def restore_store_uri_settings(saved: tuple) -> None:
    import mlflow.tracking._model_registry.utils as registry
    import mlflow.tracking._tracking_service.utils as tracking

    tracking._tracking_uri, registry._registry_uri = saved[:2]
    for name, value in zip(URI_VARIABLES, saved[2:]):
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


RUN_STILL_ACTIVE = "_kata_run_still_active"  # an attribute: the run active when start_run raised


def watch_run_starts(record) -> Callable[[], None]:
    """Call ``record(run)`` with every run ``mlflow.start_run`` starts, whether code called
    it (``mlflow.start_run``, as the student's code finds it) or MLflow did, for a logging
    call made while no run was active (``mlflow.log_param`` … start a run of their own:
    ``mlflow.tracking.fluent._get_or_start_run`` looks up its module's ``start_run`` when
    called). ``record`` is called from the wrapper, whose caller is the one that asked for
    the run. An exception ``start_run`` raises while a run is active ("Run … is already
    active") carries that run's id (attribute ``RUN_STILL_ACTIVE``): by the time it is
    looked at, a ``with`` block around the failed line may have ended that run. Returns
    what puts MLflow back as it was (``kata run`` does; a sandboxed child ends with its
    call); while one watch is on, another changes nothing."""
    import functools

    import mlflow
    import mlflow.tracking.fluent as fluent

    original = fluent.start_run
    if getattr(original, "kata_watched", False):
        return lambda: None

    @functools.wraps(original)
    def start_run(*args, **kwargs):
        active = mlflow.active_run()
        try:
            run = original(*args, **kwargs)
        except Exception as error:
            if active is not None:
                with contextlib.suppress(Exception):  # an exception that takes no attribute
                    setattr(error, RUN_STILL_ACTIVE, active.info.run_id)
            raise
        record(run)
        return run

    start_run.kata_watched = True  # type: ignore[attr-defined]
    fluent.start_run = mlflow.start_run = start_run

    def unwatch() -> None:
        fluent.start_run = mlflow.start_run = original

    return unwatch
