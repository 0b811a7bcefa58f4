"""The classroom wing's mechanisms, each once (issue 20), cheaply: no kata worker runs.

- The typed messages (``grader.classroom.protocol``): one JSON form each, framed by
  ``grader.core.jsonlines``; a peer's garbage is a ``ProtocolError``, never a traceback.
- The one worker pool (``grader.classroom.pool.WorkerPool``), with stand-in workers: one
  typed outcome per job, a worker that gave no reply stopped and another started for the
  next job, nothing started once it is closed, the floor refused at start.
- The class staged once per run, the similarity section reading that staging.
- ``grade_submission``, the public "grade one submission", on uploads that need no worker.
- ``kit_has_bonus`` reads the task table's ``bonus`` flag.
- A signal in a Dask worker runs its cleanup first (``interrupts.clean_up_first``).
"""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest

import grader.classroom.grade
import grader.classroom.pool
import grader.classroom.serving
from grader.classroom.errors import BelowFloor, GradingError, refuse_below_floor
from grader.classroom.grade import GradeOptions, grade, grade_submission
from grader.classroom.pool import Graded, WorkerPool
from grader.classroom.protocol import GradeTask, Hello, Job, Reply, TaskAnswer, WorkerSettings
from grader.core import jsonlines
from grader.results.model import KataRun, Status, TodoResult

SETTINGS = WorkerSettings(timeout=5.0, seed="s1", lang="es", allow_unconfined=True)
RUN = KataRun({"1.1": TodoResult(Status.PASS, "", 0.5), "1.2": TodoResult(Status.FAIL, "TODO 1.2: no", 0.25)},
              1.5, ["a problem"])


# -- the typed messages ----------------------------------------------------------------------
@pytest.mark.parametrize("message", [
    SETTINGS,
    Job("ana", "/w/exercises", "/out/logs/ana.html", (1, 5)),
    Job("ben", "/w/exercises"),
    Hello({"level": "full", "missing": []}),
    Reply("ana", RUN),
    Reply("ben", error="grader error: OSError: gone"),
    GradeTask("ana", "ana-1234", b"PK\x03\x04 zip bytes", "d" * 64, True, "k" * 64, SETTINGS, "topic", None),
    TaskAnswer("k" * 64, "s1", "d" * 64, "tls://w:1", Reply("ana", RUN), b"<html>log</html>", {"level": "full"}),
    TaskAnswer("k" * 64, "s1", "d" * 64, "tls://w:1"),
], ids=lambda message: type(message).__name__)
def test_every_message_has_one_json_form_that_reads_back_the_same(message):
    line = jsonlines.encode(message.to_json())
    assert line.endswith("\n") and line.count("\n") == 1
    assert type(message).from_json(jsonlines.decode(line)) == message


def test_what_is_not_a_message_is_a_protocol_error():
    with pytest.raises(jsonlines.ProtocolError):
        Hello.from_json({"ready": False})
    with pytest.raises(jsonlines.ProtocolError):
        Reply.from_json({"id": "ana", "todos": "not a table"})
    with pytest.raises(jsonlines.ProtocolError):
        jsonlines.decode("[1, 2]")


# -- the one pool ----------------------------------------------------------------------------
class StandIn:
    """A kata worker's handle without a process: job ids starting with "die" kill it."""

    made: list[StandIn] = []
    hello = {"level": "full", "missing": []}

    def __init__(self, settings, env, tmpdir):
        self.settings, self.process, self.isolation, self.lost = settings, None, {}, ""
        self.starts = self.stops = 0
        self.graded: list[str] = []
        StandIn.made.append(self)

    def start(self):
        self.process, self.starts = object(), self.starts + 1

    def wait_ready(self):
        self.isolation = dict(self.hello)
        refuse_below_floor(self.isolation)
        return self.isolation

    def grade(self, job, deadline_s):
        assert self.process is not None and deadline_s > self.settings.timeout
        self.graded.append(job.id)
        if job.id.startswith("die"):
            self.lost = "memory"
            return None
        return Reply(job.id, RUN)

    def stop(self):
        self.stops += 1


