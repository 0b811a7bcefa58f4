# Attack 13: leave 4,000 nested folders in its folder (the judge's recursive walks and
# removals raised RecursionError: both honest copies lost everything, kata grade crashed).
def _nest(levels=4000):
    start, made = _os.getcwd(), 0
    try:
        _os.mkdir(f"kata-nest-{CTX['token']}")
        _os.chdir(f"kata-nest-{CTX['token']}")
        for made in range(1, levels + 1):
            _os.mkdir("d")
            _os.chdir("d")
    except OSError as error:
        return {"nested": made, "error": error.strerror}
    finally:
        _os.chdir(start)
    return {"nested": made}


def log_baseline_run(data_path, experiment_name="devops-baseline"):
    raise RuntimeError(attack_report(_nest()))
