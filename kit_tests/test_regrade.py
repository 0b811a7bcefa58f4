"""Regrading you can trust (issue 22): ``kata grade --resume`` keeps a saved verdict only
when what it was graded on is unchanged (the task files as staged, the kit, the seed, the
language) and says in one line how many it kept and why it grades the others again;
``kata grade … --only ID…`` regrades named students into an existing OUT, everyone else's
verdict kept; and an option that can be refused without grading is refused in one line
before OUT is made or touched.

None of these grades with a worker: the classes here hold submissions nothing can be taken
from (their verdict is the staging's), and the saved results that a worker would have
graded are checked against really staged files directly."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

import grader.cli.main as cli
from grader.authoring.stubgen import render
from grader.classroom.grade import ClassGrader, GradeOptions
from grader.classroom.saved_run import FILES_CHANGED, KIT_CHANGED, LANG_CHANGED, SEED_CHANGED, SavedRun
from grader.classroom.staging import stage
from grader.classroom.submissions import discover
from grader.core.paths import KIT_ROOT
from grader.lab.todos import load_todos
from grader.results.model import SubmissionResult, TodoResult

SOLUTIONS = KIT_ROOT / "solutions"
TASK1 = "task1_baseline.py"
EMPTY = "empty submission folder"
NO_EXERCISES = "no exercises/ folder with task files"


@pytest.fixture
def submissions(tmp_path) -> Path:
    """Three students who handed in an empty folder (graded without a worker)."""
    folder = tmp_path / "submissions"
    for name in ("ana", "ben", "cai"):
        (folder / name).mkdir(parents=True)
    return folder


def kata_grade(submissions: Path, out: Path, *options: str) -> int:
    return cli.main(["grade", str(submissions), "--out", str(out), *options])


def hand_in_a_note(submissions: Path, name: str) -> None:
    """``name``'s folder now holds a file, still no task file: another verdict."""
    (submissions / name / "notes.txt").write_text("my answers are in my other folder\n")


def results_of(out: Path) -> dict:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def messages(out: Path) -> dict[str, str]:
    return {s["id"]: s["message"] for s in results_of(out)["submissions"]}


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its content's hash."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


# -- --resume ---------------------------------------------------------------------------------
def test_resume_regrades_a_submission_whose_files_changed_and_says_why(submissions, tmp_path, capsys):
    out = tmp_path / "out"
    assert kata_grade(submissions, out) == 0
    assert set(messages(out).values()) == {EMPTY}
    hand_in_a_note(submissions, "ana")
    capsys.readouterr()
    assert kata_grade(submissions, out, "--resume") == 0
    said = capsys.readouterr().err
    got = messages(out)
    assert got["ana"].startswith(NO_EXERCISES)  # was kept as "empty submission folder"
    assert got["ben"] == got["cai"] == EMPTY
    assert "kata grade --resume: kept 2 saved verdict(s); grading 1 (files changed: 1)" in said
    assert "ben: broken: empty submission folder (resumed)" in said


def test_a_plain_run_into_a_graded_out_says_what_it_replaces(submissions, tmp_path, capsys):
    """A rerun without --resume regrades everyone (its own seed, its own language): it says
    so in one line before grading, naming what OUT held (an instructor lost a Spanish
    grading to a rerun that said nothing)."""
    out = tmp_path / "out"
    assert kata_grade(submissions, out, "--seed", "curso-es-1", "--lang", "es") == 0
    capsys.readouterr()
    assert kata_grade(submissions, out, "--seed", "-1") == 0
    said = capsys.readouterr().err
    assert (f"kata grade: replacing the grading in {out}/results.json (3 submission(s), seed curso-es-1, "
            "language es); --resume keeps what has not changed") in said
    assert results_of(out)["kit"]["seed"] == "-1"
    capsys.readouterr()
    assert kata_grade(submissions, out, "--resume") == 0
    assert "replacing" not in capsys.readouterr().err


def test_resume_with_another_seed_is_refused_before_out_is_touched(submissions, tmp_path, capsys):
    """Refused once OUT was locked, it rewrote OUT/.kata-lock (its pid, its time)."""
    out = tmp_path / "out"
    assert kata_grade(submissions, out, "--seed", "first") == 0
    before = {path: (digest, (out / path).stat().st_mtime_ns) for path, digest in tree(out).items()}
    capsys.readouterr()
    time.sleep(0.01)  # a rewrite would show in a file's time
    assert kata_grade(submissions, out, "--resume", "--seed", "other") == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"kata grade: --resume keeps the seed of the results in {out} (first), not --seed other: drop one of the two"]
    assert {path: (digest, (out / path).stat().st_mtime_ns) for path, digest in tree(out).items()} == before


