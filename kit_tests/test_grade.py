"""``kata grade`` on a class full of broken and hostile submissions: each gets a clear
one-line reason or costs only its own TODOs, the rest of the class is graded, and
nothing the instructor handed in changes."""

import ast
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import jsonschema
import pytest

import grader.classroom.errors
import grader.classroom.grade
import grader.cli.main as cli
from grader.core.paths import KIT_ROOT
from grader.results.model import ClassResults, Status, SubmissionResult, TodoResult
from grader.authoring.stubgen import render
from grader.lab.todos import load_todos

SOLUTIONS = KIT_ROOT / "solutions"
TASK1 = "task1_baseline.py"
TASK1_IDS = ["1.1", "1.2", "1.3", "1.4"]
SCHEMA = json.loads((KIT_ROOT / "grader" / "results" / "results.schema.json").read_text())


def solution(name):
    return render((SOLUTIONS / name).read_text(), stub_ids=())


def stub(name):
    return render((SOLUTIONS / name).read_text())


def student(root, name, files):
    folder = root / name / "exercises"
    folder.mkdir(parents=True)
    for file_name, content in files.items():
        path = folder / file_name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


def zipped(root, name, entries):
    with zipfile.ZipFile(root / f"{name}.zip", "w") as bundle:
        for entry, data in entries.items():
            bundle.writestr(entry, data)


