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

from grader.paths import DATA_PATH
from grader.todos import task_by_name
from labkit.dataset import FEATURES

STORE_URI = "sqlite:///mlflow.db"
UI_COMMAND = "mlflow ui --backend-store-uri sqlite:///mlflow.db"


def load(exercises: Path, module: str):
    spec = importlib.util.spec_from_file_location(module, exercises / f"{module}.py")
    student = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(student)
    return student


def run_task(name: str, exercises: Path) -> int:
    os.environ.setdefault("MLFLOW_TRACKING_URI", STORE_URI)
    task = task_by_name(name)
    if task.server:
        print('Serve your staging model in another terminal:\n  MLFLOW_TRACKING_URI=sqlite:///mlflow.db '
              'mlflow models serve -m "models:/devops-response-time@staging" --env-manager local -p 5001')
        return 0
    student = load(exercises, task.module)
    data = str(DATA_PATH)
    if task.number == 4:
        print("registered version:", student.register_best())
        model = student.load_staging_model()
        if model is not None:
            import pandas as pd

            rows = pd.read_csv(data)[FEATURES].head(3)
            print("staging model predicts (ms):", [round(float(p), 1) for p in model.predict(rows)])
    else:
        (function,) = task.functions
        print(f"{function}() returned:", getattr(student, function)(data))
    print(f"Look at it in the MLflow UI / Míralo en la UI de MLflow:\n  {UI_COMMAND}")
    return 0


def main_for(task: str, exercises: str) -> int:
    sys.path.insert(0, str(Path(exercises).resolve()))
    return run_task(task, Path(exercises))
