"""``kata grade --scheduler ADDRESS|local:N``: grade on a Dask cluster.

The ``kata grade`` process stays the trusted one: it finds and safely stages every
submission as in a local run, then sends each staged ``exercises/`` folder as zip bytes
in one Dask task (``grader.classroom.dask_worker.grade_task``) and gets back the kata worker's
reply and the pytest-html log's bytes, which it writes into ``OUT/logs/``. Recording,
``--resume`` and the reports are ``ClassGrader``'s, unchanged: ``DaskPool`` is only
*where* jobs are graded (``grader.classroom.grade.GradingPool``).

A Dask worker that dies mid-submission loses nothing: ``kata grade`` sends the submission
again, as a new task; one whose workers die twice *while grading it* is reported for that
submission only. ``kata grade`` does the counting, not the scheduler: the scheduler counts a
death against every task the worker held, also one only waiting there behind the submission
it was grading (after a death the survivors take the dead worker's tasks, so one worker may
hold two), which would cost an innocent submission its retry. So the scheduler should give
up at once (``allowed-failures`` 0: ``local:N`` sets it; set
``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=0`` where you start yours) and each
``KilledWorker`` comes back here, where only the workers that had announced beginning the
submission (its "begin" events) count against it.
Answers from a worker with another kit version stop the run with one line; an answer
graded with another seed, or for other bytes than the submission's, is that submission's
error.

Who may reach the cluster, and with which credentials, is
``grader.classroom.dask_scheduler``'s.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import CancelledError
from pathlib import Path
from typing import TYPE_CHECKING

from grader.classroom.dask_scheduler import client_security, parse_scheduler, require_dask
from grader.classroom.errors import BelowFloor, GradingError
from grader.classroom.options import GradingRun
from grader.classroom.pool import Graded
from grader.classroom.protocol import GradeTask, Job, Reply, TaskAnswer
from grader.classroom.saved_run import file_stem

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

ALLOWED_FAILURES = 0  # local:N's scheduler gives every lost task back to kata grade at once
DEATHS_REPORTED = 2  # a submission whose worker dies grading it is retried once, then reported
CONNECT_TIMEOUT_S = 30
WORKERS_WAIT_S = 300  # how long a scheduler may have no worker at all (a batch queue)
LOCAL_DEATH_TIMEOUT_S = 60  # local:N's workers leave if `kata grade` was killed
# A submission is sent again this many times at most, whoever's fault the deaths were
# (a cluster losing workers as fast as it gets them), then reported.
MAX_RESENDS = 4


class DaskPool:
    """Grades jobs as Dask tasks, one per submission (see module docstring)."""

    def __init__(self, grader: GradingRun, workspace: Path):
        self.spec = parse_scheduler(grader.options.scheduler or "")
        require_dask()
        self.grader = grader
        self.settings = grader.worker_settings()
        self.topic = f"mlflow-kata-begin-{secrets.token_hex(6)}"
        self.cluster: LocalCluster | None = None
        self.client: Client | None = None
        self.futures: dict = {}
        self.sent: dict[str, str] = {}  # task key -> sha256 of the submission's zip it carries
        self.workspace = workspace
        self.server = None  # local:N: one model server for the machine, as a local run's
        self.began: Counter[str] = Counter()  # submission id -> workers that began grading it
        self.resent: Counter[str] = Counter()  # submission id -> times sent again (see send_again)

    def connect(self) -> Client:
        """A client of ``local:N``'s new cluster (TLS on 127.0.0.1, its credentials made
        here and known to nobody else) or of the scheduler at ``--scheduler``'s address."""
        from distributed import Client, LocalCluster

        logging.getLogger("distributed").setLevel(logging.ERROR)  # the progress bar owns stderr
        security = client_security(self.spec, self.grader.options)
        if self.spec.local_workers:
            import dask

            from grader.classroom.dask_worker import LeaveInterruptsToKataGrade

            with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
                self.cluster = LocalCluster(
                    n_workers=self.spec.local_workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    protocol="tls://",
                    security=security,
                    dashboard_address="127.0.0.1:0",
                    silence_logs=logging.ERROR,
                    death_timeout=LOCAL_DEATH_TIMEOUT_S,
                    plugins=[LeaveInterruptsToKataGrade()],
                )
            return Client(self.cluster, security=security)
        try:
            return Client(self.spec.address, security=security, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise GradingError(f"cannot reach the Dask scheduler at {self.spec.address}: {reason}") from None

    def grade(self, jobs: list[Job]) -> Iterator[Graded]:
        from distributed import as_completed

        from grader.classroom.dask_worker import PLUGIN_NAME, KataWorkerPlugin, grade_task, zip_folder
        from grader.classroom.serving import kata_worker_env, kit_has_bonus, start_model_server
        from grader.judge.model_server import SERVER_ENV

        server_url = None
        if self.spec.local_workers and kit_has_bonus():
            env = kata_worker_env()
            self.server = start_model_server(self.workspace / "served-model", env)
            server_url = env.get(SERVER_ENV)  # None if it failed: each worker then tries its own
        client = self.client = self.connect()
        client.register_plugin(KataWorkerPlugin(), name=PLUGIN_NAME)
        client.subscribe_topic(self.topic, self.announce)
        try:
            client.wait_for_workers(1, timeout=WORKERS_WAIT_S)
        except TimeoutError:
            raise GradingError(
                f"the Dask scheduler at {self.spec} has had no worker for "
                f"{WORKERS_WAIT_S} s: start some (dask worker {self.spec})"
            ) from None
        kit = self.grader.kit["tests_sha256"]
        waiting = list(reversed(jobs))
        done = as_completed()

        def top_up() -> None:
            """Keep as many submissions in flight as the workers have threads (at least
            one): no worker hoards a queue, and a worker's death touches few submissions
            (those only waiting on it are sent again: ``send_again``)."""
            room = max(1, sum(client.nthreads().values())) - len(self.futures)
            if waiting and room > 0 and self.server is not None:  # local:N: one server for all
                with contextlib.suppress(Exception):  # its failure reaches the bonus TODOs
                    self.server.ensure_alive()
            while waiting and room > 0:
                job = waiting.pop()
                exercises = zip_folder(Path(job.exercises))
                task = GradeTask(
                    id=job.id,
                    stem=file_stem(job.id),
                    exercises_zip=exercises,
                    exercises_sha256=hashlib.sha256(exercises).hexdigest(),
                    want_log=bool(job.log),
                    kit_sha256=kit,
                    settings=self.settings,
                    topic=self.topic,
                    model_server=server_url,
                )
                key = f"kata-grade-{file_stem(job.id)}-{secrets.token_hex(4)}"
                self.sent[key] = task.exercises_sha256
                future = client.submit(grade_task, task.to_json(), key=key, pure=False)
                self.futures[future] = job
                done.add(future)
                room -= 1

        top_up()
        for future in done:
            job = self.futures.pop(future)
            if self.send_again(future, job):
                self.sent.pop(future.key, None)
                self.resent[job.id] += 1
                waiting.append(job)  # sent again first, as a new task
                top_up()
                continue
            outcome = Graded(job, self.reply_of(future, job))
            top_up()
            yield outcome

    def announce(self, event) -> None:
        """A Dask worker began a submission: ``kata grade``'s "begin" progress event, and
        one more worker whose death counts against it (see ``send_again``)."""
        _, message = event
        if isinstance(message, dict) and isinstance(message.get("id"), str):
            self.began[message["id"]] += 1
            self.grader.progress("begin", id=message["id"])

    def deaths_while_grading(self, job: Job) -> int:
        """Workers that began ``job`` and gave no answer: each died grading it (an answer
        or an error would have ended the task)."""
        return self.began[job.id]

    def send_again(self, future, job: Job) -> bool:
        """Whether ``job``'s task was lost with a dying worker (``KilledWorker``) and is to
        be sent again: its workers died grading it fewer than ``DEATHS_REPORTED`` times
        (a death while it only waited on that worker is not its fault)."""
        from distributed import KilledWorker

        if future.status != "error" or not isinstance(future.exception(), KilledWorker):
            return False
        return self.deaths_while_grading(job) < DEATHS_REPORTED and self.resent[job.id] < MAX_RESENDS

    def reply_of(self, future, job: Job) -> Reply | None:
        """The kata worker's reply for ``job``, checked and with its log written; a lost
        worker or a worker-side error is that submission's one-line error."""
        from distributed import KilledWorker

        sent = self.sent.pop(future.key, None)
        try:
            answer = TaskAnswer.from_json(future.result())
        except KilledWorker:
            deaths = self.deaths_while_grading(job)
            if deaths >= DEATHS_REPORTED:
                return Reply(
                    job.id,
                    error=f"the Dask workers grading it died {deaths} times "
                    "(it was retried on another worker): not graded",
                )
            return Reply(
                job.id,
                error=f"the Dask workers holding it died {self.resent[job.id] + 1} "
                "times before one could grade it (is the cluster losing its "
                "workers?): not graded",
            )
        except CancelledError:
            raise GradingError(
                f"the Dask scheduler at {self.spec} dropped the grading of {job.id!r} "
                "(did it stop?): rerun with --resume to grade what is missing"
            ) from None
        except BelowFloor:  # a Dask worker where student code would run as root, unconfined
            raise
        except Exception as error:  # noqa: BLE001 - e.g. the worker could not start a kata worker
            first = next(iter(str(error).splitlines()), "")
            return Reply(job.id, error=f"grader error on a Dask worker: {type(error).__name__}: {first}")
        kit = self.grader.kit["tests_sha256"]
        if answer.kit_sha256 != kit:
            raise GradingError(
                f"the Dask workers run another kit version: {answer.worker} has kit "
                f"{answer.kit_sha256[:12]}, this kata grade {kit[:12]}; install the same kit "
                "on every worker"
            )
        # Not what it was sent (a mixed-up or tampered answer): never a verdict of this run.
        if answer.seed != self.grader.seed:
            return Reply(
                job.id,
                error=f"grader error on a Dask worker: {answer.worker} graded it with "
                f"seed {answer.seed!r}, not this run's {self.grader.seed!r}: not graded",
            )
        if sent is None or answer.exercises_sha256 != sent:
            return Reply(
                job.id,
                error=f"grader error on a Dask worker: {answer.worker} answered for "
                "other files than the submission's (their hash differs): not graded",
            )
        if answer.isolation:
            self.grader.record_isolation(answer.isolation)
        if answer.log is not None and job.log:
            from grader.core.files import write_atomic

            write_atomic(Path(job.log), answer.log.decode("utf-8", errors="replace"))
        return answer.reply

    def close(self) -> None:
        """Cancel what is left and let go of the cluster (a ``local:N`` one is stopped
        with everything its workers started)."""
        if self.client is not None:
            with contextlib.suppress(Exception):
                if self.futures:
                    self.client.cancel(list(self.futures), force=True)
            with contextlib.suppress(Exception):
                self.client.unsubscribe_topic(self.topic)
            with contextlib.suppress(Exception):
                self.client.close(timeout=10)
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close(timeout=30)
        if self.server is not None:
            self.server.stop()
