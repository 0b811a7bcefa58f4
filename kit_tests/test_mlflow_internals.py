"""Every private part of MLflow or skops the kit relies on (``grader.judge.mlflow_internals``)
is still what the kit expects. Each test names the attribute in its one-line failure: an
MLflow or skops upgrade that moves one breaks here, loudly, not in a verdict."""

import inspect
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import pytest

from grader.core.paths import KIT_ROOT
from grader.judge import mlflow_internals


def fitted_model():
    from sklearn.linear_model import LinearRegression

    return LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])


def test_requirement_inference_is_the_attribute_the_sklearn_flavor_calls(tmp_path, monkeypatch):
    import mlflow.models
    import mlflow.sklearn

    original = getattr(mlflow.models, "infer_pip_requirements", None)
    assert callable(original), "mlflow.models.infer_pip_requirements is gone"
    parameters = inspect.signature(original).parameters
    missing = [name for name in mlflow_internals.INFERENCE_PARAMETERS if name not in parameters]
    assert not missing, f"mlflow.models.infer_pip_requirements no longer takes {missing}"
    monkeypatch.setattr(mlflow.models, "infer_pip_requirements", original)  # put back afterwards
    mlflow_internals.skip_requirement_inference()
    skipping = mlflow.models.infer_pip_requirements
    seen = []

    def spy(*args, **kwargs):
        seen.append(kwargs.get("fallback"))
        return skipping(*args, **kwargs)

    monkeypatch.setattr(mlflow.models, "infer_pip_requirements", spy)
    mlflow.sklearn.save_model(fitted_model(), tmp_path / "model", serialization_format="cloudpickle")
    assert seen, ("mlflow.sklearn.save_model no longer calls mlflow.models.infer_pip_requirements: "
                  "skip_requirement_inference has no effect")
    assert seen[0], "the sklearn flavor no longer passes its default requirements as fallback="
    written = (tmp_path / "model" / "requirements.txt").read_text()
    assert all(requirement in written for requirement in seen[0]), written


def test_skops_writes_its_schema_through_the_json_module_the_kit_replaces(tmp_path, monkeypatch):
    persist = pytest.importorskip("skops.io._persist", reason="skops is not installed")
    import skops.io

    assert getattr(persist, "json", None) is not None, "skops.io._persist.json is gone"
    monkeypatch.setattr(persist, "json", json)  # as skops has it (and put back afterwards)
    mlflow_internals.write_skops_schema_compactly()
    assert persist.json is not json, "write_skops_schema_compactly left skops.io._persist.json as it was"
    path = tmp_path / "model.skops"
    skops.io.dump(fitted_model(), path)
    with zipfile.ZipFile(path) as archive:
        schema = archive.read("schema.json").decode()
    assert "\n" not in schema, "skops.io._persist no longer writes schema.json through its json.dumps"
    loaded = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    assert loaded.predict([[3.0]])[0] == pytest.approx(3.0)


def test_the_schema_head_is_one_function_every_store_opening_calls(tmp_path, monkeypatch):
    import mlflow.store.db.utils as db_utils
    from mlflow import MlflowClient

    from grader.judge.store import new_store

    latest = getattr(db_utils, "_get_latest_schema_revision", None)
    assert callable(latest), "mlflow.store.db.utils._get_latest_schema_revision is gone"
    original = getattr(latest, "__wrapped__", latest)
    required = [p for p in inspect.signature(original).parameters.values() if p.default is p.empty]
    assert not required, f"mlflow.store.db.utils._get_latest_schema_revision now takes {required}"
    monkeypatch.setattr(db_utils, "_get_latest_schema_revision", original)
    mlflow_internals.cache_schema_head()
    cached = db_utils._get_latest_schema_revision
    assert hasattr(cached, "cache_info"), "cache_schema_head did not cache it"
    for name in ("a", "b"):
        uri = new_store(tmp_path / name)
        client = MlflowClient(uri, uri)
        client.search_experiments()
        mlflow_internals.dispose_client_stores(client)
    assert cached.cache_info().hits >= 1, ("opening a store no longer calls "
                                           "mlflow.store.db.utils._get_latest_schema_revision")