@pytest.mark.parametrize("existing", [False, True])
def test_a_run_refused_for_its_isolation_puts_out_back_as_it_was(tmp_path, existing):
    """--require-isolation (or the floor) can refuse only once a kata worker is up, after
    OUT was locked and the seed saved: what the run wrote there is undone (the isolation
    tests refuse a real run; here, what such a run writes, put back)."""
    from grader.classroom.out_lock import LOCK_FILE, OutBefore, lock_out, unlock_out
    from grader.classroom.saved_run import PROGRESS_DIR

    out = tmp_path / "out"
    if existing:
        (out / PROGRESS_DIR).mkdir(parents=True)
        (out / PROGRESS_DIR / "seed.json").write_text('{"seed": "first"}')
        (out / PROGRESS_DIR / "ana.json").write_text('{"result": "graded before"}')
        (out / "results.json").write_text("{}")
    before = tree(out) if existing else None
    put_back = OutBefore(out, PROGRESS_DIR, "logs")
    out.mkdir(exist_ok=True)
    lock = lock_out(out)
    saved = SavedRun(out, "k" * 64, "en")
    saved.save_seed("second")
    saved.save(SubmissionResult("ben", "error", message="empty submission folder"), "second")
    (out / "logs").mkdir()
    unlock_out(lock)
    put_back.put_back()
    if existing:
        assert tree(out) == before and not (out / LOCK_FILE).exists() and not (out / "logs").exists()
    else:
        assert not out.exists()


def staged_grader(submissions: Path, out: Path, into: Path, seed: str = "s1", lang: str = "en") -> ClassGrader:
    """A ``--resume`` run's grader into ``out`` with ``seed``, the class staged into ``into``."""
    grader = ClassGrader(GradeOptions(submissions, out, 1, 5.0, resume=True, lang=lang))
    grader.seed = seed
    grader.staged = stage(discover(submissions), into)
    return grader


def test_a_saved_15_of_15_is_kept_only_for_the_same_files_kit_seed_and_language(tmp_path):
    """The issue's case: a 15/15 student whose files were then replaced by the stubs stayed
    15/15 after --resume. Each saved result now records the hash of the files it was
    graded on, and is kept only when the files, the kit, the seed and the language match."""
    submissions = tmp_path / "submissions"
    exercises = submissions / "alex" / "exercises"
    exercises.mkdir(parents=True)
    for path in SOLUTIONS.glob("task*.py"):
        (exercises / path.name).write_text(render(path.read_text(), stub_ids=()))
    out = tmp_path / "out"
    grader = staged_grader(submissions, out, tmp_path / "staged-1")
    digest = grader.staged.digests["alex"]
    full_marks = {todo.id: TodoResult("pass") for todo in load_todos()}
    grader.saved.save_seed("s1")
    grader.saved.save(SubmissionResult("alex", "graded", full_marks, 40.0, files_sha256=digest), "s1")

    assert grader.resume("alex") == "" and grader.results["alex"].score == 15
    assert staged_grader(submissions, out, tmp_path / "staged-2", seed="s2").resume("alex") == SEED_CHANGED
    assert staged_grader(submissions, out, tmp_path / "staged-3", lang="es").resume("alex") == LANG_CHANGED
    other_kit = SavedRun(out, "f" * 64)
    assert other_kit.reuse("alex", "s1", digest) == (None, KIT_CHANGED)

    (exercises / TASK1).write_text(render((SOLUTIONS / TASK1).read_text()))  # the stub again
    replaced = staged_grader(submissions, out, tmp_path / "staged-4")
    assert replaced.staged.digests["alex"] != digest
    assert replaced.resume("alex") == FILES_CHANGED and "alex" not in replaced.results

    older = SubmissionResult("alex", "graded", full_marks, 40.0)  # saved before results held the hash
    grader.saved.save(older, "s1")
    assert staged_grader(submissions, out, tmp_path / "staged-5").resume("alex") == FILES_CHANGED


# -- --only -----------------------------------------------------------------------------------
def test_only_regrades_the_named_students_into_out_and_keeps_everyone_else(submissions, tmp_path, capsys):
    out = tmp_path / "out"
    assert kata_grade(submissions, out, "--seed", "first") == 0
    hand_in_a_note(submissions, "ana")
    hand_in_a_note(submissions, "ben")  # changed too, but not named: kept as it was
    (submissions / "dan").mkdir()  # a late submission: added
    capsys.readouterr()
    assert kata_grade(submissions, out, "--only", "ana", "dan") == 0
    said = capsys.readouterr().err
    results = results_of(out)
    assert results["kit"]["seed"] == "first"  # OUT's, not a fresh one
    assert [s["id"] for s in results["submissions"]] == ["ana", "ben", "cai", "dan"]
    got = messages(out)
    assert got["ana"].startswith(NO_EXERCISES) and got["dan"] == EMPTY
    assert got["ben"] == got["cai"] == EMPTY
    assert ("kata grade --only: regrading 2 submission(s) (ana, dan); keeping 2 verdict(s) from "
            f"{out}/results.json") in said
    assert "ben:" not in said and "cai:" not in said  # not graded again
    csv = (out / "grades.csv").read_text(encoding="utf-8-sig").splitlines()
    assert [row.split(",")[0] for row in csv[1:]] == ["ana", "ben", "cai", "dan"]
    assert NO_EXERCISES in (out / "index.html").read_text(encoding="utf-8")