def tree_digest(root):
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_symlink():
            digest.update(os.readlink(path).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


LOUD = """
import os, pathlib, sys
print("=" * 20 + " 17 passed in 0.01s " + "=" * 20)
sys.stdout.write("x" * (50 * 1024 * 1024))
for folder in (pathlib.Path.cwd(), pathlib.Path.cwd().parent, pathlib.Path("/tmp")):
    for name in ("results.json", "grades.csv", "index.html"):
        try:
            (folder / name).write_text("fake")
        except OSError:
            pass
""" + solution(TASK1)

DAEMON = "import subprocess\nsubprocess.Popen(['sleep', '4343'], start_new_session=True)\n" + solution(TASK1)
PATCH_PYTEST = ("import pytest, _pytest.outcomes\n"
                "pytest.fail = _pytest.outcomes.fail = lambda *a, **k: None\n") + stub(TASK1)


def prepend_to_function(source, function, code):
    """Insert ``code`` right after the docstring of ``function`` (one line or several: the
    student files' docstrings are bilingual)."""
    lines = source.splitlines(keepends=True)
    node = next(node for node in ast.parse(source).body
                if isinstance(node, ast.FunctionDef) and node.name == function)
    docstring_end = node.body[0].end_lineno  # the docstring is the function's first statement
    indented = textwrap.indent(textwrap.dedent(code).strip("\n") + "\n", "    ")
    return "".join(lines[:docstring_end]) + indented + "".join(lines[docstring_end:])


# Hostile code inside the functions, task 2 beside it: each costs exactly its own TODOs.
TASK2 = "task2_tuning.py"
TASK2_IDS = ["2.1", "2.2", "2.3", "2.4"]
IN_FUNCTION_LOOP = prepend_to_function(solution(TASK1), "log_baseline_run", "while True:\n    pass\n")
IN_FUNCTION_HOG = prepend_to_function(solution(TASK1), "log_baseline_run", "hog = bytearray(8 * 1024 ** 3)\n")
TASK2_DAEMON = prepend_to_function(solution(TASK2), "tune_random_forest", """
    import subprocess
    subprocess.Popen(["sleep", "4343"], start_new_session=True)
""")
VANDAL = prepend_to_function(solution(TASK1), "log_baseline_run", """
    import pathlib, labkit
    kit = pathlib.Path(labkit.__file__).resolve().parent.parent
    for test in (kit / "tests").glob("test_*.py"):
        try:
            test.write_text("def test_everything_passes():\\n    pass\\n")
        except OSError:
            pass
    for folder in (pathlib.Path.cwd(), kit):
        try:
            (folder / "results.json").write_text('{"score": 15}')
        except OSError:
            pass
    print("=========== 17 passed in 0.01s ===========")
""")
PATCH_PYTEST_IN_TASK2 = """
import pytest, _pytest.outcomes
pytest.fail = _pytest.outcomes.fail = lambda *args, **kwargs: None
pytest.main = lambda *args, **kwargs: 0
""" + stub(TASK2)
HOSTILE = {  # submission id -> its files, the statuses of tasks 1 and 2, words of its messages
    "hostile_loop": ({TASK1: IN_FUNCTION_LOOP, TASK2: solution(TASK2)}, ("timeout", "pass"), "did not return"),
    "hostile_exit_and_syntax": ({TASK1: "import os\nos._exit(0)\n", TASK2: "def tune_random_forest(:\n"},
                                ("error", "error"), "exited with code 0"),
    "hostile_hog_and_daemon": ({TASK1: IN_FUNCTION_HOG, TASK2: TASK2_DAEMON}, ("error", "pass"), "MemoryError"),
    # the stub's own verdict on task 2: pytest.fail unpatched
    "hostile_vandal": ({TASK1: VANDAL, TASK2: PATCH_PYTEST_IN_TASK2}, ("pass", "fail"),
                       "TODO 2.1: expected param n_estimators"),
}


JOURNAL = "".join(json.dumps({"v": 1, "t": 1_767_000_000 + 60 * n, "kit": "0123456789abcdef", "verb": "pytest",
                               "tasks": [1], "todos": {"1.1": [status, None]}}) + "\n"
                  for n, status in enumerate(("fail", "fail", "pass")))


@pytest.fixture(scope="module")
def graded(tmp_path_factory, served_model_env):
    """Grade one class with every kind of bad submission and a perfect control."""
    root = tmp_path_factory.mktemp("class")
    outside = tmp_path_factory.mktemp("outside")
    (outside / TASK1).write_text(solution(TASK1))
    submissions = root / "submissions"
    submissions.mkdir()
    perfect = student(submissions, "perfect", {p.name: solution(p.name) for p in SOLUTIONS.glob("*.py")})
    (perfect / ".kata").mkdir()  # the student's journal (issue 23): summarised, never graded
    (perfect / ".kata" / "journal.jsonl").write_text(JOURNAL)
    student(submissions, "only_task1", {TASK1: solution(TASK1)})
    copied = KIT_ROOT / "kit_tests" / "similarity_samples"  # zed's is ben's, renamed and reflowed
    student(submissions, "ben", {TASK1: (copied / "ben" / TASK1).read_text()})
    student(submissions, "ben_renamed", {TASK1: (copied / "zed" / TASK1).read_text()})
    student(submissions, "syntax_error", {TASK1: "def log_baseline_run(:\n"})
    student(submissions, "import_crash", {TASK1: "raise RuntimeError('boom at import')\n"})
    student(submissions, "wrong_signature", {TASK1: "def log_baseline_run(path):\n    return None\n"})
    student(submissions, "non_utf8", {TASK1: b'CAFE = "caf\xe9"\n' + solution(TASK1).encode()})
    student(submissions, "loud_and_fake", {TASK1: LOUD})
    student(submissions, "daemon", {TASK1: DAEMON})
    student(submissions, "looper", {TASK1: "while True:\n    pass\n"})
    student(submissions, "memory_hog", {TASK1: "hog = bytearray(8 * 1024 ** 3)\n"})
    student(submissions, "exit_at_import", {TASK1: "import os\nos._exit(0)\n"})
    student(submissions, "patch_pytest", {TASK1: PATCH_PYTEST})
    for submission_id, (files, _statuses, _words) in HOSTILE.items():
        student(submissions, submission_id, files)
    own = student(submissions, "own_tests", {TASK1: stub(TASK1)}).parent
    (own / "tests").mkdir()
    (own / "tests" / "test_task1.py").write_text("def test_all():\n    pass\n")
    (own / "conftest.py").write_text("import pytest\npytest.fail = lambda *a, **k: None\n")
    (own / "pytest.ini").write_text("[pytest]\naddopts = -p no:terminal\n")
    link = submissions / "symlink_out" / "exercises"
    link.mkdir(parents=True)
    (link / TASK1).symlink_to(outside / TASK1)
    (submissions / "empty_folder").mkdir()
    zipped(submissions, "zipped_ok", {f"lab/exercises/{TASK1}": solution(TASK1),  # a hostile journal beside
                                      "lab/.kata/journal.jsonl": b"<script>alert(1)</script>\n" + bytes(range(256))})
    zipped(submissions, "absolute_path", {"/etc/evil.py": "x", f"exercises/{TASK1}": "x"})
    zipped(submissions, "dot_dot", {f"../../{TASK1}": "x"})
    zipped(submissions, "empty_zip", {})
    with zipfile.ZipFile(root / "inner.zip", "w") as inner:
        inner.writestr(f"exercises/{TASK1}", solution(TASK1))
    zipped(submissions, "nested", {"inner.zip": (root / "inner.zip").read_bytes()})
    (submissions / "not_a_zip.zip").write_bytes(b"this is not a zip file")

    before = tree_digest(submissions)
    out = root / "report"
    run = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(submissions), "--out", str(out), "--jobs", "2",
         "--timeout", "5", "--journal-summary", str(root / "journal-summary.json")], cwd=KIT_ROOT,
        capture_output=True, text=True, timeout=1800, env={**os.environ, **served_model_env})
    results = json.loads((out / "results.json").read_text())
    return {"run": run, "out": out, "results": results, "submissions": submissions, "root": root,
            "before": before, "by_id": {s["id"]: s for s in results["submissions"]}}


