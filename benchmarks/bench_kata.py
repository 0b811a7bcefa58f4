"""Wall time of the kata suites against the reference solutions, as ratios to the
import floor (``python -c "import mlflow, sklearn.ensemble, pandas"``), measured in
the same run. Targets: one task's suite <= 1.5x, the whole suite <= 4x.

Usage: ``python benchmarks/bench_kata.py [--repeat N]``. Prints a table; exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from timing import import_floor, wall

from grader.todos import load_tasks

SUITES = {
    **{("bonus" if task.bonus else f"task {task.name}"): [f"tests/{task.test_file}"]
       for task in load_tasks()},
    "whole kata": ["tests"],
}
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (median)")
    repeat = parser.parse_args().repeat
    floor = import_floor(max(3, repeat))
    print(f"import floor: {floor:.2f} s")
    print(f"{'suite':<12} {'wall s':>8} {'x floor':>8}  target")
    for name, paths in SUITES.items():
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "--exercises", "solutions", *paths]
        seconds = statistics.median(wall(command) for _ in range(repeat))
        target = 4.0 if name == "whole kata" else 1.5
        print(f"{name:<12} {seconds:>8.2f} {seconds / floor:>8.2f}  <= {target}x")


if __name__ == "__main__":
    main()
