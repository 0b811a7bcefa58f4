# Attack 15: leave a file (and a folder) whose name is not UTF-8. The judge read the next
# call's state with name.encode(): "kit error: UnicodeEncodeError" for the student's doing.
# The first call logs a run where asked (so TODO 1.1's test makes a second call from the
# state it left); the second logs it elsewhere and reports.
def _leave():
    name = _os.fsdecode(b"kata-\xff\xfe-" + CTX["token"].encode())
    there = _os.path.lexists(name)
    if not there:
        with open(name, "wb") as handle:
            handle.write(b"not UTF-8")
        _os.mkdir(name + "-dir")
    return there


def log_baseline_run(data_path, experiment_name="devops-baseline"):
    import mlflow

    second = _leave()
    if second:
        experiment_name = "Default"
    mlflow.set_experiment(experiment_name)
    with mlflow.start_run(run_name="attack") as run:
        pass
    if second:
        raise RuntimeError(attack_report({"left": "a file and a folder named b'kata-\\xff\\xfe-…'"}))
    return run.info.run_id