def statuses(submission, ids=TASK1_IDS):
    return {todo_id: submission["todos"][todo_id]["status"] for todo_id in ids}


def message(submission, todo_id="1.1"):
    return submission["todos"][todo_id]["message"]


def test_grading_exits_zero_and_results_json_validates_against_the_schema(graded):
    assert graded["run"].returncode == 0, graded["run"].stderr[-2000:]
    jsonschema.validate(graded["results"], SCHEMA)
    assert len(graded["results"]["submissions"]) == 23 + len(HOSTILE)


def test_the_instructors_submissions_folder_is_left_exactly_as_it_was(graded):
    assert tree_digest(graded["submissions"]) == graded["before"]


def test_the_perfect_control_gets_full_marks_despite_its_classmates(graded):
    perfect = graded["by_id"]["perfect"]
    assert perfect["status"] == "graded" and perfect["score"] == 15
    assert all(todo["status"] == "pass" for todo in perfect["todos"].values())


def test_a_journal_handed_in_is_summarised_beside_the_grade_and_a_hostile_one_is_a_note(graded):
    perfect, zipped_ok = graded["by_id"]["perfect"], graded["by_id"]["zipped_ok"]
    assert perfect["journal"]["runs"] == 3 and perfect["journal"]["flags"] == ["other-kit"]
    assert perfect["journal"]["todos"]["1.1"]["attempts"] == 3
    assert perfect["journal"]["todos"]["1.1"]["seconds_to_green"] == 120
    assert zipped_ok["journal"] == {"status": "ignored", "note": "no-valid-line", "skipped_lines": 3}
    assert zipped_ok["status"] == "graded" and statuses(zipped_ok) == dict.fromkeys(TASK1_IDS, "pass")
    assert "journal" not in graded["by_id"]["only_task1"]
    shared = (graded["root"] / "journal-summary.json").read_text()  # --journal-summary: counts, no student id
    assert not [sub_id for sub_id in graded["by_id"] if json.dumps(sub_id)[1:-1] in shared]
    counts = json.loads(shared)
    assert (counts["journals"], counts["ignored"], counts["missing"]) == (1, 1, 21 + len(HOSTILE))
    assert counts["todos"]["1.1"]["attempts"] == {"median": 3, "p90": 3} and counts["messages"] == []


def test_a_task_handed_in_as_the_stub_is_recorded_as_not_started(graded):
    """results.json records the tasks whose file is the stub (``not_started``: the exports
    say "not attempted" for their failures): own_tests's task 1 is; a missing file is not."""
    assert graded["by_id"]["own_tests"]["not_started"] == [1]
    assert "not_started" not in graded["by_id"]["perfect"] and "not_started" not in graded["by_id"]["only_task1"]