@pytest.fixture
def stand_ins(monkeypatch):
    StandIn.made = []
    monkeypatch.setattr(grader.classroom.pool, "Worker", StandIn)
    monkeypatch.setattr(StandIn, "hello", {"level": "full", "missing": []})
    return StandIn.made


def test_the_pool_yields_one_typed_outcome_per_job_and_replaces_a_worker_that_gave_no_reply(stand_ins, tmp_path):
    pool = WorkerPool(SETTINGS, {}, tmp_path, size=1)
    assert pool.start() == [StandIn.hello]
    begun = []
    jobs = [Job("ana", "a"), Job("die-ben", "b"), Job("carla", "c")]
    outcomes = list(pool.grade(jobs, on_begin=lambda job: begun.append(job.id)))
    pool.close()
    assert begun == ["ana", "die-ben", "carla"]
    assert outcomes == [Graded(jobs[0], Reply("ana", RUN)), Graded(jobs[1], None, "memory"),
                        Graded(jobs[2], Reply("carla", RUN))]
    first, second = stand_ins  # the one that died was stopped; another was started for carla
    assert (first.graded, first.starts, first.stops) == (["ana", "die-ben"], 1, 1)
    assert (second.graded, second.starts, second.stops) == (["carla"], 1, 1)


def test_a_closed_pool_starts_no_worker(stand_ins, tmp_path):
    pool = WorkerPool(SETTINGS, {}, tmp_path, size=2)
    pool.start()
    pool.close()
    assert all(worker.stops == 1 for worker in stand_ins) and len(stand_ins) == 2
    with pytest.raises(GradingError):
        pool.grade_one(Job("late", "x"))
    assert len(stand_ins) == 2 and all(worker.starts == 1 for worker in stand_ins)
    assert list(WorkerPool(SETTINGS, {}, tmp_path, size=1).grade([])) == []


def test_a_sandbox_below_the_floor_stops_the_pool_at_start_with_its_isolation(stand_ins, monkeypatch, tmp_path):
    monkeypatch.setattr(StandIn, "hello", {"level": "none", "refused": "student code would run as root"})
    pool = WorkerPool(SETTINGS, {}, tmp_path, size=1)
    with pytest.raises(BelowFloor) as refused:
        pool.start()
    assert refused.value.isolation["level"] == "none" and "run as root" in str(refused.value)
    assert stand_ins[0].stops == 1  # nothing left running


# -- one staging per run, one submission's grading -------------------------------------------
def test_a_class_is_staged_once_and_the_similarity_section_reads_that_staging(monkeypatch, tmp_path):
    submissions = tmp_path / "sub"
    for name in ("ana", "ben"):
        (submissions / name).mkdir(parents=True)  # empty: graded without a worker
    stagings = []
    real = grader.classroom.grade.stage

    def counted(found, into):
        stagings.append([submission.id for submission in found])
        return real(found, into)

    monkeypatch.setattr(grader.classroom.grade, "stage", counted)
    results = grade(GradeOptions(submissions, tmp_path / "out", 1, 5, logs=False))
    assert stagings == [["ana", "ben"]]
    assert [(s.id, s.status, s.message) for s in results.submissions] == [
        ("ana", "error", "empty submission folder"), ("ben", "error", "empty submission folder")]
    similarity = json.loads((tmp_path / "out" / "similarity.json").read_text())
    assert similarity["pairs"] == []


def test_grade_submission_grades_one_upload_by_the_same_path(tmp_path):
    result, kit = grade_submission(tmp_path / "nothing", "seed-1")
    assert (result.id, result.status, result.message) == ("submission", "error", "nothing was uploaded")
    assert kit["seed"] == "seed-1" and len(kit["tests_sha256"]) == 64
    (tmp_path / "upload").mkdir()
    result, kit = grade_submission(tmp_path / "upload", "seed-2", submission_id="ana")
    assert (result.id, result.status, result.message) == ("ana", "error", "empty submission folder")
    assert kit["seed"] == "seed-2"
    with pytest.raises(GradingError, match="--seed"):
        grade_submission(tmp_path / "upload", "not a seed")


