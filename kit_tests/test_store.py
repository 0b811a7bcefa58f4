"""The pre-migrated store template (grader/judge/store.py)."""

import sqlite3
import threading

from grader.judge import store


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
    left = [path.name for path in (tmp_path / "cache" / "mlflow-kata").iterdir() if path.suffix != ".lock"]
    assert left == [paths[0].name]


def test_a_template_another_process_is_building_is_waited_for_not_migrated_again(tmp_path, monkeypatch):
    """A first run's warm judge and its zygote both need the template: while one builds it
    (holding the lock file beside it), the other waits and takes that one."""
    import fcntl
    import shutil
    import time

    built = store.template_path()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = store.cache_dir() / built.name
    path.parent.mkdir(parents=True)
    got = []
    with open(path.with_suffix(".lock"), "w") as lock:  # "another process" builds it
        fcntl.flock(lock, fcntl.LOCK_EX)
        waiter = threading.Thread(target=lambda: got.append(store.template_path()))
        waiter.start()
        time.sleep(0.5)
        assert not got, "template_path did not wait for the build under way"
        shutil.copyfile(built, path)  # the other build's result
        inode = path.stat().st_ino
    waiter.join(timeout=60)
    assert got == [path] and path.stat().st_ino == inode, "the template was migrated again"


def test_only_the_draft_template_is_migrated_without_syncs(tmp_path):
    """The template's migrations skip the disk syncs; no other store's connections do, not
    even during the build, and none after it."""
    from sqlalchemy import create_engine

    def settings(database):
        engine = create_engine(f"sqlite:///{database}")
        with engine.connect() as connection:
            found = (
                connection.exec_driver_sql("PRAGMA synchronous").scalar(),
                connection.exec_driver_sql("PRAGMA journal_mode").scalar(),
            )
        engine.dispose()
        return found

    draft, other = tmp_path / "draft.db", tmp_path / "other.db"
    with store._unsynced(draft):
        assert settings(draft) == (0, "memory")
        assert settings(other) == (2, "delete")
    assert settings(draft) == (2, "delete")


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

    from grader.judge.mlflow_internals import cache_schema_head

    cache_schema_head()
    cache_schema_head()  # idempotent: memoized once
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


def tampered_store(tmp_path, *statements):
    store.new_store(tmp_path / "s")
    database = tmp_path / "s" / store.STORE_FILE
    with sqlite3.connect(database) as connection:
        for statement in statements:
            connection.execute(statement)
    connection.close()
    return database


def test_a_store_mlflow_wrote_is_read_and_one_tampered_with_is_refused_in_one_line(tmp_path):
    """Rows 6 and 7 of the attacker's round: a table replaced by a VIEW (900 MB a row, or a
    recursive query running for minutes) and other objects MLflow never makes."""
    import mlflow

    from grader.judge.mlflow_internals import dispose_client_stores

    uri = store.new_store(tmp_path / "honest")
    client = mlflow.MlflowClient(uri, uri)
    run = client.create_run(client.create_experiment("e"), run_name="r")
    client.log_param(run.info.run_id, "p", "1")
    client.set_terminated(run.info.run_id)
    dispose_client_stores(client)
    assert store.store_refusal(tmp_path / "honest" / store.STORE_FILE) == ""
    cases = {
        "view": ("DROP TABLE tags", "CREATE VIEW tags AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
                 "SELECT i + 1 FROM n) SELECT 'k' AS key, i AS value, 'x' AS run_uuid FROM n"),
        "trigger": ("CREATE TRIGGER t AFTER INSERT ON runs BEGIN DELETE FROM runs; END",),
        "index": ("CREATE INDEX my_index ON params(value)",),
        "rows": ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 60000) "
                 "INSERT INTO experiments(name, lifecycle_stage) SELECT 'e' || i, 'active' FROM n",),
    }
    reasons = {}
    for name, statements in cases.items():
        reasons[name] = store.store_refusal(tampered_store(tmp_path / name, *statements))
    assert reasons["view"].startswith("the MLflow store's schema is not MLflow's") and "view 'tags'" in reasons["view"]
    assert "trigger 't'" in reasons["trigger"] and "index 'my_index'" in reasons["index"]
    assert reasons["rows"] == f"the MLflow store's table 'experiments' has over {store.MAX_TABLE_ROWS} rows"
    big = tampered_store(tmp_path / "big")
    with open(big, "ab") as handle:
        handle.truncate(store.MAX_STORE_BYTES + 1)
    assert "MB, over the kit's" in store.store_refusal(big)
    assert all("\n" not in reason for reason in reasons.values())


def test_the_schema_stores_are_held_to_is_the_template_they_are_copied_from_now(tmp_path, monkeypatch):
    """A process whose cache folder changes (a test's own $HOME) copies stores from another
    template: they are checked against that one's schema, not the first one the process read
    (a rebuilt template may list its constraints in another order, and every store of it
    was refused as "not MLflow's")."""
    import shutil

    first = store.template_path()
    assert store.template_schema() == store.schema_of(first)
    other_cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(other_cache))
    other = store.cache_dir() / first.name
    other.parent.mkdir(parents=True)
    shutil.copyfile(first, other)
    with sqlite3.connect(other) as connection:  # a template whose schema reads otherwise
        connection.execute("CREATE INDEX kata_test_other_order ON metrics (key)")
    connection.close()
    assert store.template_path() == other
    assert store.template_schema() == store.schema_of(other) != store.schema_of(first)
