"""``kata grade --scheduler`` on a real Dask cluster: a ``dask scheduler`` and two ``dask
worker`` processes from the kit's virtualenv on 127.0.0.1, over TLS with certificates made
by the README's openssl commands, grade a small class to the same per-TODO verdicts as a
local run with the same seed (the golden file of the demo class, ``kit_tests/golden.py``),
although the test kills the Dask worker grading
one student mid-grade (retried elsewhere) and twice the worker grading another (that
submission alone is reported). Plus the one-line refusals (no Dask, a bad or
unauthenticated ``--scheduler``, workers with another kit), another local user who cannot
run anything on ``local:2``'s cluster, and Ctrl-C on ``local:2``.

One Dask run is shared by the assertions (a module fixture); the local run it is held to is
the demo class's golden file (the same students, the same seed), which test_demo_class.py
holds every local grading to.
"""

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import golden
import pytest

pytest.importorskip("distributed", reason="the cluster extra (dask[distributed]) is not installed")

from grader.classroom.workspace import remove_abandoned_workspaces  # noqa: E402
from grader.core.manifest import kit_sha256  # noqa: E402
from grader.core.paths import KIT_ROOT  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc (Linux)")

SEED = "demo-class"  # the golden file's seed: its verdicts are the local run's (kit_tests/golden.py)
STUDENTS = ("diego_lopez", "elena_torres")  # demo-class students: pass, fail and error verdicts between them
VICTIM = "victim"  # its Dask worker is killed twice: reported alone
RETRIED = "elena_torres"  # its Dask worker is killed once, mid-grade: retried elsewhere
GRADE = [sys.executable, "-m", "grader", "grade"]
BIN = Path(sys.executable).parent
# The scheduler gives a dead worker's tasks back to kata grade at once: what the README asks.
SCHEDULER_ENV = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
OTHER_UID = 1001  # another local user, with none of the grader's credentials
# The README's recipe: a CA, and one certificate it signs for the scheduler, the workers
# and kata grade.
OPENSSL = (("req", "-x509", "-newkey", "rsa:3072", "-nodes", "-days", "365", "-subj", "/CN=kata-ca",
            "-keyout", "ca.key", "-out", "ca.pem"),
           ("req", "-newkey", "rsa:3072", "-nodes", "-subj", "/CN=kata-cluster", "-keyout", "cluster.key",
            "-out", "cluster.csr"),
           ("x509", "-req", "-in", "cluster.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "365", "-out", "cluster.pem"))


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> dict[str, str]:
    """The README's certificates, by the flag that names each (Dask's and kata grade's)."""
    assert shutil.which("openssl"), "the README's TLS recipe uses openssl"
    folder = tmp_path_factory.mktemp("tls")
    for command in OPENSSL:
        subprocess.run(["openssl", *command], cwd=folder, check=True, capture_output=True, timeout=60)
    return {"--tls-ca-file": str(folder / "ca.pem"), "--tls-cert": str(folder / "cluster.pem"),
            "--tls-key": str(folder / "cluster.key")}


def flags(tls: dict[str, str]) -> list[str]:
    return [item for pair in tls.items() for item in pair]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def started_by(folder: Path) -> list[int]:
    """Live processes whose $TMPDIR is in ``folder``: everything a run or a Dask worker
    given that TMPDIR started (kata workers, model servers, Dask workers)."""
    mark = f"TMPDIR={folder}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if any(item.startswith(mark) for item in environ.split(b"\0")):
            found.append(int(entry.name))
    return found


def wait_for_no_process(folder: Path, timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := started_by(folder)) and time.monotonic() < deadline:
        time.sleep(0.3)
    return left


def children(pid: int, command_part: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and command_part in command:
            found.append(int(entry.name))
    return found


class Cluster:
    """A ``dask scheduler`` and ``dask worker`` processes (each with its nanny) from the
    kit's virtualenv, on 127.0.0.1, with ``$TMPDIR`` in ``tmp`` (their workspaces): over
    TLS with ``tls``'s certificates as the README starts them, else plain tcp://."""

    def __init__(self, tmp: Path, kit: Path = KIT_ROOT, scheduler_env: dict[str, str] = SCHEDULER_ENV,
                 tls: dict[str, str] | None = None):
        self.tmp, self.kit, self.tls = tmp, kit, tls
        tmp.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, **scheduler_env, "TMPDIR": str(tmp),
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(kit), os.environ.get("PYTHONPATH")]))}
        self.port = free_port()
        host = f"{'tls' if tls else 'tcp'}://127.0.0.1"
        self.address = f"{host}:{self.port}"
        self.processes = [self.start([str(BIN / "dask"), "scheduler", "--host", host, "--port", str(self.port),
                                      "--no-dashboard", *flags(tls or {})])]

    def kata_options(self) -> list[str]:
        """``kata grade``'s options for this scheduler: its address and credentials, or
        ``--insecure-scheduler`` for a plain tcp:// one."""
        return ["--scheduler", self.address, *(flags(self.tls) if self.tls else ["--insecure-scheduler"])]

    def start(self, command: list[str], own_group: bool = False) -> subprocess.Popen:
        return subprocess.Popen(command, cwd=self.kit, env=self.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=own_group)

    def add_workers(self, count: int, own_group: bool = False) -> None:
        """``own_group``: each in a process group of its own, as a terminal starts a command."""
        for _ in range(count):
            self.processes.append(self.start([str(BIN / "dask"), "worker", self.address, "--nthreads", "1",
                                              "--host", "127.0.0.1", "--no-dashboard", *flags(self.tls or {})],
                                             own_group))

    def stop(self) -> None:
        for process in reversed(self.processes):  # workers close first (their plugin's teardown)
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def copy_class(root: Path) -> Path:
    submissions = root / "submissions"
    for name in STUDENTS:
        shutil.copytree(KIT_ROOT / "examples" / "submissions" / name, submissions / name)
    shutil.copytree(KIT_ROOT / "exercises", submissions / VICTIM / "exercises",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return submissions


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    return copy_class(tmp_path_factory.mktemp("dask-class"))


@pytest.fixture(scope="module")
def reference():
    """What a local run gives the class's students with the seed: the demo class's golden
    results, by id (masked as kit_tests/golden.py masks a run)."""
    expected = json.loads(golden.GOLDEN.read_text(encoding="utf-8"))
    return {s["id"]: s for s in expected["submissions"] if s["id"] in STUDENTS}


class Killer:
    """Kills (SIGKILL) the Dask worker process grading a submission, found by its
    staging folder in a workspace (``owner.pid``) under the workers' ``$TMPDIR``."""

    def __init__(self, tmp: Path, plan: dict[str, int]):
        self.tmp, self.plan = tmp, plan
        self.killed: dict[str, list[int]] = {name: [] for name in plan}
        self.workspaces: list[Path] = []  # those of the workers killed
        self.seen: dict[tuple[str, int], float] = {}

    def step(self) -> None:
        for owner in self.tmp.glob("kata-grade-*/owner.pid"):
            try:
                pid = int(owner.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if any(pid in pids for pids in self.killed.values()):
                continue
            for name, times in self.plan.items():
                if len(self.killed[name]) >= times or not list(owner.parent.glob(f"staging/{name}-*")):
                    continue
                first = self.seen.setdefault((name, pid), time.monotonic())
                # the retried one mid-grade (its kata worker up a while); the victim once its
                # grading has begun (its kata worker up, and time for the "begin" event to reach
                # kata grade: a death before it is a death while waiting, which keeps the retry)
                wait = 5 if name == RETRIED else 2
                if not (children(pid, "grader.classroom.worker") and time.monotonic() - first > wait):
                    continue
                os.kill(pid, signal.SIGKILL)
                self.killed[name].append(pid)
                self.workspaces.append(owner.parent)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, tls, served_model_env):
    """Its Dask workers (and those restarted after a kill) use the session's model server."""
    cluster = Cluster(tmp_path_factory.mktemp("dask-tmp"), scheduler_env={**SCHEDULER_ENV, **served_model_env},
                      tls=tls)
    cluster.add_workers(2)
    yield cluster
    cluster.stop()
    with pytest.MonkeyPatch.context() as patch:  # what killed workers left (their model servers)
        patch.setattr(tempfile, "tempdir", str(cluster.tmp))
        remove_abandoned_workspaces()


@pytest.fixture(scope="module")
def dask_graded(cluster, submissions, tmp_path_factory):
    """The class graded on the cluster, its workers killed as planned meanwhile."""
    out = tmp_path_factory.mktemp("dask") / "out"
    killer = Killer(cluster.tmp, {RETRIED: 1, VICTIM: 2})
    started = time.monotonic()
    kata = subprocess.Popen([*GRADE, str(submissions), "--out", str(out), *cluster.kata_options(),
                             "--seed", SEED], cwd=KIT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        while kata.poll() is None and time.monotonic() - started < 900:
            killer.step()
            time.sleep(0.2)
        _, stderr = kata.communicate(timeout=30)
    finally:
        if kata.poll() is None:
            kata.kill()
            kata.communicate()
    return {"run": kata, "stderr": stderr, "out": out, "killed": killer.killed, "workspaces": killer.workspaces,
            "results": json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}}


def test_the_dask_cluster_gives_every_todo_the_verdict_of_a_local_run_with_the_same_seed(
        dask_graded, reference):
    assert dask_graded["run"].returncode == 0, dask_graded["stderr"][-2000:]
    results = dask_graded["results"]
    assert results["kit"]["seed"] == SEED and results["kit"]["tests_sha256"] == kit_sha256()
    if os.geteuid() == 0:  # as a local run here (test_isolation_report.py)
        assert results["kit"]["isolation"] == {"level": "full", "missing": []}
    assert dask_graded["run"].args[dask_graded["run"].args.index("--scheduler") + 1].startswith("tls://")
    assert "insecure_scheduler" not in results["kit"]  # a TLS cluster with credentials
    verdicts = {todo["status"] for student in reference.values() for todo in student["todos"].values()}
    assert verdicts >= {"pass", "fail", "error"}  # the comparison covers every kind
    dask = {s["id"]: s for s in golden.masked(results)["submissions"]}
    for name in STUDENTS:  # every verdict, score and message, as the local run's
        assert dask[name] == reference[name], f"{name} on Dask differs from the golden file"
    for name in STUDENTS:
        log = next((dask_graded["out"] / "logs").glob(f"{name}-*.html"))
        assert "<html" in log.read_text()[:2000].lower()  # the pytest-html log came back


def test_a_submission_whose_dask_worker_is_killed_mid_grade_is_retried_on_another(dask_graded, reference):
    assert len(dask_graded["killed"][RETRIED]) == 1
    retried = {s["id"]: s for s in golden.masked(dask_graded["results"])["submissions"]}[RETRIED]
    assert retried["status"] == "graded"
    assert retried == reference[RETRIED]


def test_a_submission_that_loses_two_dask_workers_alone_is_reported_with_one_line(dask_graded):
    assert len(dask_graded["killed"][VICTIM]) == 2
    by_id = {s["id"]: s for s in dask_graded["results"]["submissions"]}
    victim = by_id[VICTIM]
    assert victim["status"] == "error" and victim["score"] == 0
    assert "Dask workers grading it died 2 times" in victim["message"] and "\n" not in victim["message"]
    assert "graded 2 submission(s), 1 broken" in dask_graded["stderr"]


def test_what_killed_dask_workers_left_is_swept_by_the_next_run_on_their_machine(dask_graded, cluster,
                                                                               monkeypatch):
    """A killed worker cannot clean up its workspace; the next grading on its machine does
    (the restarted worker's, when it got a submission afterwards, else this one)."""
    left = dask_graded["workspaces"]
    assert len(left) == 3  # one per kill
    monkeypatch.setattr(tempfile, "tempdir", str(cluster.tmp))
    remove_abandoned_workspaces()
    assert not [folder for folder in left if folder.exists()]
    commands = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in started_by(cluster.tmp)
                if Path(f"/proc/{pid}/cmdline").exists()]
    assert not [c for c in commands if any(str(folder).encode() in c for folder in left)]


