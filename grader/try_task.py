"""``kata run TASK``: run your own task code once against ``./mlflow.db`` so you can
look at what it logged in the MLflow UI (``mlflow ui --backend-store-uri sqlite:///mlflow.db``).

This runs the student's own code in this process, on the student's own machine:
it is a learning aid, not part of grading (which always sandboxes student code).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from labkit.dataset import DEFAULT_DATA_PATH, FEATURES

STORE_URI = "sqlite:///mlflow.db"
UI_COMMAND = "mlflow ui --backend-store-uri sqlite:///mlflow.db"


def load(exercises: Path, module: str):
    spec = importlib.util.spec_from_file_location(module, exercises / f"{module}.py")
    student = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(student)
    return student


def run_task(task: str, exercises: Path) -> int:
    os.environ.setdefault("MLFLOW_TRACKING_URI", STORE_URI)
    data = str(DEFAULT_DATA_PATH)
    if task == "1":
        print("run id:", load(exercises, "task1_baseline").log_baseline_run(data))
    elif task == "2":
        print("run ids:", load(exercises, "task2_tuning").tune_random_forest(data))
    elif task == "3":
        print("run ids:", load(exercises, "task3_compare").compare_models(data))
    elif task == "4":
        registry = load(exercises, "task4_registry")
        print("registered version:", registry.register_best())
        model = registry.load_staging_model()
        if model is not None:
            import pandas as pd

            rows = pd.read_csv(data)[FEATURES].head(3)
            print("staging model predicts (ms):", [round(float(p), 1) for p in model.predict(rows)])
    elif task == "bonus":
        print('Serve your staging model in another terminal:\n  MLFLOW_TRACKING_URI=sqlite:///mlflow.db '
              'mlflow models serve -m "models:/devops-response-time@staging" --env-manager local -p 5001')
        return 0
    print(f"Look at it in the MLflow UI / Míralo en la UI de MLflow:\n  {UI_COMMAND}")
    return 0


def main_for(task: str, exercises: str) -> int:
    sys.path.insert(0, str(Path(exercises).resolve()))
    return run_task(task, Path(exercises))
