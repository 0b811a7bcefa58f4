"""The plain way to test a student's MLflow code: what ``benchmarks/first_run.py`` races.

No sandbox, no judge: the student's module is imported in this process, and each test
gets its own MLflow store, a copy of one SQLite store migrated once per session (the
way MLflow's own tests do it), through MLflow's public API only. It knows nothing of the
kit but its data file, ``labkit`` (which the student's code imports) and the
``--exercises`` folder.
"""

from __future__ import annotations

import importlib.util
import random
import shutil
import sys
from pathlib import Path

import pytest

KIT_ROOT = Path(__file__).resolve().parents[2]
DATA_PATH = KIT_ROOT / "data" / "devops_metrics.csv"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--exercises", default=str(KIT_ROOT / "exercises"), help="the student's files")


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite store, migrated by MLflow (tracking and registry tables), for copying."""
    import mlflow

    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}", registry_uri=f"sqlite:///{path}")
    client.search_experiments()
    client.search_registered_models()
    return path


@pytest.fixture
def store(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh store for one test: the template's copy, its artifacts in the test's folder;
    the test runs in that folder with MLflow pointed at it."""
    import mlflow

    shutil.copyfile(template, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    yield mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    if mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def load_student(config: pytest.Config, name: str):
    """The student's module ``name`` from ``--exercises``, imported afresh."""
    path = Path(config.getoption("exercises")).resolve() / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"student_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def task1(pytestconfig: pytest.Config):
    return load_student(pytestconfig, "task1_baseline")


@pytest.fixture
def sample_data(tmp_path: Path) -> Path:
    """400 random rows of the lab's dataset, in the test's folder."""
    import pandas as pd

    frame = pd.read_csv(DATA_PATH)
    path = tmp_path / "data.csv"
    frame.sample(n=400, random_state=random.randrange(2**31)).to_csv(path, index=False)
    return path


def name(stem: str) -> str:
    return f"{stem}-{random.randrange(16**6):06x}"