def test_the_bonus_is_the_task_tables_flag_not_a_task_number(monkeypatch):
    assert grader.classroom.serving.kit_has_bonus()  # the lab's own table has a bonus task
    tasks = {1: SimpleNamespace(bonus=False), 5: SimpleNamespace(bonus=False)}
    monkeypatch.setattr(grader.classroom.serving, "task_by_number", lambda: tasks)
    assert not grader.classroom.serving.kit_has_bonus()
    tasks[2] = SimpleNamespace(bonus=True)
    assert grader.classroom.serving.bonus_tasks() == {2} and grader.classroom.serving.kit_has_bonus()



def test_a_workspace_being_made_is_never_swept_as_abandoned(tmp_path, monkeypatch):
    """Two runs starting side by side (two Dask workers on one machine) each sweep
    ``$TMPDIR`` first: a workspace whose owner file is still empty, or unreadable as a
    stamp, is being made, not abandoned; a dead owner's is swept; a live run's is kept."""
    import subprocess
    import sys
    import tempfile

    from grader.classroom.workspace import OWNER_FILE, WORKSPACE_PREFIX, grading_workspace, remove_abandoned_workspaces

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stamps = {"being-made": "", "garbled": "not a pid\n", "dead": f"{dead.stdout.strip()} 1\n"}
    for name, stamp in stamps.items():
        (tmp_path / f"{WORKSPACE_PREFIX}{name}").mkdir()
        (tmp_path / f"{WORKSPACE_PREFIX}{name}" / OWNER_FILE).write_text(stamp)
    with grading_workspace() as live:
        assert (live / OWNER_FILE).read_text().split()[0] == str(os.getpid())  # written whole
        assert not list(live.glob(f".{OWNER_FILE}.*"))  # no draft left beside it
        assert remove_abandoned_workspaces() == []  # the dead one went when the live one was made
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        f"{WORKSPACE_PREFIX}being-made", f"{WORKSPACE_PREFIX}garbled"]


CLEAN_UP_FIRST = r"""
import os, signal
from grader.classroom.interrupts import clean_up_first, cleanup_section

def say(text):
    print(text, flush=True)

signal.signal(signal.SIGTERM, lambda number, frame: say("its own handler"))  # a Dask loop's, say
signal.signal(signal.SIGINT, signal.SIG_IGN)  # local:N's workers leave SIGINT to kata grade
signal.signal(signal.SIGHUP, signal.SIG_DFL)

def cleanup():
    say("cleanup")
    os.kill(os.getpid(), signal.SIGTERM)  # a repeat while cleaning up: ignored

assert clean_up_first(cleanup)
os.kill(os.getpid(), signal.SIGTERM)
os.kill(os.getpid(), signal.SIGINT)
with cleanup_section():  # another cleanup (a plugin's teardown): the signal waits for its end
    os.kill(os.getpid(), signal.SIGTERM)
    say("teardown")
say("after")
os.kill(os.getpid(), signal.SIGHUP)
say("not reached")
"""


def test_a_signal_runs_the_cleanup_first_then_what_it_did_before():
    """A Dask worker's main thread runs Dask's loop: ``clean_up_first`` makes SIGINT, SIGTERM
    and SIGHUP stop what the kit started at once, then do what they did (its handler, or the
    default: death); an ignored one stays ignored; one arriving during a cleanup section
    waits for its end; repeats during the cleanup are dropped."""
    import signal
    import subprocess
    import sys

    from grader.core.paths import KIT_ROOT

    run = subprocess.run([sys.executable, "-c", CLEAN_UP_FIRST], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(KIT_ROOT)})
    assert run.returncode == -signal.SIGHUP, run.stderr
    assert run.stdout.splitlines() == [
        "cleanup", "its own handler", "teardown", "cleanup", "its own handler", "after", "cleanup"]
