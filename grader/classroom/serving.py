"""What a run's kata workers share, wherever they run: their environment (the kit
importable, its interpreter first on PATH) and the kit's model, served once by ``mlflow
models serve`` for the bonus TODOs when the lab has a bonus task."""

from __future__ import annotations

import os
from pathlib import Path

from grader.core.paths import KIT_ROOT
from grader.lab.todos import task_by_number


def kata_worker_env() -> dict[str, str]:
    """The environment of kata workers and of the model server: the kit importable,
    its interpreter's folder first on PATH, no model server inherited from a caller."""
    from grader.judge.model_server import SERVER_ENV, SERVER_ERROR_ENV, kit_bin_path

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(KIT_ROOT), os.environ.get("PYTHONPATH")])),
        "PATH": kit_bin_path(dict(os.environ)),
    }
    for name in (SERVER_ENV, SERVER_ERROR_ENV):
        env.pop(name, None)
    return env


def start_model_server(home: Path, env: dict[str, str], dies_with_thread: bool = False):
    """Serve the kit's model for the bonus tests; if that fails, every other TODO is
    still graded and the bonus fixture reports why (``$KATA_MODEL_SERVER_ERROR``).
    Sets ``env`` for the kata workers started after it; returns the server to stop, or
    None. A server the caller names in ``$KATA_MODEL_SERVER`` is used instead of starting
    one: a script grading many classes in a row, or the kit's own tests, share one so
    (each worker checks that it serves the kit's model before a bonus test uses it).
    ``dies_with_thread``: the calling thread lives as long as the process (a Dask
    worker's launcher), so the server dies with it (``ModelServer``)."""
    from grader.judge.model_server import SERVER_ENV, SERVER_ERROR_ENV, serve_kit_model

    if os.environ.get(SERVER_ENV):
        env[SERVER_ENV] = os.environ[SERVER_ENV]
        return None
    try:
        server = serve_kit_model(home, dies_with_thread=dies_with_thread)
    except Exception as error:  # noqa: BLE001 - reported on the bonus TODOs
        reason = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
        env[SERVER_ERROR_ENV] = f"kit error: the model server could not start: {reason}"
        return None
    env[SERVER_ENV] = server.url
    return server


def bonus_tasks() -> set[int]:
    """The numbers of the lab's bonus tasks (``todos.toml``'s ``bonus = true``)."""
    return {number for number, task in task_by_number().items() if task.bonus}


def kit_has_bonus() -> bool:
    """Whether the lab has a bonus task, whose tests need the served model."""
    return bool(bonus_tasks())