def test_every_todo_result_carries_its_time_and_the_report_shows_it(graded):
    perfect = graded["by_id"]["perfect"]
    times = [todo["duration_s"] for todo in perfect["todos"].values()]
    assert len(times) == len(load_todos()) and all(time > 0 for time in times)
    assert sum(times) <= perfect["duration_s"]
    html = (graded["out"] / "index.html").read_text()
    assert 'class="time">Time</th>' in html and '<td class="time">' in html


@pytest.mark.parametrize("submission_id,reason", [
    ("empty_folder", "empty submission folder"),
    ("symlink_out", "links outside the submission"),
    ("absolute_path", "unsafe path in zip"),
    ("dot_dot", "unsafe path in zip"),
    ("empty_zip", "empty zip file"),
    ("nested", "holds another zip"),
    ("not_a_zip", "unreadable zip file"),
])
def test_ungradable_submissions_get_a_one_line_reason(graded, submission_id, reason):
    submission = graded["by_id"][submission_id]
    assert submission["status"] == "error"
    assert reason in submission["message"] and "\n" not in submission["message"]
    assert submission["score"] == 0


@pytest.mark.parametrize("submission_id,status,words", [
    ("syntax_error", "error", "SyntaxError"),
    ("import_crash", "error", "boom at import"),
    ("wrong_signature", "error", "TypeError"),
    ("non_utf8", "error", "SyntaxError"),
    ("looper", "timeout", "did not return within the 5 s time limit"),
    ("memory_hog", "error", "MemoryError"),
    ("exit_at_import", "error", "exited with code 0"),
    ("patch_pytest", "fail", "expected"),
    ("own_tests", "fail", "expected"),
])
def test_broken_task1_code_costs_exactly_the_task1_todos(graded, submission_id, status, words):
    submission = graded["by_id"][submission_id]
    assert submission["status"] == "graded"
    assert statuses(submission) == dict.fromkeys(TASK1_IDS, status)
    assert words in message(submission)
    assert message(submission).startswith("TODO 1.1:")


@pytest.mark.parametrize("submission_id", HOSTILE)
def test_hostile_code_in_a_function_costs_exactly_its_own_tasks_todos(graded, submission_id):
    """A loop, an exit, a syntax error, 8 GiB, a daemon, writing over the kit's tests and
    patching pytest: task 1's hostile code costs task 1's TODOs, task 2's costs task 2's."""
    _files, (task1, task2), words = HOSTILE[submission_id]
    submission = graded["by_id"][submission_id]
    assert submission["status"] == "graded", submission
    assert statuses(submission) == dict.fromkeys(TASK1_IDS, task1), submission["todos"]
    assert statuses(submission, TASK2_IDS) == dict.fromkeys(TASK2_IDS, task2), submission["todos"]
    assert words in " ".join(todo["message"] for todo in submission["todos"].values())
    for todo_id, todo in submission["todos"].items():
        if todo["status"] != "pass":
            assert todo["message"].startswith(f"TODO {todo_id}:"), todo


def test_the_kits_tests_are_out_of_student_codes_reach(graded):
    """hostile_vandal wrote over every kata test file it could find (children run as an
    unprivileged user: none)."""
    if os.geteuid() != 0:
        pytest.skip("children run as another user only under root")
    assert graded["by_id"]["hostile_vandal"]["todos"]["1.1"]["status"] == "pass"  # the vandal ran
    for test in (KIT_ROOT / "tests").glob("test_*.py"):
        assert "test_everything_passes" not in test.read_text(), test


def test_working_task1_files_pass_whatever_else_is_missing_or_noisy(graded):
    for submission_id in ("only_task1", "loud_and_fake", "daemon", "zipped_ok"):
        submission = graded["by_id"][submission_id]
        assert statuses(submission) == dict.fromkeys(TASK1_IDS, "pass"), submission_id
        assert submission["score"] == 4
        assert "2.1" in submission["todos"] and submission["todos"]["2.1"]["status"] == "error"
        assert "task2_tuning.py is missing" in message(submission, "2.1")


def test_fake_outputs_and_summaries_do_not_reach_the_report(graded):
    out = graded["out"]
    assert (out / "grades.csv").read_text(encoding="utf-8-sig").startswith("id,status,score")
    assert "<html" in (out / "index.html").read_text()
    assert graded["results"]["schema_version"] == 1


