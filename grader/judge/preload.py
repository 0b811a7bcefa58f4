"""What the judge's sandbox preloads: the lab's libraries, its probes and its warm-up.

The sandbox knows nothing of the lab: whoever starts it names a module for its zygote
to import before forking any call (``python -m grader.sandbox.zygote --preload
grader.judge.preload``), so that every call starts warm. This is the judge's. The zygote
calls ``preload()`` once at start, ``warm_up(parts)`` when the judge asks, runs
``self_test()`` in its throwaway call, and adds ``PROBES``, ``EXCUSES``, ``GUARDS``,
``REWRITES`` and ``ON_RAISE`` to its own (``grader.sandbox.probes.extend``).

Imported by the judge too (``shared_sandbox``): nothing heavy at import time.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from grader.judge.probes import EXCUSES, GUARDS, ON_RAISE, PROBES, REWRITES

if TYPE_CHECKING:
    from grader.sandbox import Sandbox

__all__ = [
    "EXCUSES",
    "GUARDS",
    "ON_RAISE",
    "PROBES",
    "REWRITES",
    "preload",
    "self_test",
    "shared_sandbox",
    "warm_up",
]


def shared_sandbox() -> Sandbox:
    """The process's sandbox for judging (the student's pytest, ``kata validate``, the
    grader's workers, the warm judge): one zygote preloaded with this module."""
    from grader.sandbox.client import shared_sandbox as shared

    return shared(preload=__name__)


def preload() -> None:
    """Import what every call needs, so that a forked child starts warm; set what the
    sandbox changes in MLflow for speed (``grader.judge.mlflow_internals``)."""
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    import mlflow  # noqa: F401
    import mlflow.models  # noqa: F401
    import mlflow.pyfunc  # noqa: F401
    import mlflow.sklearn  # noqa: F401
    import mlflow.store.model_registry.sqlalchemy_store  # noqa: F401
    import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
    import pandas  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.linear_model  # noqa: F401

    import grader.judge.mlflow_errors  # noqa: F401 - the notes on an MLflow error (probes.ON_RAISE)
    import grader.judge.oracle  # noqa: F401 - kit calls run where grader/ is not visible
    import grader.judge.seeding  # noqa: F401
    import labkit  # noqa: F401
    import labkit.registry  # noqa: F401
    from grader.core.quiet import silence_mlflow
    from grader.judge import mlflow_internals

    silence_mlflow()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    mlflow_internals.skip_requirement_inference()
    mlflow_internals.cache_schema_head()
    # skops (~1 s of CPU to import) only writes models: warm_up("models") patches it, so a
    # first run of task 1 or 2 does not wait for it before its first call.


def self_test() -> None:
    """The lab's part of the zygote's self-test (in the confined child): read the
    libraries' files from disk as a lazy import would (a uid of its own must reach
    site-packages and labkit/ along their real paths) and fit a model."""
    from pathlib import Path

    import mlflow
    import sklearn.tree

    import labkit

    for module in (sklearn.tree, mlflow, labkit):
        Path(str(module.__file__)).read_bytes()
    sklearn.tree.DecisionTreeRegressor(max_depth=1).fit([[0.0], [1.0]], [0.0, 1.0])


_warmed: set[str] = set()
# What the models walk seeds: the kit's own set-up of Task 4's tests, on one slice of the
# lab's training rows (a LinearRegression: a few KB).
WARM_UP_MODEL = "warm-up"
WARM_UP_SLICES = [[0, 60]]


def warm_up(parts) -> None:
    """Walk once through the MLflow code the lab's calls run, in a throwaway store.

    MLflow imports a lot lazily and fills caches on first use: the tracking calls pull
    in IPython (databricks checks) and SQLAlchemy's machinery (~1 s); logging a model
    maps every installed module to its distribution (``packages_distributions``, ~2 s)
    and pulls in the logged-model and registry tables. Every forked child would pay that
    again. ``parts`` picks what the session's tests need ("tracking", "models").

    It spells out no TODO's answer: the student kit ships this module, and ``kata
    release`` refuses a file that holds a statement of a TODO's solution
    (``grader.authoring.release``). The tracking walk logs placeholder values; the models
    walk is the kit's own set-up of Task 4's tests (``grader.judge.seeding.seed_staging``:
    a run with a logged model, a registered version, an alias). It warms a call as much
    as the walk through the TODOs' own calls it replaced: a forked call that logs,
    registers and loads a model spends ~0.3 s of CPU after either, ~0.7 s cold, and
    ``pytest --exercises solutions tests/test_task3.py tests/test_task4.py`` ~13 s of CPU
    after either, ~14.5 s without a warm-up.

    It leaves nothing a call could see, through public API only: its runs start in
    experiments named by id (``set_experiment`` would make one the process's active one
    for good), its environment variables are removed, and what MLflow remembers per
    thread (the last run, the last logged model) it forgets in a forked child by itself
    (``kit_tests/test_mlflow_internals.py`` checks both).
    """
    parts = set(parts) - _warmed
    if not parts:
        return
    _warmed.update(parts)
    import tempfile
    from pathlib import Path

    import mlflow

    from grader.core.paths import DATA_PATH
    from grader.judge import seeding
    from grader.judge.store import new_store

    # In the zygote's folder (its sandbox's root, in a run's workspace), not in $TMPDIR: a
    # zygote killed mid-warm-up (its run or Dask worker stopped) leaves nothing behind.
    with tempfile.TemporaryDirectory(prefix="kata-warm-up-", dir=os.getcwd()) as scratch:
        os.environ["MLFLOW_TRACKING_URI"] = new_store(Path(scratch))
        previous = os.getcwd()
        os.chdir(scratch)
        try:
            experiment_id = seeding.experiment_id("warm-up")
            with mlflow.start_run(run_name="warm-up", experiment_id=experiment_id):
                mlflow.log_param("p", 1)
                mlflow.log_params({"q": 2})
                mlflow.log_metric("m", 1.0)
                mlflow.log_metrics({"n": 2.0})
                mlflow.set_tags({"t": "x"})
            mlflow.MlflowClient().search_runs([experiment_id], order_by=["metrics.m"])
            if "models" in parts:
                from grader.judge import mlflow_internals

                mlflow_internals.write_skops_schema_compactly()
                seeding.seed_staging(str(DATA_PATH), WARM_UP_MODEL, WARM_UP_SLICES, staging_index=0)
        finally:
            os.chdir(previous)
            for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID"):
                os.environ.pop(name, None)
