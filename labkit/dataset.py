"""The dataset's columns and the one train/test split every task and test uses.

Both are fixed: students, the kata tests and outside tools rely on them, and changing
either changes every expected metric."""

from __future__ import annotations

from pathlib import Path
from typing import IO, NamedTuple

import pandas as pd
from sklearn.model_selection import train_test_split

FEATURES = [
    "cpu_usage_pct",
    "memory_usage_pct",
    "disk_io_mbps",
    "network_latency_ms",
    "concurrent_users",
]
TARGET = "response_time_ms"
TEST_SIZE = 0.2
RANDOM_STATE = 42
DEFAULT_DATA_PATH = Path(__file__).resolve().parent.parent / "data" / "devops_metrics.csv"


class Split(NamedTuple):
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series


def load_split(data_path: str | Path | IO[bytes] = DEFAULT_DATA_PATH) -> Split:
    """Read the CSV (a path, or the judge's copy of its bytes) and split it the one way
    every task and test uses."""
    frame = pd.read_csv(data_path)
    X_train, X_test, y_train, y_test = train_test_split(
        frame[FEATURES], frame[TARGET], test_size=TEST_SIZE, random_state=RANDOM_STATE
    )
    return Split(X_train, X_test, y_train, y_test)
