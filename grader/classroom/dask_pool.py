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

Nobody else may reach the workers: whoever can talk to a Dask scheduler can run any code
on its workers (and ``local:N``'s scheduler lives in the ``kata grade`` process itself), as
the user they run as, and forge every grade. So ``local:N`` makes its cluster with
temporary TLS credentials only ``kata grade`` and its workers hold (``Security.temporary``:
mutual TLS, in memory), and ``--scheduler ADDRESS`` must be a ``tls://`` address reached
with credentials (``--tls-ca-file``/``--tls-cert``/``--tls-key``, or Dask's configuration);
an unauthenticated one is refused in one line unless ``--insecure-scheduler`` says the
instructor accepts it (``kit.insecure_scheduler`` in results.json then records it).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import secrets
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import CancelledError
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grader.classroom.errors import BelowFloor, GradingError
from grader.classroom.options import GradeOptions, GradingRun
from grader.classroom.pool import Graded
from grader.classroom.protocol import GradeTask, Job, Reply, TaskAnswer
from grader.classroom.saved_run import file_stem

if TYPE_CHECKING:
    from distributed import Client, LocalCluster
    from distributed.security import Security

INSTALL_HINT = 'pip install "mlflow-kata[cluster]" (in a checkout of the kit: pip install -e ".[cluster]")'
LOCAL_PATTERN = re.compile(r"local:(\d{1,3})")
ALLOWED_FAILURES = 0  # local:N's scheduler gives every lost task back to kata grade at once
DEATHS_REPORTED = 2  # a submission whose worker dies grading it is retried once, then reported
CONNECT_TIMEOUT_S = 30
WORKERS_WAIT_S = 300  # how long a scheduler may have no worker at all (a batch queue)
LOCAL_DEATH_TIMEOUT_S = 60  # local:N's workers leave if `kata grade` was killed
# A submission is sent again this many times at most, whoever's fault the deaths were
# (a cluster losing workers as fast as it gets them), then reported.
MAX_RESENDS = 4


@dataclass(frozen=True)
class SchedulerSpec:
    """``--scheduler``'s value: a number of local workers, or a scheduler's address."""

    local_workers: int = 0
    address: str = ""

    def __str__(self) -> str:
        return f"local:{self.local_workers}" if self.local_workers else self.address


def parse_scheduler(text: str) -> SchedulerSpec:
    """``local:N`` (1-999 workers) or an address such as ``tcp://10.0.0.5:8786``."""
    text = text.strip()
    local = LOCAL_PATTERN.fullmatch(text)
    if local and int(local.group(1)) >= 1:
        return SchedulerSpec(local_workers=int(local.group(1)))
    if text.startswith("local") or not text:
        raise GradingError(
            f"--scheduler {text!r}: use local:N (N workers on this machine, 1-999) "
            "or a Dask scheduler's address such as tcp://HOST:8786"
        )
    return SchedulerSpec(address=text)


def require_dask() -> None:
    """One line (exit 2) naming the extra to install when Dask is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise GradingError(f"--scheduler needs Dask, which is not installed: {INSTALL_HINT}") from None


def tls_flags(options: GradeOptions) -> dict[str, str]:
    """The ``--tls-*`` options given, by their flag."""
    given = {"--tls-ca-file": options.tls_ca_file, "--tls-cert": options.tls_cert, "--tls-key": options.tls_key}
    return {flag: value for flag, value in given.items() if value}


def is_insecure(spec: SchedulerSpec) -> bool:
    """An address whose traffic Dask neither encrypts nor authenticates (tcp://, a bare
    HOST:PORT, ...): anyone who reaches it can run code on its workers."""
    return not spec.local_workers and not spec.address.startswith("tls://")


def check_scheduler_options(options: GradeOptions) -> SchedulerSpec | None:
    """``--scheduler`` and its security options, refused in one line (exit 2) before
    anything is written: a malformed value, Dask missing, an address nobody vouches for,
    unusable credentials. ``local:N`` makes its own credentials, and a run without
    ``--scheduler`` talks to no cluster, so the options that name credentials go only with
    an address (a flag silently ignored would make an instructor believe in a guarantee)."""
    flags = [*tls_flags(options), *(["--insecure-scheduler"] if options.insecure_scheduler else [])]
    if options.scheduler is None:
        if flags:
            raise GradingError(f"{flags[0]} goes with --scheduler ADDRESS (a Dask scheduler's address)")
        return None
    spec = parse_scheduler(options.scheduler)
    require_dask()
    if spec.local_workers:
        if flags:
            raise GradingError(f"{flags[0]}: --scheduler {spec} makes its own TLS credentials for its cluster; drop it")
        try:
            import cryptography  # noqa: F401 - what Security.temporary makes them with
        except ImportError:
            raise GradingError(
                f"--scheduler {spec} makes TLS credentials with cryptography, which is not installed: {INSTALL_HINT}"
            ) from None
        return spec
    client_security(spec, options)
    return spec


def client_security(spec: SchedulerSpec, options: GradeOptions) -> Security | None:
    """The TLS credentials ``kata grade`` (and ``local:N``'s cluster) talk to the cluster
    with; None for an insecure address the instructor accepted (``--insecure-scheduler``).
    A ``tls://`` address needs a CA and a client certificate: from ``--tls-*`` (all three)
    or else Dask's configuration (``distributed.comm.tls.ca-file``, ``.client.cert``,
    ``.client.key``); each file is read here, so a wrong path is one line, not a timeout."""
    from distributed.security import Security

    if spec.local_workers:
        return Security.temporary()  # in memory: held by kata grade and the workers it starts
    if is_insecure(spec):
        if options.insecure_scheduler:
            return None
        raise GradingError(
            f"--scheduler {spec}: not a tls:// address, so anyone who reaches the scheduler "
            "can run code on its workers and forge grades; start it with TLS and pass "
            "tls://HOST:PORT with --tls-ca-file, --tls-cert and --tls-key (see the README), "
            "or add --insecure-scheduler to accept it as it is"
        )
    given = tls_flags(options)
    missing = [flag for flag in ("--tls-ca-file", "--tls-cert", "--tls-key") if given and flag not in given]
    if missing:
        raise GradingError(f"--tls-ca-file, --tls-cert and --tls-key go together: {', '.join(missing)} missing")
    explicit = (
        {"tls_ca_file": options.tls_ca_file, "tls_client_cert": options.tls_cert, "tls_client_key": options.tls_key}
        if given
        else {}
    )  # else Dask's configuration's
    try:  # Dask's TLS settings are read here too (a bad min-version is a ValueError)
        security = Security(require_encryption=True, **explicit)
    except (ImportError, ValueError) as error:
        raise GradingError(f"--scheduler {spec}: cannot use TLS: {error}") from None
    named = given
    if not given:  # Security sets these fields through __slots__: unseen by the type checker
        named = {
            "distributed.comm.tls.ca-file": security.tls_ca_file,  # type: ignore[attr-defined]
            "distributed.comm.tls.client.cert": security.tls_client_cert,  # type: ignore[attr-defined]
            "distributed.comm.tls.client.key": security.tls_client_key,  # type: ignore[attr-defined]
        }
        if not (security.tls_ca_file and security.tls_client_cert):  # type: ignore[attr-defined]
            raise GradingError(
                f"--scheduler {spec}: no TLS credentials to reach it with: pass --tls-ca-file, "
                "--tls-cert and --tls-key, or set Dask's distributed.comm.tls.ca-file, "
                ".client.cert and .client.key"
            )
    for name, value in named.items():
        if value and "\n" not in value and not Path(value).is_file():  # "\n": PEM text, as Dask allows
            raise GradingError(f"{name} {value}: no such file")
    try:
        security.get_connection_args("client")  # reads and checks the CA, certificate and key
    except (OSError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise GradingError(f"--scheduler {spec}: cannot use its TLS credentials: {reason}") from None
    return security


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
