"""Shared by the benchmark scripts: wall-clock timing and the import floor."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from grader.core.paths import KIT_ROOT
FLOOR = [sys.executable, "-c", "import mlflow, sklearn.ensemble, pandas"]


def wall(command: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds ``command`` takes from the kit's folder (it must succeed)."""
    started = time.perf_counter()
    subprocess.run(command, cwd=KIT_ROOT, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def import_floor(repeat: int = 3) -> float:
    """Median seconds of ``python -c "import mlflow, sklearn.ensemble, pandas"``."""
    return statistics.median(wall(FLOOR) for _ in range(repeat))
