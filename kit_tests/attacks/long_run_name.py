# Attack of issue 18 row 8: a run named baseline, renamed with SQL to ".-" * 300,000
# (600 KB: MLflow's own API caps names, SQL does not). TODO 1.2 quotes the name it finds;
# the report's failure clusters mask every message with regular expressions, one of which
# backtracked quadratically on such a name (52 s at 60,000 characters, ~40 h at 3 MB).
def log_baseline_run(data_path, experiment_name="devops-baseline"):
    import sqlite3

    import mlflow

    mlflow.set_experiment(experiment_name)
    with mlflow.start_run(run_name="baseline") as run:
        pass
    path = _os.environ["MLFLOW_TRACKING_URI"][len("sqlite:///"):]
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE runs SET name = ? WHERE run_uuid = ?", (".-" * 300_000, run.info.run_id))
        connection.execute("UPDATE tags SET value = ? WHERE key = 'mlflow.runName' AND run_uuid = ?",
                           (".-" * 300_000, run.info.run_id))
    connection.close()
    return run.info.run_id