def test_a_clients_stores_are_reached_and_their_engines_disposed(tmp_path):
    from mlflow import MlflowClient
    from sqlalchemy.engine import Engine

    from grader.judge.store import new_store

    uri = new_store(tmp_path / "s")
    client = MlflowClient(uri, uri)
    client.search_experiments()
    assert hasattr(client, "_tracking_client"), "MlflowClient._tracking_client is gone"
    assert callable(getattr(client, "_get_registry_client", None)), "MlflowClient._get_registry_client is gone"
    tracking, registry = mlflow_internals.client_stores(client)
    assert isinstance(getattr(tracking, "engine", None), Engine), \
        "MlflowClient._tracking_client.store.engine is no SQLAlchemy engine"
    assert isinstance(getattr(registry, "engine", None), Engine), \
        "MlflowClient._get_registry_client().store.engine is no SQLAlchemy engine"
    mlflow_internals.dispose_client_stores(client)
    assert tracking.engine.pool.checkedout() == 0



class Refused(Exception):
    pass


def test_every_store_mlflow_uses_is_resolved_through_the_watched_registries(tmp_path, monkeypatch):
    """``watch_store_uris`` sees the URI of every store a client or the fluent API uses,
    however it was chosen, and what it raises stops MLflow before it opens the store or
    asks a server."""
    import mlflow
    from mlflow import MlflowClient

    from grader.judge.store import new_store

    for what, registry in mlflow_internals.store_registries().items():
        resolved = getattr(registry, "_get_store_with_resolved_uri", None)
        assert callable(resolved), f"{registry.__name__}._get_store_with_resolved_uri is gone"
        parameters = list(inspect.signature(resolved).parameters)
        assert parameters[:2] == ["self", "resolved_store_uri"], (
            f"{registry.__name__}._get_store_with_resolved_uri no longer takes the resolved URI first: {parameters}")
        monkeypatch.setattr(registry, "_get_store_with_resolved_uri", resolved)  # put back afterwards
    seen = []

    def check(what, uri):
        seen.append((what, uri))
        if uri.startswith("http:"):
            raise Refused(uri)

    mlflow_internals.watch_store_uris(check)
    uris = {name: new_store(tmp_path / name) for name in ("argument", "registry", "environment", "setter")}
    MlflowClient(tracking_uri=uris["argument"]).search_experiments()
    MlflowClient(uris["argument"], registry_uri=uris["registry"]).search_registered_models()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uris["environment"])
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uris["environment"])
    mlflow.search_experiments()
    try:
        mlflow.set_tracking_uri(uris["setter"])
        mlflow.search_experiments()
        mlflow.set_registry_uri(uris["setter"])
        MlflowClient().search_registered_models()
        with pytest.raises(Refused):
            MlflowClient(tracking_uri="http://127.0.0.1:9")  # port 9 (discard): never asked
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
    expected = [("tracking", uris["argument"]), ("registry", uris["registry"]), ("tracking", uris["environment"]),
                ("tracking", uris["setter"]), ("registry", uris["setter"]), ("tracking", "http://127.0.0.1:9")]
    missing = [pair for pair in expected if pair not in seen]
    assert not missing, f"stores MLflow used without _get_store_with_resolved_uri: {missing} (seen: {seen})"


