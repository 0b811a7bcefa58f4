"""The pre-migrated store template (grader/store.py)."""

import sqlite3
import threading

from grader import store


def test_threads_building_the_template_on_a_cold_cache_all_get_one_migrated_store(tmp_path, monkeypatch):
    """A test and the model server's background start both build it on a fresh cache:
    MLflow's migrations (alembic, one global context per process) must not interleave."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    paths, errors = [], []

    def build():
        try:
            paths.append(store.template_path())
        except Exception as error:  # noqa: BLE001 - what the assertion reports
            errors.append(f"{type(error).__name__}: {str(error)[:200]}")

    threads = [threading.Thread(target=build) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(paths)) == 1 and paths[0].is_file()
    with sqlite3.connect(paths[0]) as connection:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(metrics)")}
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    connection.close()
    assert "step" in columns and {"experiments", "runs", "registered_models"} <= tables
    assert [path.name for path in (tmp_path / "cache" / "mlflow-kata").iterdir()] == [paths[0].name]


def test_a_new_store_is_a_copy_whose_default_experiment_keeps_its_artifacts_beside_it(tmp_path):
    uri = store.new_store(tmp_path / "s")
    assert uri == f"sqlite:///{tmp_path / 's' / store.STORE_FILE}"
    with sqlite3.connect(tmp_path / "s" / store.STORE_FILE) as connection:
        (location,) = connection.execute(
            "SELECT artifact_location FROM experiments WHERE experiment_id = 0").fetchone()
    connection.close()
    assert location == (tmp_path / "s" / store.ARTIFACTS_DIR / "0").as_uri()


def test_remembering_the_schema_head_still_refuses_a_store_of_another_schema(tmp_path):
    from mlflow import MlflowClient

    store.remember_schema_head()
    store.remember_schema_head()  # idempotent: memoized once
    good = store.new_store(tmp_path / "good")
    assert MlflowClient(good).search_experiments()  # a fresh store opens
    stale = store.new_store(tmp_path / "stale")
    with sqlite3.connect(tmp_path / "stale" / store.STORE_FILE) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'not-the-head'")
    connection.close()
    try:
        MlflowClient(stale).search_experiments()
    except Exception as error:  # noqa: BLE001 - MLflow's own error type
        assert "out-of-date" in str(error) or "schema" in str(error).lower(), error
    else:
        raise AssertionError("a store whose schema is not the head opened")
