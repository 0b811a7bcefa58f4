"""The cost of isolation per sandboxed call, for each confinement this machine allows.

Runs a zygote in this process and times calls of a trivial student function (so the
fork, the confinement and the teardown are all that is measured) and of a real one
(Task 1's reference ``log_baseline_run`` on a 400-row sample), once per set of
mechanisms: none (rlimits and a process group only), Landlock only, a uid of its own
(root without namespaces: a container without CAP_SYS_ADMIN), that plus Landlock,
namespaces + new root + own uid, and that plus a cgroup. Prints medians in ms, the overhead over
"none", and the ratio of a call to the import floor measured in the same run.

Usage: ``python benchmarks/bench_sandbox.py [--calls N]`` (as root for every row).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from timing import KIT_ROOT, import_floor

sys.path.insert(0, str(KIT_ROOT))

from grader.core.paths import DATA_PATH, SOLUTIONS_DIR  # noqa: E402
from grader.sandbox import confine, linux, untrusted_tree, zygote  # noqa: E402
from grader.sandbox.cgroups import CallGroup  # noqa: E402
from grader.judge.store import new_store  # noqa: E402
from grader.authoring.stubgen import render  # noqa: E402

TRIVIAL = "def nothing():\n    return 1\n"


def candidates() -> dict[str, confine.Mechanisms]:
    abi = linux.landlock_abi()
    found = {"none": confine.Mechanisms()}
    if abi:
        found["landlock"] = confine.Mechanisms(landlock_abi=abi)
    if os.geteuid() == 0 and linux.IS_LINUX:
        found["own uid"] = confine.Mechanisms(own_uid=True)
        if abi:
            found["own uid+landlock"] = confine.Mechanisms(landlock_abi=abi, own_uid=True)
        found["namespaces"] = confine.Mechanisms(namespaces=True, landlock_abi=abi)
        group = CallGroup.create(f"kata-bench-{os.getpid()}", 1 << 30, 64)
        if group is not None:
            group.remove()
            found["namespaces+cgroup"] = confine.Mechanisms(namespaces=True, landlock_abi=abi, cgroups=True)
    return found


def time_calls(mechanisms, request: dict, calls: int) -> float:
    server = zygote.Zygote(mechanisms)
    try:
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            reply = server.serve_one(request)
            times.append(time.perf_counter() - started)
            if reply.get("outcome") != "ok":
                raise SystemExit(f"{mechanisms}: {reply}")
        return statistics.median(times)
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=15, help="calls per measurement (median)")
    calls = parser.parse_args().calls
    floor = import_floor()
    preloaded = zygote.load_preload("grader.judge.preload")  # what the judge's zygote preloads
    zygote.warm_up(preloaded, ["tracking"])
    exercises = tempfile.mkdtemp(prefix="kata-bench-")
    with open(os.path.join(exercises, "trivial.py"), "w") as handle:
        handle.write(TRIVIAL)
    with open(os.path.join(exercises, "task1_baseline.py"), "w") as handle:
        handle.write(render((SOLUTIONS_DIR / "task1_baseline.py").read_text(), stub_ids=()))
    os.chmod(exercises, 0o755)
    gap = confine.unreadable_for_others(confine.python_readable())
    if gap and os.geteuid() == 0:
        print(f"(own uid rows need a Python every user can read; here: {gap})")
    sample = os.path.join(exercises, "sample.csv")
    import pandas

    pandas.read_csv(DATA_PATH).sample(400, random_state=1).to_csv(sample, index=False)
    os.chmod(sample, 0o644)
    print(f"import floor: {floor:.2f} s; {calls} calls per row (median)")
    print(f"{'mechanisms':<20} {'trivial ms':>10} {'+ms':>6} {'task 1 ms':>10} {'+ms':>6} {'task1 x floor':>14}")
    base = {}
    for name, mechanisms in candidates().items():
        row = []
        for function, module, args in (("nothing", "trivial", []), ("log_baseline_run", "task1_baseline", [sample])):
            folder = tempfile.mkdtemp(prefix="kata-bench-call-")
            uri = new_store(Path(folder) / "store")
            uid = confine.SANDBOX_UID_BASE + os.getpid()
            if mechanisms.own_uid:
                untrusted_tree.hand_over(Path(folder), uid)
            request = {"probe": "call", "exercises": exercises, "module": module, "function": function,
                       "args": args, "kwargs": {"experiment_name": "bench"} if args else {},
                       "workdir": folder, "writable": [folder], "readable": [exercises], "uid": uid,
                       "env": {"MLFLOW_TRACKING_URI": uri, "HOME": folder},
                       "limits": {"timeout_s": 60, "memory_mb": 2048, "file_size_mb": 64, "tmp_mb": 64}}
            row.append(time_calls(mechanisms, request, calls))
            shutil.rmtree(folder, ignore_errors=True)
        base.setdefault("t", row)
        print(f"{name:<20} {row[0] * 1000:>10.1f} {(row[0] - base['t'][0]) * 1000:>+6.1f} "
              f"{row[1] * 1000:>10.1f} {(row[1] - base['t'][1]) * 1000:>+6.1f} {row[1] / floor:>14.3f}")
    shutil.rmtree(exercises, ignore_errors=True)


if __name__ == "__main__":
    main()
