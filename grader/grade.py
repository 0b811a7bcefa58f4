"""``kata grade``: grade a whole class in parallel, safely, and write the reports.

Each submission's task files are copied to a private workspace (``submissions``),
graded by one of ``--jobs`` long-lived worker processes (``worker``) that share one
``mlflow models serve`` for the bonus, and its result is saved as soon as it is
known (so ``--resume`` grades only what is missing). At the end ``results.json``,
``grades.csv`` and ``index.html`` are written atomically (``exports``).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import queue
import re
import select
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from grader.results import ClassResults, SubmissionResult
from grader.runner import TodoResult
from grader.submissions import BadSubmission, Submission, discover, prepare
from grader.todos import load_todos

KIT_ROOT = Path(__file__).resolve().parent.parent
KIT_FILES = ("tests/*.py", "labkit/*.py", "grader/*.py", "grader/*.toml", "grader/sandbox/*.py",
             "data/*.csv", "conftest.py", "pytest.ini")
PROGRESS_DIR = ".kata-progress"  # per-submission results, for --resume
LOGS_DIR = "logs"
WORKER_START_TIMEOUT_S = 300


class GradingError(Exception):
    """The grader itself cannot do its job (one-line reason, non-zero exit)."""


@dataclass(frozen=True)
class GradeOptions:
    submissions: Path
    out: Path
    jobs: int
    timeout: float
    resume: bool = False
    logs: bool = True


def kit_sha256() -> str:
    """A hash of everything that decides a grade: tests, kit code, data, settings."""
    digest = hashlib.sha256()
    for pattern in KIT_FILES:
        for path in sorted(KIT_ROOT.glob(pattern)):
            digest.update(path.relative_to(KIT_ROOT).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def kit_info() -> dict:
    from importlib.metadata import version

    return {"mlflow": version("mlflow"), "python": platform.python_version(),
            "tests_sha256": kit_sha256()}


def file_stem(submission_id: str) -> str:
    """A safe, unique file name for a submission id (ids may hold any character)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", submission_id)[:60].strip("._") or "submission"
    return f"{safe}-{hashlib.sha256(submission_id.encode()).hexdigest()[:8]}"