def test_the_store_uris_the_setters_set_are_read_and_put_back(monkeypatch):
    """``kata run`` puts MLflow's store URIs back as they were after the student's code set its
    own (``StoreGuard.remove``): a test's process went on asking ``http://127.0.0.1:9``."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///given.db")
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    saved = mlflow_internals.store_uri_settings()
    try:
        mlflow.set_tracking_uri("http://127.0.0.1:9")
        mlflow.set_registry_uri("http://127.0.0.1:9")
        assert mlflow_internals.store_uri_settings() != saved
    finally:
        mlflow_internals.restore_store_uri_settings(saved)
    assert mlflow_internals.store_uri_settings() == saved
    assert mlflow.get_tracking_uri() == "sqlite:///given.db" == mlflow.get_registry_uri()
    assert "MLFLOW_REGISTRY_URI" not in os.environ


# In a fresh interpreter: the warm-up, then a fork as the zygote makes one per call.
WARM_UP_LEAVES_NOTHING = textwrap.dedent("""
    import os, sys, tempfile
    from pathlib import Path
    import mlflow
    from sklearn.linear_model import LinearRegression
    from grader.judge import preload
    from grader.judge.store import new_store

    preload.preload()
    preload.warm_up(["tracking", "models"])
    scratch = Path(tempfile.mkdtemp())
    os.environ["MLFLOW_TRACKING_URI"] = new_store(scratch / "parent")
    with mlflow.start_run():  # the parent remembers a run and a logged model ...
        mlflow.sklearn.log_model(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), name="m")
    assert mlflow.last_active_run() is not None and mlflow.last_logged_model() is not None
    pid = os.fork()
    if pid == 0:  # ... a forked child, as every sandboxed call is, remembers neither
        os.environ["MLFLOW_TRACKING_URI"] = new_store(scratch / "child")
        problems = []
        if mlflow.last_active_run() is not None:
            problems.append("a forked child sees the parent's last run (mlflow.last_active_run)")
        if mlflow.last_logged_model() is not None:
            problems.append("a forked child sees the parent's last model (mlflow.last_logged_model)")
        try:
            with mlflow.start_run() as run:
                if run.info.experiment_id != "0":
                    problems.append(f"a run without set_experiment went to experiment "
                                    f"{run.info.experiment_id}, not the store's default")
        except Exception as error:
            problems.append(f"a run without set_experiment failed (an active experiment left "
                            f"by the warm-up?): {error}")
        print("; ".join(problems), flush=True)
        os._exit(1 if problems else 0)
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))
""")


def test_the_warm_up_leaves_nothing_a_forked_call_could_see(tmp_path):
    """``preload.warm_up`` uses the fluent API without ``set_experiment`` and relies on
    MLflow forgetting, in a forked child, the last run and logged model of its parent
    (``mlflow.utils.thread_utils.ThreadLocalVariable``): no private state is reset."""
    run = subprocess.run([sys.executable, "-c", WARM_UP_LEAVES_NOTHING], cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(KIT_ROOT)},
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]


def test_mlflows_event_lines_go_through_the_one_stream_the_kit_mutes(capsys):
    """``kata run`` mutes "Successfully registered model …" and "Created version …": MLflow
    prints them with ``eprint`` to ``MLFLOW_LOGGING_STREAM``, muted by a counted context
    that MLflow's own modules also enter and leave (importing one must not unmute it)."""
    from mlflow.tracking._model_registry import fluent
    from mlflow.utils import logging_utils
    from mlflow.utils.autologging_utils.logging_and_warnings import MlflowEventsAndWarningsBehaviorGlobally

    assert getattr(fluent, "eprint", None) is logging_utils.eprint, \
        "mlflow.register_model no longer says its lines with mlflow.utils.logging_utils.eprint"
    with mlflow_internals.event_lines_muted():
        logging_utils.eprint("Successfully registered model 'm'.")
        with MlflowEventsAndWarningsBehaviorGlobally(True, True, False):  # as mlflow.types.responses imports
            pass
        logging_utils.eprint("Created version '1' of model 'm'.")
        print("the student's own line", file=sys.stderr)
    logging_utils.eprint("Registered model 'm' already exists.")
    assert capsys.readouterr().err == "the student's own line\nRegistered model 'm' already exists.\n"


def test_every_run_the_fluent_api_starts_goes_through_the_watched_start_run(tmp_path, monkeypatch):
    """``watch_run_starts`` sees the runs ``mlflow.start_run`` starts and those a logging call
    starts of its own while no run is active (``mlflow.tracking.fluent._get_or_start_run``
    calling its module's ``start_run``), and puts MLflow back when asked."""
    import mlflow
    import mlflow.tracking.fluent as fluent

    from grader.judge.store import new_store

    assert callable(getattr(fluent, "_get_or_start_run", None)), "mlflow.tracking.fluent._get_or_start_run is gone"
    original = fluent.start_run
    monkeypatch.setattr(fluent, "start_run", original)  # put back afterwards, whatever happens
    monkeypatch.setattr(mlflow, "start_run", mlflow.start_run)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", new_store(tmp_path / "store"))
    seen = []
    unwatch = mlflow_internals.watch_run_starts(lambda run: seen.append(run.info.run_id))
    try:
        assert mlflow_internals.watch_run_starts(seen.append)() is None  # a second watch changes nothing
        with mlflow.start_run() as explicit:
            pass
        mlflow.log_param("p", 1)  # no run active: MLflow starts one of its own
        implicit = mlflow.active_run()
        mlflow.end_run()
    finally:
        unwatch()
    assert seen == [explicit.info.run_id, implicit.info.run_id], (
        "mlflow.tracking.fluent._get_or_start_run no longer starts its run through the module's start_run")
    assert fluent.start_run is original and mlflow.start_run is original