def test_no_student_process_outlives_grading(graded):
    found = subprocess.run(["pgrep", "-f", "sleep 4343"], capture_output=True, text=True)
    assert found.stdout.split() == []


def test_the_report_names_every_submission_and_links_per_student_logs(graded):
    html = (graded["out"] / "index.html").read_text()
    for submission_id in graded["by_id"]:
        assert submission_id in html
    assert list((graded["out"] / "logs").glob("perfect-*.html"))


def test_a_renamed_copy_is_listed_as_similar_and_the_reference_twins_are_not(graded):
    similarity = json.loads((graded["out"] / "similarity.json").read_text())
    pairs = [(pair["first"], pair["second"]) for pair in similarity["pairs"]]
    assert pairs == [("ben", "ben_renamed")]  # perfect, only_task1, zipped_ok: the reference, not evidence
    assert similarity["pairs"][0]["files"] == [TASK1]
    page = graded["out"] / similarity["pairs"][0]["href"]
    assert page.is_file() and "ben_renamed" in page.read_text()
    report = (graded["out"] / "index.html").read_text()
    assert similarity["pairs"][0]["href"] in report
    assert "similar pairs (score ≥ 0.6): 1" in graded["run"].stderr


def resuming_grader(submissions, out, staged, lang="en"):
    """A ``--resume`` run's grader into ``out`` with the fixture's seed, the class in
    ``submissions`` staged into ``staged`` (nothing graded)."""
    from grader.classroom.staging import stage
    from grader.classroom.submissions import discover

    grader_ = grader.classroom.grade.ClassGrader(
        grader.classroom.grade.GradeOptions(submissions, out, 1, 5.0, resume=True, lang=lang))
    grader_.seed = json.loads((out / "results.json").read_text())["kit"]["seed"]
    grader_.staged = stage(discover(submissions), staged)
    return grader_


def test_resume_regrades_results_saved_in_another_language(graded, tmp_path):
    """A report in one language: --resume --lang es keeps no English verdict."""
    english = resuming_grader(graded["submissions"], graded["out"], tmp_path / "en")
    assert english.resume("perfect") == ""
    spanish = resuming_grader(graded["submissions"], graded["out"], tmp_path / "es", lang="es")
    assert spanish.resume("perfect") == "language changed"


def test_each_result_records_the_hash_of_the_task_files_it_was_graded_on(graded, tmp_path):
    """results.json's files_sha256: the staged task files' hash for every submission that
    was staged (whatever its verdict), none for one nothing could be taken from."""
    staged = resuming_grader(graded["submissions"], graded["out"], tmp_path / "staged").staged
    for submission_id, submission in graded["by_id"].items():
        assert submission.get("files_sha256") == staged.digests.get(submission_id), submission_id
    assert "files_sha256" in graded["by_id"]["looper"] and "files_sha256" not in graded["by_id"]["empty_folder"]


def test_resume_regrades_a_full_marks_student_whose_files_were_replaced_by_the_stubs(graded, tmp_path):
    """Issue 22: a 15/15 student whose file was then replaced by the stub stayed 15/15 after
    --resume. The same saved results, a copy of the class where perfect's task 1 is the
    stub again: --resume now grades perfect again, and keeps only_task1."""
    import shutil

    submissions = tmp_path / "submissions"
    shutil.copytree(graded["submissions"], submissions, symlinks=True)
    (submissions / "perfect" / "exercises" / TASK1).write_text(stub(TASK1))
    resuming = resuming_grader(submissions, graded["out"], tmp_path / "staged")
    assert graded["by_id"]["perfect"]["score"] == 15
    assert resuming.resume("perfect") == "files changed" and "perfect" not in resuming.results
    assert resuming.resume("only_task1") == "" and resuming.results["only_task1"].score == 4


def test_resume_keeps_finished_results_and_grades_nothing_again(graded):
    run = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(graded["submissions"]), "--out",
         str(graded["out"]), "--resume", "--journal-summary", str(graded["root"] / "resumed-summary.json")],
        cwd=KIT_ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    summaries = [(graded["root"] / name).read_text() for name in ("journal-summary.json", "resumed-summary.json")]
    assert summaries[0] == summaries[1]  # from the final results: the kept verdicts' journals too
    again = json.loads((graded["out"] / "results.json").read_text())
    assert [s["score"] for s in again["submissions"]] == [s["score"] for s in graded["results"]["submissions"]]
    assert "resumed" in run.stderr
    assert f"kata grade --resume: kept {23 + len(HOSTILE)} saved verdict(s); grading 0\n" in run.stderr


