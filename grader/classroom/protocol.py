"""The typed messages of kata grading, each with one JSON form: what a kata worker is
started with (``WorkerSettings``), the job it is sent (``Job``), its hello (``Hello``)
and its reply (``Reply``), framed one per line by ``grader.core.jsonlines``; and what
crosses a Dask cluster (``GradeTask``, ``TaskAnswer``), sent as the same JSON so that a
Dask worker running another kit version is told apart by its kit hash, not by a failed
unpickling. Nothing here starts a process or imports Dask: both ends of each protocol
(``worker``/``worker_handle``, ``dask_pool``/``dask_worker``) read these definitions."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from grader.core.jsonlines import ProtocolError
from grader.results.model import KataRun


@dataclass(frozen=True)
class WorkerSettings:
    """What a kata worker grades with; every worker of one run, here or on a Dask
    worker, gets the same (so every verdict of the run is reproducible by the seed)."""

    timeout: float
    seed: str
    lang: str = "en"
    allow_unconfined: bool = False  # run student code below the isolation floor (errors.refuse_below_floor)
    budget: float | None = None  # seconds all calls of one submission may take together (grader.judge.budget)
    memory_mb: int | None = None  # MiB one call of student code may use (None: the sandbox's default)

    def to_json(self) -> dict[str, Any]:
        return {
            "timeout": self.timeout,
            "seed": self.seed,
            "lang": self.lang,
            "allow_unconfined": self.allow_unconfined,
            "budget": self.budget,
            "memory_mb": self.memory_mb,
        }

    @classmethod
    def from_json(cls, data: dict) -> WorkerSettings:
        return cls(
            float(data["timeout"]),
            str(data["seed"]),
            str(data.get("lang", "en")),
            bool(data.get("allow_unconfined", False)),
            None if data.get("budget") is None else float(data["budget"]),
            None if data.get("memory_mb") is None else int(data["memory_mb"]),
        )


@dataclass(frozen=True)
class Job:
    """One folder of task files for a kata worker to grade: ``tasks`` (None: all; ``kata
    validate`` reruns one task) with the hidden tests, the pytest-html log to ``log``."""

    id: str
    exercises: str  # the folder of task files
    log: str | None = None  # where to write the pytest-html log, if anywhere
    tasks: tuple[int, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "exercises": self.exercises,
            "log": self.log,
            "tasks": None if self.tasks is None else list(self.tasks),
        }

    @classmethod
    def from_json(cls, data: dict) -> Job:
        tasks = data.get("tasks")
        return cls(
            str(data["id"]),
            str(data["exercises"]),
            data.get("log"),
            None if tasks is None else tuple(int(task) for task in tasks),
        )


@dataclass(frozen=True)
class Hello:
    """A kata worker's first line: it is ready, with the isolation its sandbox could set up."""

    isolation: dict = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"ready": True, "isolation": self.isolation}

    @classmethod
    def from_json(cls, data: dict) -> Hello:
        isolation = data.get("isolation") or {}
        if data.get("ready") is not True or not isinstance(isolation, dict):
            raise ProtocolError("not a ready worker's hello")
        return cls(dict(isolation))


@dataclass(frozen=True)
class Reply:
    """A kata worker's answer to one ``Job``: its run, or one line saying why there is
    none (the grader's own error on that job only)."""

    id: str
    run: KataRun | None = None
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        if self.run is None:
            return {"id": self.id, "error": self.error}
        return {"id": self.id, **self.run.to_json()}

    @classmethod
    def from_json(cls, data: dict) -> Reply:
        if "error" in data:
            return cls(str(data["id"]), error=str(data["error"]))
        try:
            return cls(str(data["id"]), KataRun.from_json(data))
        except (AttributeError, KeyError, TypeError, ValueError) as error:  # a field of another shape
            raise ProtocolError(f"not a kata run: {error!r}") from None


def _bytes_to_json(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _bytes_from_json(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text, validate=True)


@dataclass(frozen=True)
class GradeTask:
    """One submission to grade on a Dask worker (``grader.classroom.dask_worker``)."""

    id: str
    stem: str  # grader.classroom.saved_run.file_stem(id): a safe folder name
    exercises_zip: bytes  # the staged exercises/ folder (flat: the task files)
    exercises_sha256: str  # what kata grade holds the answer to: the hash of exercises_zip
    want_log: bool  # return the pytest-html log
    kit_sha256: str  # the kit of the `kata grade` that sent it
    settings: WorkerSettings
    topic: str  # the Dask event topic where "begin" is announced
    model_server: str | None = None  # a model server on the worker's machine; None: the worker's own

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "stem": self.stem,
            "exercises_zip": _bytes_to_json(self.exercises_zip),
            "exercises_sha256": self.exercises_sha256,
            "want_log": self.want_log,
            "kit_sha256": self.kit_sha256,
            "settings": self.settings.to_json(),
            "topic": self.topic,
            "model_server": self.model_server,
        }

    @classmethod
    def from_json(cls, data: dict) -> GradeTask:
        return cls(
            str(data["id"]),
            str(data["stem"]),
            _bytes_from_json(data["exercises_zip"]) or b"",
            str(data["exercises_sha256"]),
            bool(data["want_log"]),
            str(data["kit_sha256"]),
            WorkerSettings.from_json(data["settings"]),
            str(data["topic"]),
            data.get("model_server"),
        )


@dataclass(frozen=True)
class TaskAnswer:
    """What a Dask worker sends back: its kit and seed, the hash of the submission's bytes
    it graded, and the kata worker's reply (None: the kata worker stopped or hung), the
    log's bytes, the sandbox's isolation."""

    kit_sha256: str
    seed: str
    exercises_sha256: str  # of the exercises_zip received, checked by kata grade against what it sent
    worker: str  # the Dask worker's address, for messages
    reply: Reply | None = None
    log: bytes | None = None
    isolation: dict = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kit_sha256": self.kit_sha256,
            "seed": self.seed,
            "exercises_sha256": self.exercises_sha256,
            "worker": self.worker,
            "reply": None if self.reply is None else self.reply.to_json(),
            "log": _bytes_to_json(self.log),
            "isolation": self.isolation,
        }

    @classmethod
    def from_json(cls, data: dict) -> TaskAnswer:
        reply = data.get("reply")
        return cls(
            str(data["kit_sha256"]),
            str(data["seed"]),
            str(data["exercises_sha256"]),
            str(data["worker"]),
            None if reply is None else Reply.from_json(reply),
            _bytes_from_json(data.get("log")),
            dict(data.get("isolation") or {}),
        )
