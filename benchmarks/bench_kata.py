"""Wall time of the kata suites against the reference solutions, as ratios to the
import floor (``python -c "import mlflow, sklearn.ensemble, pandas"``), measured in
the same run, three ways: cold (``KATA_WARM=0``: everything in the pytest process),
first (a fresh warm judge is started by this run) and rerun (the judge is warm).
Targets: one task's suite, first <= 1.5x and rerun <= 1.0x; the whole kata, first <= 3x.

Usage: ``python benchmarks/bench_kata.py [--repeat N]``. Prints a table; exits 0.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import sys
import tempfile
from pathlib import Path

from timing import import_floor, wall

from grader.lab.todos import load_tasks

SUITES = {
    **{("bonus" if task.bonus else f"task {task.name}"): [f"tests/{task.test_file}"]
       for task in load_tasks()},
    "whole kata": ["tests"],
}


def stop_judges(runtime: Path) -> None:
    for log in runtime.glob("*/judge-*.log"):
        for pid in re.findall(r"warm judge (\d+) ready", log.read_text()):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


def measure(paths: list[str], repeat: int) -> tuple[float, float, float]:
    """Median seconds (cold, first, rerun) of ``pytest PATHS`` on the solutions."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "--exercises", "solutions", *paths]
    cold, first, rerun = [], [], []
    for _ in range(repeat):
        cold.append(wall(command, {**os.environ, "KATA_WARM": "0"}))
        with tempfile.TemporaryDirectory(prefix="kata-bench-") as runtime:
            env = {**os.environ, "XDG_RUNTIME_DIR": runtime, "KATA_WARM_IDLE_S": "60"}
            try:
                first.append(wall(command, env))
                rerun.append(wall(command, env))
            finally:
                stop_judges(Path(runtime))
    return statistics.median(cold), statistics.median(first), statistics.median(rerun)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (median)")
    repeat = parser.parse_args().repeat
    floor = import_floor(max(3, repeat))
    print(f"import floor: {floor:.2f} s")
    print(f"{'suite':<12} {'cold s':>7} {'x':>6} {'first s':>8} {'x':>6} {'rerun s':>8} {'x':>6}  targets")
    for name, paths in SUITES.items():
        cold, first, rerun = measure(paths, repeat)
        targets = "first <= 3x" if name == "whole kata" else "first <= 1.5x, rerun <= 1.0x"
        print(f"{name:<12} {cold:>7.2f} {cold / floor:>6.2f} {first:>8.2f} {first / floor:>6.2f} "
              f"{rerun:>8.2f} {rerun / floor:>6.2f}  {targets}")


if __name__ == "__main__":
    main()