def test_only_grades_in_outs_language_when_no_lang_is_given(submissions, tmp_path):
    out = tmp_path / "out"
    assert kata_grade(submissions, out, "--lang", "es") == 0
    spanish = messages(out)["ben"]
    assert spanish != EMPTY  # a Spanish reason
    hand_in_a_note(submissions, "ana")
    assert kata_grade(submissions, out, "--only", "ana") == 0
    got = messages(out)
    assert got["ben"] == spanish and not got["ana"].startswith(NO_EXERCISES)  # Spanish too


@pytest.mark.parametrize("options, reason", [
    (["--only", "anna"], "--only anna: no submission with that id in {submissions} (ids near it: ana)"),
    (["--only", "cai", "zed", "bne"], "--only zed: no submission with that id in {submissions} (ids near it: cai); "
                                      "1 other id(s) unknown too: bne"),
    (["--only", "ana", "--seed", "other"], "--only keeps the seed of the results in {out} (first), not --seed other"),
    (["--only", "ana", "--lang", "es"], "--only: the verdicts in {out} are in 'en', not --lang es"),
])
def test_only_refuses_in_one_line_and_leaves_out_as_it_was(submissions, tmp_path, capsys, options, reason):
    out = tmp_path / "out"
    assert kata_grade(submissions, out, "--seed", "first") == 0
    before = tree(out)
    capsys.readouterr()
    assert kata_grade(submissions, out, *options) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"kata grade: {reason.format(submissions=submissions, out=out)}")
    assert tree(out) == before


def test_only_refuses_results_of_another_kit_and_goes_with_resume_never(submissions, tmp_path, capsys):
    out = tmp_path / "out"
    assert kata_grade(submissions, out) == 0
    results = results_of(out)
    results["kit"]["tests_sha256"] = "f" * 64
    (out / "results.json").write_text(json.dumps(results), encoding="utf-8")
    before = tree(out)
    capsys.readouterr()
    assert kata_grade(submissions, out, "--only", "ana") == 2
    said = capsys.readouterr().err.strip()
    assert said.startswith(f"kata grade: --only: the results in {out} were graded with another kit "
                           "(tests_sha256 ffffffffffff… there,") and "\n" not in said
    assert tree(out) == before
    with pytest.raises(SystemExit) as refused:
        kata_grade(submissions, out, "--only", "ana", "--resume")
    assert refused.value.code == 2 and "not allowed with argument --only" in capsys.readouterr().err


@pytest.mark.parametrize("existing", [False, True])
def test_only_without_an_earlier_results_json_is_one_line(submissions, tmp_path, capsys, existing):
    out = tmp_path / "out"
    if existing:
        out.mkdir()
    assert kata_grade(submissions, out, "--only", "ana") == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"kata grade: --only regrades students into the results of an earlier kata grade, and there is no "
        f"{out}/results.json: grade the whole class first (without --only)"]
    assert (list(out.iterdir()) == []) if existing else not out.exists()


# -- refused before anything is written ----------------------------------------------------------
@pytest.mark.parametrize("options, reason", [
    (["--seed", "a b"], "--seed 'a b': use 1-64 letters"),
    (["--scheduler", "tcp://localhost:abc", "--insecure-scheduler"], "port 'abc' is not a number"),
    (["--scheduler", "tls://sched:99999"], "port 99999 is not 1-65535"),
    (["--scheduler", "tls:/sched:8786"], "a scheme is followed by ://"),
    (["--scheduler", "tlss://sched:8786"], "unknown scheme 'tlss://'"),
    (["--scheduler", "tls://sched"], "no port"),
    (["--scheduler", "tcp://127.0.0.1:1", "--insecure-scheduler"], "nothing answers at 127.0.0.1:1"),
    (["--scheduler", "tcp://no-such-host.invalid:8786", "--insecure-scheduler"],
     "cannot find host 'no-such-host.invalid'"),
])
@pytest.mark.parametrize("existing", [False, True])
def test_a_bad_seed_or_scheduler_is_refused_at_once_and_out_is_left_as_it_was(
        submissions, tmp_path, capsys, options, reason, existing):
    """Issue 22: a bad --seed left OUT/.kata-lock behind; a scheduler address error came
    after a line per broken submission and Dask's 30 s of retries."""
    out = tmp_path / "out"
    if existing:
        out.mkdir()
    started = time.monotonic()
    assert kata_grade(submissions, out, *options) == 2
    took = time.monotonic() - started
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kata grade: ") and reason in lines[0], lines
    assert (list(out.iterdir()) == []) if existing else not out.exists()
    assert took < 15
