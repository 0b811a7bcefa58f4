"""Generate ``data/devops_metrics.csv``: system metrics -> API response time.

Seeded and deterministic: rerunning this script reproduces the committed file byte
for byte (``tests/tooling/test_dataset.py`` checks it). The response time is built
from effects an SRE would recognise, several of them non-linear, so that tree
ensembles clearly beat a linear model on Task 3:

* CPU saturation: queueing delay grows sharply above ~75 % CPU;
* memory pressure: swapping/GC pauses above ~85 % memory;
* load x CPU interaction: many users on a busy CPU hurt more than either alone;
* network latency and disk I/O add roughly linearly, with diminishing returns.

Usage: ``python data/generate_dataset.py [--out PATH]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240611
N_ROWS = 2000
DEFAULT_OUT = Path(__file__).with_name("devops_metrics.csv")
COLUMNS = [
    "cpu_usage_pct",
    "memory_usage_pct",
    "disk_io_mbps",
    "network_latency_ms",
    "concurrent_users",
    "response_time_ms",
]


def generate(n_rows: int = N_ROWS, seed: int = SEED) -> pd.DataFrame:
    """Return the dataset as a DataFrame with the fixed column order."""
    rng = np.random.default_rng(seed)
    users = rng.poisson(lam=rng.uniform(20, 400, n_rows)).astype(int)
    # Busy hours: CPU follows the load, plus noise from background jobs.
    cpu = np.clip(15 + 0.12 * users + rng.normal(0, 14, n_rows), 1, 100)
    memory = np.clip(rng.beta(4, 2.2, n_rows) * 100, 5, 100)
    disk = np.clip(rng.gamma(shape=2.0, scale=45.0, size=n_rows), 1, 600)
    latency = np.clip(rng.lognormal(mean=3.0, sigma=0.55, size=n_rows), 2, 400)

    base = 40 + 2.2 * latency + 18 * np.log1p(disk) + 0.25 * users
    cpu_saturation = 4.0 * np.maximum(cpu - 75, 0) ** 1.4
    memory_pressure = 260 * (1 / (1 + np.exp(-(memory - 85) / 2.0)))
    load_x_cpu = 0.0028 * users * cpu
    response = base + cpu_saturation + memory_pressure + load_x_cpu
    response = response * rng.lognormal(0, 0.05, n_rows) + rng.normal(0, 8, n_rows)

    return pd.DataFrame(
        {
            "cpu_usage_pct": cpu.round(2),
            "memory_usage_pct": memory.round(2),
            "disk_io_mbps": disk.round(2),
            "network_latency_ms": latency.round(2),
            "concurrent_users": users,
            "response_time_ms": np.maximum(response, 5).round(2),
        },
        columns=COLUMNS,
    )


def write(path: Path = DEFAULT_OUT) -> Path:
    """Write the dataset to ``path`` with a fixed float format and line ending."""
    generate().to_csv(path, index=False, lineterminator="\n", float_format="%.2f")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the CSV")
    print(write(parser.parse_args().out))


if __name__ == "__main__":
    main()
