# Helpers every attack gets, after the stubbed task file and ``CTX`` (what the test
# told it about this run). Not a module of its own: its text is pasted in.
import json as _json
import os as _os
import time as _time


def attack_report(found) -> str:
    """What the attack got, on one line (it ends up in a TODO's message)."""
    return f"KATA-ATTACK[{CTX['name']}] " + _json.dumps(found, default=str)[:8000]


def isolated() -> bool:
    """Whether this call has a pid namespace of its own. Only then do attacks aim at
    everything they can see (``kill -1``, all of /tmp); in the host's namespace they
    keep to this grading run (its processes, its TMPDIR), so the kit's tests never
    hurt other work on a shared machine."""
    try:
        return _os.readlink("/proc/self/ns/pid") != CTX["host_pid_ns"]
    except OSError:
        pass
    try:  # is /proc's pid 1 the host's init (same start time)?
        with open("/proc/1/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19] != CTX["host_init_start"]
    except (OSError, IndexError):
        return False  # no /proc: no way to tell, so no ``kill -1``


SKIPPED_DIRS = {".git", ".venv", "node_modules", "site-packages", "__pycache__"}


def walk(roots, deadline_s=2.0, max_entries=40000, max_depth=7):
    """Files under ``roots`` (depth first, no links followed), bounded in time and size."""
    deadline = _time.monotonic() + deadline_s
    stack = [(root, 0) for root in reversed(roots)]
    visited, seen = set(), 0
    while stack and seen < max_entries and _time.monotonic() < deadline:
        folder, depth = stack.pop()
        real = _os.path.realpath(folder)
        if real in visited or real in ("/proc", "/sys"):
            continue
        visited.add(real)
        try:
            entries = list(_os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth < max_depth and entry.name not in SKIPPED_DIRS:
                        stack.append((entry.path, depth + 1))
                elif entry.is_file(follow_symlinks=False):
                    yield entry.path
            except OSError:
                pass


def parents(path, levels=6):
    """The folders above ``path``, nearest first, never ``/`` itself."""
    found = []
    path = _os.path.realpath(path)
    while len(found) < levels:
        parent = _os.path.dirname(path)
        if parent == path or parent == "/":
            break
        found.append(parent)
        path = parent
    return found


def exec_if_solution(path, source):
    """Run ``source`` if it is a reference task-1 solution; return its function."""
    import hashlib

    if hashlib.sha256(source).hexdigest() not in CTX["accept_sha256"]:
        return None
    namespace = {"__name__": __name__ + "_found", "__file__": path}
    exec(compile(source, path, "exec"), namespace)
    return namespace.get("log_baseline_run")


def found_or_failing(found, claim, where, details):
    """The task-1 function the attack found (announcing ``claim`` at ``where``), or
    one that raises what the attack tried, so the report shows it."""
    if found is not None:
        print(attack_report({claim: where}), flush=True)
        return found

    def log_baseline_run(data_path, experiment_name="devops-baseline"):
        raise RuntimeError(attack_report(details))

    return log_baseline_run
