# Attack 8: leave daemons behind (``sleep`` with the test's marker as its duration): a
# double-forked setsid one, a shield of shells nested six deep that ignore SIGTERM and
# SIGHUP, and a fork that cleared its parent-death signal: 9 processes per call, none
# while 10 or more are still visible (so never more than 19). Also in bonus_serving.py:
# the bonus is graded last, so a call spawns with no call after it.
import ctypes as _ctypes
import subprocess as _subprocess

SHIELD_DEPTH = 6  # a sweep that kills its orphans once rarely gets through six reparentings


def _visible():
    marker = CTX["sleep_marker"].encode()
    count = 0
    for entry in _os.listdir("/proc") if _os.path.isdir("/proc") else []:
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                count += marker in handle.read()
        except OSError:
            pass
    return count


def _sleep_forever():
    try:
        _os.execvp("sleep", ["sleep", CTX["sleep_marker"]])
    finally:
        _os._exit(0)


def _spawn():
    before = _visible()
    if before >= 10:  # a bound: what earlier calls left may still be there
        return {"already running": before}
    spawned = {}
    try:  # double fork, own session
        pid = _os.fork()
        if pid == 0:
            try:
                _os.setsid()
                if _os.fork() == 0:
                    _sleep_forever()
            finally:
                _os._exit(0)
        _os.waitpid(pid, 0)
        spawned["double fork"] = True
    except OSError as error:
        spawned["double fork"] = repr(error)
    try:  # a shield: shells nested six deep, each ignoring TERM/HUP, a sleep at the bottom
        import shlex

        command = f"sleep {CTX['sleep_marker']}"
        for _ in range(SHIELD_DEPTH):
            command = f"trap '' TERM HUP INT; sh -c {shlex.quote(command)}; :"  # ':' keeps each sh
        _subprocess.Popen(["sh", "-c", command], start_new_session=True, stdin=_subprocess.DEVNULL,
                          stdout=_subprocess.DEVNULL, stderr=_subprocess.DEVNULL)
        spawned["shield"] = True
    except OSError as error:
        spawned["shield"] = repr(error)
    try:  # no parent-death signal
        libc = _ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 0, 0, 0, 0)  # PR_SET_PDEATHSIG, 0
        if _os.fork() == 0:
            try:
                libc.prctl(1, 0, 0, 0, 0)
                _os.setpgid(0, 0)
            finally:
                _sleep_forever()
        spawned["no pdeathsig"] = True
    except OSError as error:
        spawned["no pdeathsig"] = repr(error)
    deadline = _time.monotonic() + 3  # all up before the call returns
    while _visible() < before + SHIELD_DEPTH + 3 and _time.monotonic() < deadline:
        _time.sleep(0.02)
    spawned["visible"] = _visible()
    return spawned


_SPAWNED = _spawn()


def log_baseline_run(data_path, experiment_name="devops-baseline"):
    raise RuntimeError(attack_report(_SPAWNED))
