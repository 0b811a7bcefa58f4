"""``kata grade``: grade a whole class in parallel, safely, and write the reports; and
``grade_submission``, the same grading for one submission (the Gradescope run).

The class is staged once (``staging``: each submission's task files copied to the run's
private workspace), each submission still to grade becomes a ``Job`` for a kata worker
(``pool``: ``--jobs`` long-lived worker processes sharing one ``mlflow models serve``
for the bonus), and its result is saved as soon as it is known (``saved_run``: so
``--resume`` grades only what is missing, or changed: each result records the hash of
the task files it was graded on, ``files_sha256``). ``--only ID…`` grades just those
students into the results already in OUT (``regrade``). At the end ``results.json``, ``grades.csv``
and ``index.html`` are written atomically (``grader.reports``), the similarity section
(``similarity_stage``) reading the same staged class. Where a job is graded is one seam,
a ``GradingPool``: ``LocalPool`` here, or ``grader.classroom.dask_pool``'s ``DaskPool``
on a Dask cluster (``--scheduler``); everything else is the same. One submission or a
class: both go through ``ClassGrader.grade_staged``.

Seed: a fresh one per run (or ``--seed``), given to every worker and recorded in
``results.json`` (``kit.seed``): a regrade with that seed reproduces every verdict.

Refusals: every option that can be refused without grading is, in one line, before OUT
is made or touched (``ClassGrader.check_options``).

Robustness: one run at a time per ``OUT`` (``out_lock``); every temp file of a run lives
in one workspace removed at exit, or by the next run should this one be killed
(``workspace``); workers and the model server die with the run even on ``kill -9``
(``PR_SET_PDEATHSIG``, pid namespace); SIGINT/SIGTERM/SIGHUP become ``Interrupted``
once cleanup-safe (``interrupts``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from grader.classroom.errors import GradingError, IsolationRefused, refuse_below_floor
from grader.classroom.interrupts import cleanup_section
from grader.classroom.options import GradeOptions
from grader.classroom.out_lock import OutBefore, lock_out, unlock_out
from grader.classroom.pool import Graded, WorkerPool
from grader.classroom.protocol import Job, WorkerSettings
from grader.classroom.regrade import merged, regrade_base, unchanged_since
from grader.classroom.saved_run import PROGRESS_DIR, SavedRun, check_seed, file_stem
from grader.classroom.serving import kata_worker_env, kit_has_bonus, start_model_server
from grader.classroom.staging import StagedClass, stage
from grader.classroom.submissions import Submission, discover
from grader.classroom.worker_handle import LOST_TO_MEMORY
from grader.classroom.workspace import grading_workspace
from grader.core import i18n
from grader.core.defaults import CALL_TIMEOUT_S
from grader.core.i18n import _
from grader.core.manifest import kit_sha256
from grader.judge.model_server import LAZY_SERVER_ENV, SERVER_ENV
from grader.results.model import ClassResults, SubmissionResult

LOGS_DIR = "logs"
SUBMISSION_ID = "submission"  # grade_submission's id for the one submission it grades


def kit_info() -> dict:
    from importlib.metadata import version

    return {"mlflow": version("mlflow"), "python": platform.python_version(), "tests_sha256": kit_sha256()}


def result_of(outcome: Graded, notes: Sequence[str] = ()) -> SubmissionResult:
    """A submission's result from its job's outcome and what staging noted about it."""
    job, reply = outcome.job, outcome.reply
    if reply is None and outcome.lost == LOST_TO_MEMORY:
        return SubmissionResult(
            job.id, "error", message=_("the grader ran out of memory reading what this submission left")
        )
    if reply is None:
        return SubmissionResult(
            job.id, "error", message=_("the grader gave up on this submission (its worker stopped or hung)")
        )
    if reply.run is None:
        return SubmissionResult(job.id, "error", message=reply.error)
    run = reply.run
    return SubmissionResult(job.id, "graded", run.todos, run.duration_s, message="; ".join([*notes, *run.problems]))


class GradingPool(Protocol):
    """Where jobs are graded: the one seam between ``--jobs`` (``LocalPool``) and
    ``--scheduler`` (``grader.classroom.dask_pool.DaskPool``). ``grade`` yields each job's outcome
    in the calling (main) thread as soon as it is known, so that recording, progress and
    interruptions work alike; ``close`` stops everything the pool started, even
    half-way through ``grade``."""

    def grade(self, jobs: list[Job]) -> Iterator[Graded]: ...

    def close(self) -> None: ...


class LocalPool:
    """``--jobs`` kata workers on this machine (a ``WorkerPool``), sharing one model server."""

    def __init__(self, grader: ClassGrader, workspace: Path):
        self.grader, self.workspace = grader, workspace
        self.env = kata_worker_env()
        self.server = None
        self.workers: WorkerPool | None = None

    def grade(self, jobs: list[Job]) -> Iterator[Graded]:
        if self.grader.options.lazy_server and not os.environ.get(SERVER_ENV):
            self.env[LAZY_SERVER_ENV] = "1"  # each worker serves it while the bonus's tests run
        elif kit_has_bonus():  # one server for the run (or the one $KATA_MODEL_SERVER names)
            self.server = start_model_server(self.workspace / "served-model", self.env)
        self.workers = WorkerPool(
            self.grader.worker_settings(),
            self.env,
            self.workspace / "tmp",
            size=min(self.grader.options.jobs, len(jobs)),
        )
        self.grader.record_isolation(self.workers.start()[0])
        yield from self.workers.grade(jobs, on_begin=self.begin)

    def begin(self, job: Job) -> None:
        """A worker takes ``job``: say so, and restart the class's model server if the last
        submission left it dead (its failure to restart reaches the bonus TODOs)."""
        self.grader.progress("begin", id=job.id)
        if self.server is not None:
            with contextlib.suppress(Exception):
                self.server.ensure_alive()

    def close(self) -> None:
        if self.workers is not None:
            self.workers.close()
        if self.server is not None:
            self.server.stop()


class ClassGrader:
    """Grades every submission of ``options.submissions`` (``run``), or one (``grade_one``);
    see the module docstring. ``close()`` ends what ``run`` keeps: OUT's lock and the
    workspace holding the staged class."""

    def __init__(self, options: GradeOptions, progress=None):
        self.options = options
        self.progress = progress or (lambda event, **data: None)
        self.kit = kit_info()
        self.kit["lang"] = options.lang  # the verdicts' language: kata feedback's default
        self.seed = ""  # chosen by open_out()
        self.saved = SavedRun(options.out, self.kit["tests_sha256"], options.lang)
        self.results: dict[str, SubmissionResult] = {}
        self.notes: dict[str, list[str]] = {}  # what staging noted, by submission id
        self.digests: dict[str, str] = {}  # the staged task files' files_sha256, by submission id
        self.journals: dict[str, dict | None] = {}  # the summary of each one's journal (none: None)
        self.staged: StagedClass | None = None  # the class run() staged, until close()
        self.lock = threading.Lock()
        self.stopping = False  # set (under ``lock``) when the workers are being stopped
        self.out_lock: int | None = None  # OUT/.kata-lock, held from run() until close()
        self.out_before: OutBefore | None = None  # what run() found in OUT
        self.put_back = False  # close() puts OUT back: refused before anything was graded
        self.pool_graded = 0  # submissions the workers graded
        self.kept = contextlib.ExitStack()  # run()'s workspace, until close()

    # -- the whole run -----------------------------------------------------------------
    def run(self) -> ClassResults:
        options = self.options
        submissions, base = self.check_options()
        self.out_before = OutBefore(options.out, PROGRESS_DIR, LOGS_DIR)
        self.open_out(base)
        if base is not None and not unchanged_since(base, options.out):
            raise GradingError(f"another kata grade rewrote {options.out} meanwhile: run --only again")
        workspace = self.kept.enter_context(grading_workspace())
        self.staged = stage(submissions, workspace / "staging")  # all: the similarity section reads them
        if base is not None:
            todo = list(dict.fromkeys(options.only))
            self.progress("start", total=len(todo))
            self.progress("only", regrading=todo, kept=len({s.id for s in base.submissions} - set(todo)))
        else:
            self.progress("start", total=len(submissions))
            previous = None if options.resume else earlier_grading(options.out)  # read under OUT's lock
            if previous is not None:
                self.progress("replace", **previous)
            todo = self.to_grade(submissions)
        try:
            self.grade_staged(self.staged, todo, workspace)
        except IsolationRefused:  # known once a worker is up: OUT as it was, unless some were graded
            self.put_back = not self.pool_graded
            raise
        if kit_sha256() != self.kit["tests_sha256"]:
            raise GradingError("the kit's files changed while grading: reinstall the kit and regrade")
        if base is not None:
            return ClassResults(kit=self.kit, submissions=merged(base, self.results))
        ordered = [self.results[s.id] for s in submissions if s.id in self.results]
        return ClassResults(kit=self.kit, submissions=ordered)

    def check_options(self) -> tuple[list[Submission], ClassResults | None]:
        """Every refusal that needs no grading, in one line before anything is written (OUT
        neither made nor locked): the folders, ``--scheduler`` and its credentials,
        ``--seed`` (with ``--resume``, against OUT's saved seed), ``--only``. The class
        found, and with ``--only`` OUT's results."""
        options = self.options
        if not options.submissions.is_dir():
            raise GradingError(f"{options.submissions} is not a folder of submissions")
        if options.out.resolve().is_relative_to(options.submissions.resolve()):
            raise GradingError(
                f"--out {options.out} is inside the submissions folder, which kata grade "
                "never writes to: choose a folder outside it"
            )
        # no Dask, a bad address, a cluster nobody vouches for or nobody answers at
        from grader.classroom.dask_scheduler import check_scheduler_options, is_insecure

        spec = check_scheduler_options(options)
        if options.seed is not None:
            check_seed(options.seed)
            if options.resume:  # a --seed other than that of the results saved in OUT
                self.saved.choose_seed(options.seed, resume=True)
        submissions = discover(options.submissions)
        base = regrade_base(options, self.kit, submissions, self.saved) if options.only else None
        if base is not None:  # OUT's kit facts (isolation, …) hold for the verdicts kept
            self.kit = {**base.kit, **self.kit}
        if options.journal_summary is not None:
            check_journal_summary(options.journal_summary, options.submissions)
        if spec is not None and is_insecure(spec):
            self.kit["insecure_scheduler"] = True  # the instructor accepted it: say so in results.json
        return submissions, base

    def grade_one(self, submission: Submission) -> SubmissionResult:
        """Grade one submission as ``run`` grades each of a class (``grade_submission``)."""
        self.open_out()
        with grading_workspace() as workspace:
            self.grade_staged(stage([submission], workspace / "staging"), [submission.id], workspace)
        return self.results[submission.id]

    def close(self) -> None:
        """Remove the workspace ``run`` kept and release ``OUT/.kata-lock``."""
        try:
            self.kept.close()
        finally:
            unlock_out(self.out_lock)
            self.out_lock = None
            if self.put_back and self.out_before is not None:
                self.out_before.put_back()

    def open_out(self, base: ClassResults | None = None) -> None:
        """OUT made and locked, the run's seed chosen (with ``--only``, that of ``base``:
        OUT's results) and saved in it."""
        self.options.out.mkdir(parents=True, exist_ok=True)
        if self.out_lock is None:
            self.out_lock = lock_out(self.options.out)
        if base is not None:
            self.seed = self.kit["seed"] = base.kit["seed"]
        else:
            self.seed = self.kit["seed"] = self.saved.choose_seed(self.options.seed, self.options.resume)
        self.saved.save_seed(self.seed)

    def to_grade(self, submissions: list[Submission]) -> list[str]:
        """The ids to grade: all, or with ``--resume`` those whose saved result cannot be
        kept (``resume``); says how many were kept and why the others are graded again."""
        if not self.options.resume:
            return [s.id for s in submissions]
        todo, why = [], Counter[str]()
        for submission in submissions:
            reason = self.resume(submission.id)
            if reason:
                todo.append(submission.id)
                why[reason] += 1
        self.progress("resume", kept=len(submissions) - len(todo), regrading=dict(why))
        return todo

    def resume(self, submission_id: str) -> str:
        """With ``--resume``: keep (record) the result saved for the staged submission
        ``submission_id`` when it was graded on what would be graded now, and return "";
        else why it is graded again (``saved_run.REGRADE_REASONS``)."""
        assert self.staged is not None
        result, why = self.saved.reuse(
            submission_id,
            self.seed,
            self.staged.digests.get(submission_id, ""),
            self.staged.skipped.get(submission_id),
        )
        if result is None:
            return why
        self.results[submission_id] = result
        self.progress("done", result=result, resumed=True)
        return ""

    # -- the per-submission path -------------------------------------------------------
    def grade_staged(self, staged: StagedClass, ids: list[str], workspace: Path) -> None:
        """Grade the submissions ``ids`` of ``staged``: one that could not be staged is an
        error with its reason, every other a job for the pool."""
        jobs = []
        for submission_id in ids:
            if submission_id in staged.skipped:
                self.record(SubmissionResult(submission_id, "error", message=staged.skipped[submission_id]))
                continue
            self.notes[submission_id] = staged.notes[submission_id]
            self.digests[submission_id] = staged.digests[submission_id]
            self.journals[submission_id] = journal_summary(staged.folders[submission_id])
            log = None
            if self.options.logs:
                (self.options.out / LOGS_DIR).mkdir(exist_ok=True)
                log = str((self.options.out / LOGS_DIR / f"{file_stem(submission_id)}.html").resolve())
            jobs.append(Job(submission_id, str(staged.folders[submission_id]), log))
        if jobs:
            self.grade_all(jobs, workspace)

    def grade_all(self, jobs: list[Job], workspace: Path) -> None:
        pool = self.pool(workspace)
        try:
            for outcome in pool.grade(jobs):
                self.pool_graded += 1
                self.record(result_of(outcome, self.notes.get(outcome.job.id, [])))
        finally:
            with cleanup_section():
                with self.lock:
                    self.stopping = True
                pool.close()

    def pool(self, workspace: Path) -> GradingPool:
        """Where this run's jobs are graded: ``--scheduler``'s Dask cluster, else here."""
        if self.options.scheduler is not None:
            from grader.classroom.dask_pool import DaskPool

            return DaskPool(self, workspace)
        return LocalPool(self, workspace)

    def worker_settings(self) -> WorkerSettings:
        """What every kata worker of this run grades with, wherever it runs."""
        return WorkerSettings(
            self.options.timeout,
            self.seed,
            self.options.lang,
            allow_unconfined=self.options.allow_unconfined,
            budget=self.options.budget,
            memory_mb=self.options.memory_mb,
        )

    def record_isolation(self, isolation: dict) -> None:
        """Put the sandbox's isolation in ``kit`` (results.json) and say what is missing;
        with ``--require-isolation`` a missing guarantee stops the run. Called once per
        kata worker hello (every Dask worker's may differ): a guarantee one of them
        lacks is recorded as missing for the run."""
        refuse_below_floor(isolation)
        level, missing = isolation.get("level", "none"), list(isolation.get("missing", []))
        known = self.kit.get("isolation")
        if known is not None:
            new = [item for item in missing if item not in known["missing"]]
            if not new:
                return
            missing = known["missing"] + new
        self.kit["isolation"] = {"level": level, "missing": missing}
        if self.options.allow_unconfined:
            self.kit["isolation"]["allow_unconfined"] = True
        if missing and self.options.require_isolation:
            raise IsolationRefused(f"--require-isolation: this machine cannot give: {'; '.join(missing)}")
        self.progress("isolation", **self.kit["isolation"])

    def record(self, result: SubmissionResult) -> None:
        if result.id in self.digests:  # what it was graded on (--resume compares it)
            result = dataclasses.replace(result, files_sha256=self.digests[result.id])
        if self.journals.get(result.id) is not None:  # beside the grade, never part of it
            result = dataclasses.replace(result, journal=self.journals[result.id])
        with self.lock:
            if self.stopping:
                return
            self.results[result.id] = result
            self.saved.save(result, self.seed)
        self.progress("done", result=result, resumed=False)


def earlier_grading(out: Path) -> dict | None:
    """What OUT's results.json holds from an earlier run (its submissions, seed and language),
    said before a plain run replaces it; None when there is none or it is unreadable."""
    try:
        with open(out / "results.json", encoding="utf-8") as handle:
            data = json.loads(handle.read(64 << 20))
        kit = data.get("kit", {})
        return {
            "submissions": len(data.get("submissions", [])),
            "seed": str(kit.get("seed", "?")),
            "lang": str(kit.get("lang", "en")),
        }
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def journal_summary(exercises: Path) -> dict | None:
    """The summary of the journal staged beside ``exercises`` (``grader.results.journal``,
    read as untrusted input); None when the submission held none. Never raises: whatever
    a journal holds, the submission is graded as without one."""
    from grader.classroom.submissions import STAGED_JOURNAL
    from grader.results import journal

    try:
        reading = journal.read_file(exercises.parent / STAGED_JOURNAL)
        return None if reading is None else journal.summarise(reading, journal.lab_hash())
    except Exception:  # a bug of the reader must not cost a grade: the summary is left out
        return {"status": "ignored", "note": "unreadable"}


def check_journal_summary(path: Path, submissions: Path) -> None:
    """``--journal-summary FILE`` refused before grading: a folder, a file in no folder, or
    one inside the submissions folder (which kata grade never writes to)."""
    if path.is_dir() or not path.parent.is_dir():
        raise GradingError(f"--journal-summary {path}: not a file in an existing folder")
    if path.resolve().is_relative_to(submissions.resolve()):
        raise GradingError(
            f"--journal-summary {path} is inside the submissions folder, which kata grade never writes to"
        )


def write_journal_summary(results: ClassResults, path: Path) -> None:
    """``--journal-summary``: the class's journals summed per message, no student id
    (``grader.results.journal.shared_summary``), written atomically."""
    import json

    from grader.core.files import write_atomic
    from grader.results import journal

    shared = journal.shared_summary({sub.id: sub.journal for sub in results.submissions})
    write_atomic(path, (json.dumps(shared, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def grade(options: GradeOptions, progress=None) -> ClassResults:
    """Grade the class and write ``results.json``, ``grades.csv`` and ``index.html``.
    The grades are written first, before the optional similarity section (which has a
    deadline) and the report (whose failure clusters quote student-made text): nothing
    a submission left can keep a class's grades from being written."""
    from grader.classroom.similarity_stage import similarity_section
    from grader.reports.class_files import write_all, write_grades_csv, write_results_json

    grader = ClassGrader(options, progress)
    progress = progress or (lambda event, **data: None)
    try:
        with i18n.use(options.lang):  # a broken submission's reason and the notes, as its verdicts
            results = grader.run()
            untouched = not_started_tasks(grader.staged)
            results.submissions = [
                dataclasses.replace(sub, not_started=tuple(untouched.get(sub.id, ()))) for sub in results.submissions
            ]
            write_results_json(results, options.out)
            write_grades_csv(results, options.out)
        if options.journal_summary is not None:  # from the final results: --resume's and --only's too
            write_journal_summary(results, options.journal_summary)
        logs = {}
        for submission in results.submissions:
            log = options.out / LOGS_DIR / f"{file_stem(submission.id)}.html"
            if log.is_file():
                logs[submission.id] = f"{LOGS_DIR}/{log.name}"
        similar = similarity_section(grader.staged, options.out, options.similarity_threshold, progress)
        with i18n.use(options.lang):  # the report's TODO titles in the verdicts' language
            write_all(results, options.out, logs, similar_pairs=similar, untouched=untouched)
    finally:
        grader.close()
    return results


def not_started_tasks(staged: StagedClass | None) -> dict[str, tuple[int, ...]]:
    """Each staged submission's tasks whose file is the stub (``grader.classroom.untouched``),
    recorded as its ``not_started``: of every submission staged, so a result ``--resume`` or
    ``--only`` kept has them too. Student files are only read and parsed; should that fail
    all the same, no task counts as not started (the grades are written regardless)."""
    from grader.classroom.untouched import untouched_tasks

    if staged is None:
        return {}
    try:
        return untouched_tasks(staged.folders)
    except Exception:  # a bug of the reader must not cost the class its grades
        return {}


def grade_submission(
    folder: Path,
    seed: str,
    timeout: float = CALL_TIMEOUT_S,
    *,
    lang: str = "en",
    allow_unconfined: bool = False,
    progress=None,
    submission_id: str = SUBMISSION_ID,
    budget: float | None = None,
    lazy_server: bool = False,
    memory_mb: int | None = None,
) -> tuple[SubmissionResult, dict]:
    """Grade the one submission in ``folder`` (an upload: an ``exercises/`` folder, bare
    task files or one .zip of them) exactly as ``kata grade`` grades each of a class, with
    ``seed``; its ``SubmissionResult`` and the kit facts (versions, seed, isolation) for
    its report. No log, nothing kept: its OUT is a temporary folder. ``budget``: the
    seconds all its calls of student code may take together (``grader.judge.budget``);
    ``lazy_server``: the model served only while the bonus's tests run, by the worker (the
    least memory: ``grader.judge.model_server.LAZY_SERVER_ENV``); ``memory_mb``: what each
    call of its student code may use (None: the sandbox's default)."""
    with tempfile.TemporaryDirectory(prefix="kata-one-") as scratch:
        options = GradeOptions(
            folder.parent,
            Path(scratch) / "out",
            jobs=1,
            timeout=timeout,
            logs=False,
            seed=seed,
            lang=lang,
            allow_unconfined=allow_unconfined,
            budget=budget,
            lazy_server=lazy_server,
            memory_mb=memory_mb,
        )
        grader = ClassGrader(options, progress)
        try:
            if not folder.is_dir():
                grader.kit["seed"] = seed
                return SubmissionResult(submission_id, "error", message="nothing was uploaded"), grader.kit
            return grader.grade_one(Submission(submission_id, folder)), grader.kit
        finally:
            grader.close()