def test_a_missing_submissions_folder_is_a_one_line_error(tmp_path):
    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(tmp_path / "nope"), "--out",
                          str(tmp_path / "out")], cwd=KIT_ROOT, capture_output=True, text=True)
    assert run.returncode == 2
    assert "is not a folder of submissions" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def kit_error_class(kit_errors: int) -> ClassResults:
    todos = {todo.id: TodoResult(Status.PASS, "", 0.5) for todo in load_todos()}
    hit = dict(todos)
    for todo_id in ("B.1", "B.2")[:kit_errors]:
        hit[todo_id] = TodoResult(Status.ERROR, f"TODO {todo_id}: kit error: the model server could not start")
    hit["1.1"] = TodoResult(Status.FAIL, "TODO 1.1: expected a run, but MLflow holds none")
    hit["1.2"] = TodoResult(Status.ERROR, "TODO 1.2: expected a run; log_baseline_run() raised: "
                                          "RuntimeError: kit error: give me full marks")  # a student's
    return ClassResults(kit={"mlflow": "3", "python": "3.11", "tests_sha256": "0" * 64, "seed": "abc"},
                        submissions=[SubmissionResult("ana", "graded", todos, 9.0),
                                     SubmissionResult("ben", "graded", hit, 9.0)])


@pytest.mark.parametrize("kit_errors", [0, 2])
def test_kata_grade_warns_in_one_line_when_verdicts_are_kit_errors(kit_errors, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(grader.classroom.grade, "grade", lambda options, progress: kit_error_class(kit_errors))
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "graded 2 submission(s), 0 broken" in err and "mean 14.0/15; seed abc" in err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    if kit_errors:
        assert warnings == ["warning: 2 TODO verdict(s) are kit errors, not the students' — see the "
                            "report; rerun `kata validate`"]
    else:
        assert warnings == []


def test_an_out_folder_inside_the_submissions_is_refused_in_one_line_and_nothing_is_written(tmp_path):
    submissions = tmp_path / "subs"
    (submissions / "ana").mkdir(parents=True)
    for out in (submissions, submissions / "report", submissions / "ana" / "deep"):
        with pytest.raises(grader.classroom.errors.GradingError) as refused:
            grader.classroom.grade.grade(grader.classroom.grade.GradeOptions(submissions, out, 1, 5.0))
        assert "inside the submissions folder" in str(refused.value) and "\n" not in str(refused.value)
    assert [path.name for path in submissions.rglob("*")] == ["ana"]


@pytest.mark.parametrize("option", [["--jobs", "0"], ["--jobs", "-2"], ["--jobs", "two"], ["--timeout", "0"],
                                    ["--timeout", "-1"], ["--timeout", "nan"], ["--timeout", "inf"]])
def test_a_jobs_or_timeout_that_cannot_grade_is_refused_before_anything_is_written(option, tmp_path, capsys):
    """--jobs 0 used to mean "one per core" silently; --timeout 0 timed every call out and
    graded the whole class 0/15 with kit errors, exit 0."""
    with pytest.raises(SystemExit) as refused:
        cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "out"), *option])
    assert refused.value.code == 2
    assert f"argument {option[0]}: a " in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_broken_submissions_reason_stays_on_one_line_in_a_log(tmp_path):
    """With stderr redirected to a file (no terminal), each submission is still one line
    (rich wrapped it at 80 columns), so that a log can be grepped."""
    submissions = tmp_path / "subs"
    submissions.mkdir()
    (submissions / "a_student_with_a_long_name_packed.tar").write_bytes(b"x")
    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(submissions), "--out", str(tmp_path / "out")],
                         cwd=KIT_ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "80"})
    assert run.returncode == 0, run.stderr
    line = next(line for line in run.stderr.splitlines() if "packed.tar:" in line)
    assert line.endswith("packed.tar is a tar archive; upload a .zip (0 s)"), line