def test_a_submission_only_waiting_on_a_worker_that_dies_keeps_its_retry(tmp_path, served_model_env):
    """A scheduler that retries lost tasks itself (``allowed-failures`` 1) counts a death
    against every task the worker held. Here one submission's worker is killed while
    grading it; the scheduler moves it behind its neighbour on the other worker, which is
    then killed too: the scheduler's count says "died twice", but only one worker was
    grading it, so ``kata grade`` sends it again and it is graded. Its scheduler is a plain
    tcp:// one, accepted with ``--insecure-scheduler`` and recorded in results.json."""
    from distributed import Client

    waiting, neighbour = "waits_behind", "its_neighbour"
    submissions = tmp_path / "submissions"
    for name in (waiting, neighbour):  # tasks 1 and 2 only: what the kills need, without the
        (submissions / name / "exercises").mkdir(parents=True)  # seeding of tasks 3 and 4
        for task_file in ("task1_baseline.py", "task2_tuning.py"):
            shutil.copy(KIT_ROOT / "solutions" / task_file, submissions / name / "exercises")
    cluster = Cluster(tmp_path / "tmp", scheduler_env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
                                                       **served_model_env})
    out = tmp_path / "out"
    kata = None
    try:
        cluster.add_workers(2)
        with Client(cluster.address, timeout=60) as watcher:
            watcher.wait_for_workers(2, timeout=120)
            kata = subprocess.Popen([*GRADE, str(submissions), "--out", str(out), *cluster.kata_options(),
                                     "--seed", SEED], cwd=KIT_ROOT, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            first = Killer(cluster.tmp, {waiting: 1})
            deadline = time.monotonic() + 300
            while not first.killed[waiting]:  # its worker dies while grading it...
                assert kata.poll() is None and time.monotonic() < deadline, "it was never graded"
                first.step()
                time.sleep(0.1)
            while True:  # ...and the worker it then waits on, grading the neighbour, dies too
                assert kata.poll() is None and time.monotonic() < deadline, "it never waited on a worker"
                held = {worker: " ".join(keys) for worker, keys in watcher.processing().items()}
                both = [worker for worker, keys in held.items()
                        if f"kata-grade-{waiting}-" in keys and f"kata-grade-{neighbour}-" in keys]
                if both:
                    os.kill(watcher.run(os.getpid, workers=both)[both[0]], signal.SIGKILL)
                    break
                time.sleep(0.05)
        _, stderr = kata.communicate(timeout=900)
    finally:
        if kata is not None and kata.poll() is None:
            kata.kill()
            kata.communicate()
        cluster.stop()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(tempfile, "tempdir", str(cluster.tmp))
            remove_abandoned_workspaces()
    assert kata.returncode == 0, stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    graded = {s["id"]: (s["status"], s["score"]) for s in results["submissions"]}
    assert graded == {waiting: ("graded", 8), neighbour: ("graded", 8)}, stderr[-2000:]
    assert results["kit"]["insecure_scheduler"] is True


# A Dask worker grading a task of a remote kata grade (run by ``exec``: nothing of this module
# to unpickle there): the real ``grade_task`` and host, which starts the worker's own model
# server as a first task does, with one stand-in: its kata worker, which says it began (the
# "grading" event) and grades until the host stops it, then gives no reply, as a stopped one.
# What the task did is written to FATE.
GRADE_ON_THE_WORKER = """
import time
from distributed import Event
from grader.classroom import dask_worker
from grader.classroom.pool import Graded, WorkerPool

def grade_one(pool, job):
    Event("grading").set()
    deadline = time.monotonic() + 120
    while not dask_worker._host.closed and time.monotonic() < deadline:
        time.sleep(0.1)
    return Graded(job, None)

WorkerPool.grade_one = grade_one
try:
    dask_worker.grade_task(TASK)
    FATE.write_text("answered")
except BaseException as error:
    FATE.write_text(type(error).__name__)
    raise
"""


def running(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (not gone, not a zombie)."""
    left = set()
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                left.add(pid)
    return left


def test_ctrl_c_on_a_dask_worker_mid_grading_removes_its_model_server_and_workspace_at_once(tmp_path):
    """An instructor's ``dask worker`` (with its nanny, as the README starts it) stopped with
    Ctrl-C in its terminal (SIGINT to its process group) while it grades a submission, its
    host having started its own model server: within seconds nothing it started runs (the
    server's unshare, mlflow and uvicorn) and nothing of the grader's is left in its
    $TMPDIR; the nanny then stops it in order, nothing of its tree left, and the submission
    goes back to the scheduler for another worker (no answer from a stopped grading)."""
    from distributed import Client, Event

    from grader.classroom.dask_worker import PLUGIN_NAME, KataWorkerPlugin, zip_folder
    from grader.classroom.protocol import GradeTask, WorkerSettings
    from grader.judge.model_server import SERVER_ENV

    cluster = Cluster(tmp_path / "tmp", scheduler_env={})
    cluster.env.pop(SERVER_ENV, None)  # the worker serves the model itself, as on a remote machine
    tree: set[int] = set()
    try:
        cluster.add_workers(1, own_group=True)
        worker = cluster.processes[-1]
        with Client(cluster.address, timeout=60) as client:
            client.wait_for_workers(1, timeout=120)
            client.register_plugin(KataWorkerPlugin(), name=PLUGIN_NAME)  # as kata grade does
            exercises = zip_folder(KIT_ROOT / "examples" / "submissions" / "diego_lopez" / "exercises")
            grade = GradeTask("diego", "diego", exercises, hashlib.sha256(exercises).hexdigest(), False,
                              kit_sha256(), WorkerSettings(60.0, SEED), "kata-test-begin")
            fate = tmp_path / "fate"
            task = client.submit(exec, GRADE_ON_THE_WORKER, {"TASK": grade.to_json(), "FATE": fate}, pure=False)
            grading, deadline = Event("grading", client=client), time.monotonic() + 180
            while not grading.wait(timeout=1):
                assert not task.done(), task.exception() if task.status == "error" else task.status
                assert time.monotonic() < deadline, "the grading never began"
            tree = process_tree(worker.pid)
            commands = {pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in tree}
            served = {pid for pid, command in commands.items() if b"mlflow" in command or b"uvicorn" in command}
            assert served, commands
            assert task.status == "pending"  # grading
            assert list(cluster.tmp.glob("kata-grade-*"))
            os.killpg(worker.pid, signal.SIGINT)  # a terminal's Ctrl-C
            deadline = time.monotonic() + 5
            while (running(served) or list(cluster.tmp.glob("kata-*"))) and time.monotonic() < deadline:
                time.sleep(0.1)
            left = running(served)
            assert not left, f"still running 5 s after Ctrl-C: {[commands[pid] for pid in left]}"
            assert not list(cluster.tmp.glob("kata-*"))
            stopped = time.monotonic()
            worker.wait(timeout=60)  # the nanny stops the worker process in order
            assert time.monotonic() - stopped < 8, "the nanny had to kill its worker process"
            # given back to the scheduler for another worker, not answered
            assert fate.read_text() == "Reschedule" and task.status == "pending"
        deadline = time.monotonic() + 10  # its multiprocessing resource tracker follows
        while (others := running(tree) | set(started_by(cluster.tmp)) - {cluster.processes[0].pid}) \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        # nothing but the scheduler, still up, runs with the worker's $TMPDIR
        assert not others, [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in others]
    finally:
        for pid in running(tree):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        cluster.stop()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(tempfile, "tempdir", str(cluster.tmp))
            remove_abandoned_workspaces()


def run_kata(*arguments: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*GRADE, *arguments], cwd=KIT_ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def without_dask_tls() -> dict[str, str]:
    """This environment without Dask TLS settings (``kata grade`` would read them)."""
    return {name: value for name, value in os.environ.items() if not name.startswith("DASK_DISTRIBUTED__COMM__")}


@pytest.mark.parametrize("arguments, reason", [
    (["--scheduler", "tcp://127.0.0.1:1"], "not a tls:// address"),
    (["--scheduler", "127.0.0.1:1"], "not a tls:// address"),
    (["--scheduler", "tls://127.0.0.1:1"], "no TLS credentials"),
    (["--scheduler", "tls://127.0.0.1:1", "--tls-ca-file", "ca.pem"], "go together: --tls-cert, --tls-key missing"),
    (["--scheduler", "tls://127.0.0.1:1", "--tls-ca-file", "no.pem", "--tls-cert", "no.pem", "--tls-key", "no.key"],
     "--tls-ca-file no.pem: no such file"),
    (["--scheduler", "local:1", "--insecure-scheduler"], "makes its own TLS credentials"),
    (["--jobs", "1", "--tls-cert", "cluster.pem"], "--tls-cert goes with --scheduler ADDRESS"),
])
def test_a_scheduler_nobody_vouches_for_is_refused_in_one_line(submissions, tmp_path, arguments, reason):
    """Whoever reaches an unauthenticated scheduler runs code on its workers and writes the
    grades: kata grade wants a tls:// address and credentials, or --insecure-scheduler."""
    run = run_kata(str(submissions), "--out", str(tmp_path / "out"), *arguments, env=without_dask_tls())
    assert run.returncode == 2, run.stderr[-2000:]
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kata grade: ") and reason in lines[0], run.stderr
    if "tcp://" in arguments[1]:
        assert "--insecure-scheduler" in lines[0]  # says how to accept it anyway
    assert not (tmp_path / "out").exists()


def test_an_answer_graded_with_another_seed_or_for_other_bytes_is_that_submissions_error():
    """kata grade holds each Dask answer to what it sent: the run's seed and the hash of the
    submission's zip (a mixed-up or forged answer never becomes a verdict)."""
    from types import SimpleNamespace

    from grader.classroom.dask_pool import DaskPool
    from grader.classroom.protocol import Job, Reply, TaskAnswer
    from grader.results.model import KataRun

    pool = DaskPool.__new__(DaskPool)
    pool.grader = SimpleNamespace(kit={"tests_sha256": "k" * 64}, seed="s1", record_isolation=lambda _: None)
    pool.sent = {}
    job = Job("ana", "exercises")
    graded = Reply("ana", KataRun({}, 0.0))

    def reply(seed: str, digest: str) -> Reply | None:
        pool.sent["key"] = "d" * 64
        future = SimpleNamespace(key="key", result=lambda: TaskAnswer("k" * 64, seed, digest, "tls://w:1",
                                                                      graded).to_json())
        return pool.reply_of(future, job)

    assert reply("s1", "d" * 64) == graded
    assert "seed 'other', not this run's 's1'" in reply("other", "d" * 64).error
    assert "other files than the submission's" in reply("s1", "e" * 64).error
    assert not pool.sent  # nothing kept of the answered tasks


def test_without_dask_scheduler_says_which_extra_to_install_in_one_line(submissions, tmp_path):
    blocked = tmp_path / "no-dask"
    blocked.mkdir()
    (blocked / "sitecustomize.py").write_text("import sys\nsys.modules['distributed'] = None\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocked), str(KIT_ROOT)])}
    run = run_kata(str(submissions), "--out", str(tmp_path / "out"), "--scheduler", "local:2", env=env)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        'kata grade: --scheduler needs Dask, which is not installed: pip install "mlflow-kata[cluster]" '
        '(in a checkout of the kit: pip install -e ".[cluster]")']
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["local", "local:0", "local:two", ""])
def test_a_malformed_scheduler_is_refused_in_one_line(submissions, tmp_path, value):
    run = run_kata(str(submissions), "--out", str(tmp_path / "out"), "--scheduler", value)
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and "use local:N" in run.stderr


def test_scheduler_and_jobs_are_one_choice(submissions, tmp_path):
    run = run_kata(str(submissions), "--out", str(tmp_path / "out"), "--scheduler", "local:1", "--jobs", "2")
    assert run.returncode == 2 and "not allowed with argument" in run.stderr


def test_dask_workers_running_another_kit_version_stop_the_run_in_one_line(submissions, tmp_path, tls):
    """Here kata grade finds its TLS credentials in Dask's configuration, not in --tls-*."""
    other = tmp_path / "other-kit"
    for name in ("grader", "labkit", "tests", "data"):
        shutil.copytree(KIT_ROOT / name, other / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("conftest.py", "pytest.ini"):
        shutil.copy(KIT_ROOT / name, other / name)
    with open(other / "tests" / "test_task1.py", "a") as test:
        test.write("\n# a later edit of the tests\n")
    cluster = Cluster(tmp_path / "tmp", kit=other, tls=tls)
    dask_tls = {"DASK_DISTRIBUTED__COMM__TLS__CA_FILE": tls["--tls-ca-file"],
                "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": tls["--tls-cert"],
                "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": tls["--tls-key"]}
    try:
        cluster.add_workers(1)
        run = run_kata(str(submissions), "--out", str(tmp_path / "out"), "--scheduler", cluster.address,
                       "--seed", SEED, env={**without_dask_tls(), **dask_tls})
    finally:
        cluster.stop()
    assert run.returncode == 2, run.stderr[-2000:]
    line = run.stderr.strip().splitlines()[-1]
    assert line.startswith("kata grade: the Dask workers run another kit version: tls://127.0.0.1:"), line
    assert not (tmp_path / "out" / "results.json").exists()


# Another local user's try, given the ports the kata grade process tree listens on: run
# os.getuid through the scheduler (Client.run) and through every worker's and nanny's own
# "run" handler, with no credentials and with TLS credentials of its own, over tls:// and
# tcp://. Its tools are loaded and checked as root, then again as OTHER_UID on a cluster
# of its own (so a failure below is the grader's cluster refusing it, not a broken tool).
ATTACKER = r"""
import asyncio, json, logging, os, sys
from distributed import Client, Scheduler, Worker
from distributed.core import rpc
from distributed.protocol import pickle
from distributed.security import Security

logging.disable(logging.CRITICAL)
uid, ports = int(sys.argv[1]), [int(port) for port in sys.argv[2:]]
own = Security.temporary()  # a certificate no CA of the grader's signed

async def client_run(address, security):
    async with Client(address, security=security, asynchronous=True, timeout=5) as client:
        return await client.run(os.getuid)

async def handler_run(address, security):
    args = security.get_connection_args("client") if security else {}
    async with rpc(address, timeout=5, connection_args=args) as remote:
        return await remote.run(function=pickle.dumps(os.getuid))

async def control():
    for protocol, security in (("tcp://", None), ("tls://", own)):
        async with Scheduler(host="127.0.0.1", port=0, protocol=protocol, security=security,
                             dashboard_address="127.0.0.1:0") as scheduler, \
                   Worker(scheduler.address, nthreads=1, security=security) as worker:
            assert await client_run(scheduler.address, security) == {worker.address: os.getuid()}
            assert (await handler_run(worker.address, security))["result"] == os.getuid()

async def attempt(how, address, security):
    try:  # an HTTP port (a dashboard, the model server) may hold a Dask handshake a long while
        answer = await asyncio.wait_for(how(address, security), 8)
        return f"{how.__name__} {address} ({'own' if security else 'no'} credentials): {answer}"
    except Exception:
        return None

async def main():
    await control()
    os.setgroups([]); os.setgid(uid); os.setuid(uid)
    await control()
    tries = [attempt(how, f"{scheme}127.0.0.1:{port}", security) for port in ports
             for scheme, security in (("tcp://", None), ("tls://", None), ("tls://", own))
             for how in (client_run, handler_run)]
    ran = [result for result in await asyncio.gather(*tries) if result]
    print(json.dumps({"uid": os.getuid(), "tries": len(tries), "ran": ran}))

asyncio.run(main())
"""


def process_tree(pid: int) -> set[int]:
    """``pid`` and its descendants."""
    parents = {}
    for entry in Path("/proc").iterdir():
        try:
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        found = {child for child, of in parents.items() if of == parent} - tree
        tree |= found
        frontier.extend(found)
    return tree


def listening_ports(pids: set[int]) -> set[int]:
    """The TCP ports on which any of ``pids`` listens."""
    listening = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":  # LISTEN
                    listening[f"socket:[{fields[9]}]"] = int(fields[1].rsplit(":", 1)[1], 16)
    ports = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in listening:
                        ports.add(listening[os.readlink(fd)])
    return ports


@pytest.fixture(scope="module")
def local_run(submissions, tmp_path_factory):
    """``kata grade --scheduler local:2``: once its kata workers are up, another local user
    tries every port its processes listen on (``ATTACKER``); then a terminal's Ctrl-C
    (SIGINT to the whole process group, Dask worker processes included)."""
    root = tmp_path_factory.mktemp("local-run")
    tmp = root / "tmp"
    tmp.mkdir()
    kata = subprocess.Popen([*GRADE, str(submissions), "--out", str(root / "out"), "--scheduler", "local:2",
                             "--seed", SEED], cwd=KIT_ROOT, env={**os.environ, "TMPDIR": str(tmp)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    attack, up_after = None, False
    try:
        deadline = time.monotonic() + 300
        while not any(b"grader.classroom.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
                      for pid in started_by(tmp) if Path(f"/proc/{pid}/cmdline").exists()):
            assert kata.poll() is None and time.monotonic() < deadline, "no kata worker started"
            time.sleep(0.2)
        if os.geteuid() == 0:
            own, every = listening_ports({kata.pid}), listening_ports(process_tree(kata.pid))
            scratch = tempfile.mkdtemp(prefix="kata-other-user-", dir="/tmp")  # its $TMPDIR, its own
            os.chown(scratch, OTHER_UID, OTHER_UID)
            try:
                attack = subprocess.run([sys.executable, "-c", ATTACKER, str(OTHER_UID), *map(str, sorted(every))],
                                        cwd="/", env={**os.environ, "TMPDIR": scratch}, capture_output=True,
                                        text=True, timeout=120)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            attack = {"own": own, "every": every, "run": attack}
            up_after = kata.poll() is None  # the cluster was up throughout
        os.killpg(kata.pid, signal.SIGINT)
        _, stderr = kata.communicate(timeout=120)
    finally:
        if kata.poll() is None:
            kata.kill()
            kata.communicate()
    return {"run": kata, "stderr": stderr, "tmp": tmp, "attack": attack, "up_after": up_after}


def test_another_local_user_cannot_run_anything_on_local_workers(local_run):
    """``local:N``'s cluster speaks TLS only with credentials made for it, in memory: another
    local user reaches none of its ports, with no credentials or with its own, as tls:// or
    tcp://, through the scheduler or a worker's or nanny's own handlers."""
    if local_run["attack"] is None:
        pytest.skip("needs root, to become another local user")
    attack = local_run["attack"]
    assert local_run["up_after"], "kata grade ended before the try was over"
    assert attack["own"], "kata grade listens on no port: where is its scheduler?"
    assert attack["run"].returncode == 0, attack["run"].stderr[-3000:]
    tried = json.loads(attack["run"].stdout.strip().splitlines()[-1])
    assert tried["uid"] == OTHER_UID and tried["tries"] == 6 * len(attack["every"])
    assert tried["ran"] == []


def test_ctrl_c_on_local_workers_stops_the_cluster_and_everything_it_started(local_run):
    """A terminal's Ctrl-C: SIGINT to the whole process group, Dask worker processes included."""
    assert local_run["run"].returncode == 130, local_run["stderr"]
    lines = local_run["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kata grade: interrupted"), local_run["stderr"]
    assert wait_for_no_process(local_run["tmp"]) == []  # Dask workers, kata workers, model server
    assert not list(local_run["tmp"].glob("kata-*"))  # workspaces, a zygote's warm-up cut short