class Worker:
    """One ``python -m grader.worker`` process."""

    def __init__(self, options: GradeOptions, env: dict[str, str]):
        self.options, self.env = options, env
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader.worker", "--timeout", str(self.options.timeout)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, bufsize=1, env=self.env, cwd=KIT_ROOT,
        )

    def wait_ready(self) -> None:
        line = self.read_line(WORKER_START_TIMEOUT_S)
        if not line or not json.loads(line).get("ready"):
            raise GradingError("a grading worker did not start (run `kata validate` to check the kit)")

    def read_line(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 1.0)
            if ready:
                return self.process.stdout.readline()
            if self.process.poll() is not None:
                return ""
        return ""

    def grade(self, job: dict, deadline_s: float) -> dict | None:
        try:
            self.process.stdin.write(json.dumps(job) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        line = self.read_line(deadline_s)
        return json.loads(line) if line else None

    def restart(self) -> None:
        self.stop()
        self.start()
        self.wait_ready()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class ClassGrader:
    """Grades every submission of ``options.submissions``; see module docstring."""

    def __init__(self, options: GradeOptions, progress=None):
        self.options = options
        self.progress = progress or (lambda event, **data: None)
        self.kit = kit_info()
        self.results: dict[str, SubmissionResult] = {}
        self.lock = threading.Lock()

    # -- the whole run -----------------------------------------------------------------
    def run(self) -> ClassResults:
        options = self.options
        if not options.submissions.is_dir():
            raise GradingError(f"{options.submissions} is not a folder of submissions")
        if options.out.resolve() == options.submissions.resolve():
            raise GradingError("--out must not be the submissions folder itself (it is never written)")
        options.out.mkdir(parents=True, exist_ok=True)
        (options.out / PROGRESS_DIR).mkdir(exist_ok=True)
        submissions = [s for s in discover(options.submissions)
                       if s.source.resolve() != options.out.resolve()]
        self.progress("start", total=len(submissions))
        todo = [s for s in submissions if not self.resumed(s)]
        with tempfile.TemporaryDirectory(prefix="kata-grade-") as workspace:
            jobs = self.prepare_all(todo, Path(workspace))
            if jobs:
                self.grade_all(jobs, Path(workspace))
        if kit_sha256() != self.kit["tests_sha256"]:
            raise GradingError("the kit's files changed while grading: reinstall the kit and regrade")
        ordered = [self.results[s.id] for s in submissions if s.id in self.results]
        return ClassResults(kit=self.kit, submissions=ordered)

    def resumed(self, submission: Submission) -> bool:
        saved = self.options.out / PROGRESS_DIR / f"{file_stem(submission.id)}.json"
        if not (self.options.resume and saved.is_file()):
            return False
        try:
            data = json.loads(saved.read_text(encoding="utf-8"))
        except ValueError:
            return False
        if data.get("tests_sha256") != self.kit["tests_sha256"] or data["result"]["id"] != submission.id:
            return False
        self.results[submission.id] = SubmissionResult.from_json(data["result"])
        self.progress("done", result=self.results[submission.id], resumed=True)
        return True

    def prepare_all(self, submissions: list[Submission], workspace: Path) -> list[dict]:
        jobs = []
        for number, submission in enumerate(submissions):
            target = workspace / f"{number:05d}" / "exercises"
            try:
                notes = prepare(submission, target)
            except BadSubmission as reason:
                self.record(SubmissionResult(submission.id, "error", message=str(reason)))
                continue
            except OSError as error:  # unreadable files, permissions…
                self.record(SubmissionResult(submission.id, "error",
                                             message=f"could not read the submission ({error.strerror})"))
                continue
            log = None
            if self.options.logs:
                (self.options.out / LOGS_DIR).mkdir(exist_ok=True)
                log = str((self.options.out / LOGS_DIR / f"{file_stem(submission.id)}.html").resolve())
            jobs.append({"id": submission.id, "exercises": str(target), "log": log, "notes": notes})
        return jobs

    def grade_all(self, jobs: list[dict], workspace: Path) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(KIT_ROOT),
                                                                             os.environ.get("PYTHONPATH")]))}
        server = None
        if any(todo.task == 5 for todo in load_todos()):
            from grader.model_server import SERVER_ENV, serve_kit_model

            home = workspace / "served-model"
            home.mkdir()
            server = serve_kit_model(home)
            env[SERVER_ENV] = server.url
        workers = [Worker(self.options, env) for _ in range(max(1, min(self.options.jobs, len(jobs))))]
        try:
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.wait_ready()
            pending: queue.Queue = queue.Queue()
            for job in jobs:
                pending.put(job)
            threads = [threading.Thread(target=self.serve_jobs, args=(worker, pending), daemon=True)
                       for worker in workers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            for worker in workers:
                worker.stop()
            if server is not None:
                server.stop()

    def serve_jobs(self, worker: Worker, pending: queue.Queue) -> None:
        deadline = 25 * self.options.timeout + 300  # a backstop: calls have their own limits
        while True:
            try:
                job = pending.get_nowait()
            except queue.Empty:
                return
            self.progress("begin", id=job["id"])
            reply = worker.grade({k: job[k] for k in ("id", "exercises", "log")}, deadline)
            if reply is None:
                result = SubmissionResult(job["id"], "error",
                                          message="the grader gave up on this submission (its worker stopped or hung)")
                try:
                    worker.restart()
                except GradingError:
                    pass
            elif "error" in reply:
                result = SubmissionResult(job["id"], "error", message=reply["error"])
            else:
                todos = {k: TodoResult(v["status"], v["message"]) for k, v in reply["todos"].items()}
                result = SubmissionResult(job["id"], "graded", todos, reply["duration_s"],
                                          message="; ".join(job["notes"] + reply["problems"]))
            self.record(result)

    def record(self, result: SubmissionResult) -> None:
        from grader.exports import write_atomic

        with self.lock:
            self.results[result.id] = result
            saved = self.options.out / PROGRESS_DIR / f"{file_stem(result.id)}.json"
            write_atomic(saved, json.dumps({"tests_sha256": self.kit["tests_sha256"],
                                            "result": result.to_json()}))
        self.progress("done", result=result, resumed=False)


def grade(options: GradeOptions, progress=None) -> ClassResults:
    """Grade the class and write ``results.json``, ``grades.csv`` and ``index.html``."""
    from grader.exports import write_all

    results = ClassGrader(options, progress).run()
    logs = {}
    for submission in results.submissions:
        log = options.out / LOGS_DIR / f"{file_stem(submission.id)}.html"
        if log.is_file():
            logs[submission.id] = f"{LOGS_DIR}/{log.name}"
    write_all(results, options.out, logs)
    return results
