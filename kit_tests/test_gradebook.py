"""``kata export canvas|moodle|junit``: each file checked against what its consumer
documents or does, not against our own writer. Hand-made results.json files, no grading.

* Canvas gradebook import: https://community.canvaslms.com/t5/Instructor-Guide/How-do-I-import-grades-in-the-Gradebook/ta-p/807
  (the required columns Student Name, Student ID, SIS User ID, SIS Login ID, Section and
  the assignment, also at https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/import-csv-file-carmen-grades),
  and Canvas's importer itself (instructure/canvas-lms, app/models/gradebook_importer.rb):
  ``canvas_importer_reads`` below repeats its header, ``Points Possible`` and student
  lookup rules.
* Moodle assignment "Upload grading worksheet": Moodle's importer
  (moodle/moodle, mod/assign/feedback/offline/importgradeslib.php) finds the columns
  ``Identifier``, ``Grade`` and ``Last modified (grade)`` by name and strips
  ``Participant `` from the identifier; ``moodle_importer_reads`` repeats it. Why not
  ``grades.csv`` into the gradebook: https://docs.moodle.org/en/Grade_import maps a user
  field (email, ID number, username) to a column, which a download folder's name is not.
* Moodle feedback: the worksheet's comments column (``Feedback comments`` on an English
  site) is read by the same importer, by name, for every row whether or not its grade
  changed, and stored as HTML; "Upload multiple feedback files in a zip" finds each
  student by the participant number after the first ``_`` of a path part
  (``moodle_zip_importer_reads`` repeats it).
* JUnit XML: parsed with junitparser (https://pypi.org/project/junitparser/), xunitparser
  and junit2html's reader.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import replace
from xml.etree import ElementTree

import jsonschema
import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from grader.cli.main import main
from grader.reports.class_files import write_results_json
from grader.platforms.roster import name_key, unmatched_path
from grader.results.codec import ResultsError, load as load_results, validate
from grader.core.paths import KIT_ROOT
from grader.results.model import ClassResults, Status, SubmissionResult, TodoResult
from grader.lab.todos import load_todos
from report_samples import BROKEN_REASON, KIT, all_todos

SCHEMA = json.loads((KIT_ROOT / "grader" / "results" / "results.schema.json").read_text())
TODOS = load_todos()
CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def scored(n_failed: int) -> dict[str, TodoResult]:
    """Every TODO passed but the first ``n_failed`` (non-bonus) ones."""
    todos = all_todos("pass")
    for todo in [t for t in TODOS if not t.bonus][:n_failed]:
        todos[todo.id] = TodoResult(Status.FAIL, f"TODO {todo.id}: expected x, but MLflow holds y")
    return todos


def write_class(tmp_path, submissions: list[SubmissionResult]):
    folder = tmp_path / "graded"
    write_results_json(ClassResults(kit={**KIT, "seed": "5eed"}, submissions=submissions), folder)
    return folder / "results.json"


def read_csv(path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))


# --- Canvas --------------------------------------------------------------------------

CANVAS_ROSTER = [  # Canvas's own gradebook export: names "Last, First", read-only columns
    ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Quiz 1 (2001)", "Current Score", "Final Score"],
    ["    Points Possible", "", "", "", "", "10.00", "(read only)", "(read only)"],
    ["Doe, Jane", "11", "S-1001", "jdoe@uni.example", "MLOps A", "9.00", "90.00", "90.00"],
    ["Smith, Bob", "340934", "S-1002", "bsmith", "MLOps A", "", "", ""],
    ["López, Ana", "13", "S-1003", "alopez", "MLOps B", "7.00", "70.00", "70.00"],
    ["Roe, Rick", "14", "S-1004", "rroe", "MLOps B", "", "", ""],
    ["Kim, Lee", "15", "S-1005", "lkim1", "MLOps A", "", "", ""],
    ["Kim, Lee", "16", "S-1006", "lkim2", "MLOps B", "", "", ""],
    ["Absent, Amy", "17", "S-1007", "aabsent", "MLOps A", "", "", ""],
    ["Broken, Carl", "18", "S-1008", "cbroken", "MLOps A", "", "", ""],
    ["Student, Test", "19", "", "", "MLOps A", "", "", ""],
]


def canvas_class() -> list[SubmissionResult]:
    return [
        SubmissionResult("jdoe", "graded", scored(0), 10.0),  # SIS Login ID's part before @
        SubmissionResult("smithbob_340934_208490284_lab", "graded", scored(3), 10.0),  # Canvas download
        SubmissionResult("Ana López", "graded", scored(5), 10.0),  # name, accents and order ignored
        SubmissionResult("S-1004", "graded", scored(15), 10.0),  # SIS User ID
        SubmissionResult("lee_kim", "graded", scored(1), 10.0),  # two students of that name
        SubmissionResult("ghost", "graded", scored(2), 10.0),  # nobody
        SubmissionResult("cbroken", "error", {}, 0.1, message=BROKEN_REASON),
    ]


@pytest.fixture
def canvas_files(tmp_path):
    roster = tmp_path / "canvas_export.csv"
    with open(roster, "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(CANVAS_ROSTER)
    return write_class(tmp_path, canvas_class()), roster, tmp_path / "out" / "canvas_import.csv"


def canvas_importer_reads(rows: list[list[str]]) -> dict:
    """What Canvas's GradebookImporter takes from a CSV: it refuses a header unless
    row[0] holds "Student" and row[1] "ID", with "SIS User ID" + "SIS Login ID" next and
    "Section" as the last student column; a row whose first cell holds "Points Possible"
    sets the assignments' points; every other row is a student, found by ID, then SIS
    User ID, then SIS Login ID, then name. A blank or "-" grade is no change."""
    header = rows[0]
    assert len(header) > 3 and "Student" in header[0] and "ID" in header[1], "Invalid header row"
    assert re.search(r"SIS\s+User\s+ID", header[2]) and re.search(r"SIS\s+Login\s+ID", header[3])
    student_columns = 5
    assert "Section" in header[student_columns - 1], "Invalid header row"
    assignments = header[student_columns:]
    points, students = {}, {}
    for row in rows[1:]:
        if "Points Possible" in row[0]:
            points = dict(zip(assignments, row[student_columns:]))
            continue
        key = row[1] or row[2] or row[3] or row[0]
        students[key] = {a: g for a, g in zip(assignments, row[student_columns:]) if g.strip() not in ("", "-")}
    return {"assignments": assignments, "points": points, "students": students}


def test_canvas_import_has_canvas_header_and_points_possible_first(canvas_files, capsys):
    results, roster, out = canvas_files
    assert main(["export", "canvas", str(results), "--roster", str(roster), "--out", str(out)]) == 1
    rows = read_csv(out)
    assert rows[0] == [*CANVAS_HEADER, "MLflow kata"]
    assert rows[1] == ["Points Possible", "", "", "", "", "15"]
    assert [row[:5] for row in rows[2:]] == [row[:5] for row in CANVAS_ROSTER[2:]]  # every student, as exported
    assert out.read_bytes().startswith(b"\xef\xbb\xbf") and b"\r\n" in out.read_bytes()
    canvas = canvas_importer_reads(rows)
    assert canvas["assignments"] == ["MLflow kata"] and canvas["points"] == {"MLflow kata": "15"}
    grades = {key: grade.get("MLflow kata") for key, grade in canvas["students"].items()}
    assert grades == {"11": "15", "340934": "12", "13": "10", "14": "0", "15": None, "16": None,
                      "17": None, "18": None, "19": None}  # no submission, no single match or broken: empty


def test_canvas_unmatched_submissions_are_listed_never_dropped(canvas_files, capsys):
    results, roster, out = canvas_files
    assert main(["export", "canvas", str(results), "--roster", str(roster), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "unmatched: 'ghost': no roster row matches" in err
    assert "unmatched: 'lee_kim': ambiguous: matches Kim, Lee (ID 15); Kim, Lee (ID 16)" in err
    assert "4 grade(s)" in err and "2 unmatched, 1 left blank" in err
    sidecar = read_csv(unmatched_path(out))
    assert sidecar[0] == ["id", "status", "score", "max_score", "reason", "roster_row"]
    assert [row[:4] for row in sidecar[1:]] == [["lee_kim", "graded", "14", "15"], ["ghost", "graded", "13", "15"],
                                                ["cbroken", "error", "0", "15"]]
    # every submission is either graded in the import or listed in the sidecar
    assert len(canvas_class()) == 4 + len(sidecar) - 1


def test_canvas_broken_submission_is_left_blank_and_listed_with_its_reason(canvas_files, capsys):
    """Nothing gradable is no grade: a 0 would look like one (issue 22: a student with a
    perfect second zip got 0 from her broken first one)."""
    results, roster, out = canvas_files
    assert main(["export", "canvas", str(results), "--roster", str(roster), "--out", str(out)]) == 1
    carl = next(row for row in read_csv(out)[2:] if row[1] == "18")
    assert carl[5] == ""
    err = capsys.readouterr().err
    reason = f"nothing gradable: {BROKEN_REASON} (--broken-as-zero writes 0)"
    assert f"left blank: 'cbroken' (Broken, Carl (ID 18)): {reason}\n" in err
    sidecar = {row[0]: row for row in read_csv(unmatched_path(out))[1:]}
    assert sidecar["cbroken"][4:] == [f"left blank: {reason}", "Broken, Carl (ID 18)"]


def test_canvas_broken_as_zero_writes_0_on_purpose_and_says_so(canvas_files, capsys):
    results, roster, out = canvas_files
    assert main(["export", "canvas", str(results), "--roster", str(roster), "--out", str(out),
                 "--broken-as-zero", "--points", "10"]) == 1  # ghost and lee_kim are still unmatched
    carl = next(row for row in read_csv(out)[2:] if row[1] == "18")
    assert carl[5] == "0"
    err = capsys.readouterr().err
    assert f"note: 'cbroken' → Broken, Carl (ID 18): 0 (--broken-as-zero), nothing gradable: {BROKEN_REASON}" in err
    assert "left blank" not in err and "cbroken" not in unmatched_path(out).read_text(encoding="utf-8-sig")


def test_canvas_two_submissions_for_one_student_are_both_listed(tmp_path, canvas_files, capsys):
    _, roster, out = canvas_files
    results = write_class(tmp_path, [SubmissionResult("jdoe", "graded", scored(0), 1.0),
                                     SubmissionResult("S-1001", "graded", scored(4), 1.0)])
    assert main(["export", "canvas", str(results), "--roster", str(roster), "--out", str(out)]) == 1
    assert all(row[5] == "" for row in read_csv(out)[2:])
    reasons = [row[4] for row in read_csv(unmatched_path(out))[1:]]
    assert reasons == ["Doe, Jane (ID 11) is also matched by S-1001", "Doe, Jane (ID 11) is also matched by jdoe"]


def test_canvas_assignment_name_and_points_rescale(canvas_files, capsys):
    results, roster, out = canvas_files
    assert main(["export", "canvas", str(results), "--roster", str(roster), "--out", str(out),
                 "--assignment", "Lab MLflow (4242)", "--points", "10"]) == 1
    rows = read_csv(out)
    assert rows[0][5] == "Lab MLflow (4242)" and rows[1][5] == "10"
    assert [row[5] for row in rows[2:6]] == ["10", "8", "6.67", "0"]


def test_canvas_fills_the_rosters_own_mlflow_kata_column_and_notes_a_new_one(tmp_path, canvas_files, capsys):
    """Without --assignment, the roster's "MLflow kata (123456)" column is the one filled
    (the existing assignment: Canvas updates it); a name the roster lacks is said to make a
    new assignment, naming a column to use instead (it did so without a word)."""
    results, roster, out = canvas_files
    main(["export", "canvas", str(results), "--roster", str(roster), "--out", str(out)])
    said = " ".join(capsys.readouterr().err.split())
    assert "no assignment column 'MLflow kata': Canvas will import it as a new assignment" in said
    assert "e.g. --assignment 'Quiz 1 (2001)'" in said
    rows = [row[:5] + ["MLflow kata (123456)"] + row[5:] for row in CANVAS_ROSTER]
    with open(roster, "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)
    main(["export", "canvas", str(results), "--roster", str(roster), "--out", str(out)])
    assert "new assignment" not in capsys.readouterr().err
    assert read_csv(out)[0] == [*CANVAS_HEADER, "MLflow kata (123456)"]


def test_canvas_all_matched_exits_0_and_removes_a_stale_sidecar(tmp_path, canvas_files, capsys):
    _, roster, out = canvas_files
    out.parent.mkdir()
    unmatched_path(out).write_text("stale")
    results = write_class(tmp_path, [SubmissionResult("rroe", "graded", scored(0), 1.0)])
    assert main(["export", "canvas", str(results), "--roster", str(roster), "--out", str(out)]) == 0
    assert not unmatched_path(out).exists()


def test_canvas_comments_go_beside_the_import_one_per_matched_student(tmp_path, canvas_files, capsys):
    """Canvas's import takes no comments: ``--comments`` writes each matched student's
    summary (in ``--lang``) beside it, with the identity columns Canvas knows them by; a
    task handed in as the stub is "not started", a broken upload gets its reason, an
    unmatched submission nothing."""
    _, roster, out = canvas_files
    idle = SubmissionResult("Ana López", "graded", scored(5), 1.0, not_started=(1,))  # 1.1-1.4 the stub's
    results = write_class(tmp_path, [SubmissionResult("jdoe", "graded", scored(0), 1.0), idle,
                                     SubmissionResult("ghost", "graded", scored(2), 1.0),
                                     SubmissionResult("cbroken", "error", {}, 0.1, message=BROKEN_REASON)])
    assert main(["export", "canvas", str(results), "--roster", str(roster), "--out", str(out)]) == 1
    assert not out.with_name("canvas_import.comments.csv").exists()  # only when asked for
    assert main(["export", "canvas", str(results), "--roster", str(roster), "--out", str(out),
                 "--comments", "--lang", "es"]) == 1
    comments = out.with_name("canvas_import.comments.csv")
    assert f"the comments of 3 student(s) (1 with a task not started: 'not attempted') → {comments}" in \
        capsys.readouterr().err
    rows = read_csv(comments)
    assert rows[0] == [*CANVAS_HEADER, "Submission", "Comment"]
    assert [row[:6] for row in rows[1:]] == [[*CANVAS_ROSTER[2][:5], "jdoe"], [*CANVAS_ROSTER[4][:5], "Ana López"],
                                             [*CANVAS_ROSTER[9][:5], "cbroken"]]
    assert rows[1][6].startswith("MLflow kata: 15/15 puntos.")
    assert ("Aún no pasan: 2.1. Aún sin empezar (tal como venían en el kit): exercises/task1_baseline.py. "
            "Empieza por el TODO 1.1") in rows[2][6]
    assert BROKEN_REASON in rows[3][6] and "/15" not in rows[3][6]
    assert comments.read_bytes().startswith(b"\xef\xbb\xbf")


def test_canvas_roster_that_is_not_a_canvas_export_is_refused(tmp_path, canvas_files, capsys):
    results, _, out = canvas_files
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email\nJane,jdoe@uni.example\n")
    assert main(["export", "canvas", str(results), "--roster", str(roster), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "not a Canvas gradebook export: no column Student, ID" in err
    assert not out.exists()


# GitHub Classroom's roster export (Students → Download): quoted, a student who has not
# linked a GitHub account yet has an empty github_username
GITHUB_ROSTER = """"identifier","github_username","github_id","name"
"jdoe@uni.example","JaneD-gh","1001","Jane"
"S-1002","bobsmith","1002",""
"Ana López","ana-l","1003","Ana"
"S-1004","rick","1004","Rick"
"S-1005","kata-rick","1005",""
"Amy Absent","","",""
"Z-999","zed","1009",""
"""


def classroom_class() -> list[SubmissionResult]:
    """``gh classroom clone student-repos`` folders: <assignment slug>-<GitHub user>."""
    return [
        SubmissionResult("mlflow-kata-JaneD-gh", "graded", scored(0), 1.0),  # identifier: an e-mail address
        SubmissionResult("mlflow-kata-bobsmith-1", "graded", scored(3), 1.0),  # Classroom made the name unique
        SubmissionResult("mlflow-kata-ana-l-main", "graded", scored(5), 1.0),  # a repository zip: <repo>-<branch>
        SubmissionResult("mlflow-kata-rick", "graded", scored(15), 1.0),  # rick or kata-rick: the class's prefix says
        SubmissionResult("mlflow-kata-zed", "graded", scored(1), 1.0),  # on GitHub's roster, not in the course's
        SubmissionResult("mlflow-kata-stranger", "graded", scored(1), 1.0),  # on neither
    ]


@pytest.fixture
def classroom_files(tmp_path, canvas_files):
    _, roster, out = canvas_files
    github = tmp_path / "classroom_roster.csv"
    github.write_text(GITHUB_ROSTER, encoding="utf-8")
    return write_class(tmp_path, classroom_class()), roster, out, github


def test_github_classroom_clones_match_through_the_github_roster(classroom_files, capsys):
    results, roster, out, github = classroom_files
    assert main(["export", "canvas", str(results), "--roster", str(roster), "--out", str(out),
                 "--github-roster", str(github)]) == 1
    grades = {key: grade.get("MLflow kata") for key, grade in canvas_importer_reads(read_csv(out))["students"].items()}
    assert {key: grade for key, grade in grades.items() if grade} == {"11": "15", "340934": "12", "13": "10", "14": "0"}
    err = capsys.readouterr().err
    assert f"unmatched: 'mlflow-kata-zed': no roster row matches (GitHub user 'zed' is 'Z-999' in {github})" in err
    assert f"unmatched: 'mlflow-kata-stranger': no roster row matches, and no GitHub user of {github} fits" in err
    assert "4 grade(s)" in err and "2 unmatched" in err


def test_github_classroom_clones_without_the_github_roster_say_what_would_match_them(classroom_files, capsys):
    results, roster, out, _ = classroom_files
    assert main(["export", "canvas", str(results), "--roster", str(roster), "--out", str(out)]) == 1
    assert all(row[5] == "" for row in read_csv(out)[2:])
    reasons = {row[4] for row in read_csv(unmatched_path(out))[1:]}
    assert reasons == {"no roster row matches (a GitHub Classroom clone? --github-roster FILE maps GitHub users "
                       "to students)"}


def test_a_name_two_github_users_fit_equally_is_not_guessed(tmp_path, canvas_files, capsys):
    _, roster, out = canvas_files
    github = tmp_path / "classroom_roster.csv"
    github.write_text(GITHUB_ROSTER, encoding="utf-8")
    results = write_class(tmp_path, [SubmissionResult("mlflow-kata-rick", "graded", scored(0), 1.0)])
    assert main(["export", "canvas", str(results), "--roster", str(roster), "--out", str(out),
                 "--github-roster", str(github)]) == 1  # one clone: no class-wide prefix to go by
    assert (f"'mlflow-kata-rick': no roster row matches: its name fits GitHub users 'kata-rick', 'rick' of {github}"
            in capsys.readouterr().err)


@pytest.mark.parametrize("content, reason", [
    ("name,email\nJane,jdoe@uni.example\n", "not a GitHub Classroom roster: no column identifier, github_username"),
    ('"identifier","github_username","github_id","name"\n"S-1","","",""\n', "no student in it has a GitHub username"),
    ('"identifier","github_username"\n"S-1","octo"\n"S-2","Octo"\n', "GitHub user 'Octo' is on two rows ('S-1' and"),
])
def test_a_github_roster_that_is_not_one_is_refused_in_one_line(tmp_path, canvas_files, capsys, content, reason):
    results, roster, out = canvas_files
    github = tmp_path / "github.csv"
    github.write_text(content, encoding="utf-8")
    for fmt in ("canvas", "moodle"):
        assert main(["export", fmt, str(results), "--roster", str(roster), "--out", str(out),
                     "--github-roster", str(github)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and reason in err and not out.exists()


def test_name_key_drops_accents_case_and_punctuation():
    assert name_key("López, Ana") == "lopezana" and name_key("Ana_LÓPEZ") == "analopez"


# --- Moodle --------------------------------------------------------------------------

WORKSHEET_EN = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
                "Feedback comments"]
WORKSHEET_ES = ["Identificador", "Nombre completo", "Dirección de correo", "Estado", "Calificación",
                "Calificación máxima", "La calificación puede ser cambiada",
                "Última modificación (entrega)", "Última modificación (calificación)",
                "Comentarios de retroalimentación"]


def worksheet(header: list[str], participant: str, maximum: str = "15.00") -> list[list[str]]:
    """A worksheet as Moodle writes it: the assignment's maximum grade in the column
    right after the grade (``grademax``: "Maximum grade"; a scale's items for a scale)."""
    rows = [header]
    for number, name, email in (("123456", "Ana López", "ana@uni.example"), ("123457", "Bob Smith", "bob@uni.example"),
                                ("123458", "Amy Absent", "amy@uni.example")):
        rows.append([f"{participant} {number}", name, email, "Submitted for grading", "", maximum, "Yes",
                     "Monday, 3 March 2025, 10:00 AM", "-", ""])
    return rows


def moodle_importer_reads(rows: list[list[str]], grade="Grade", identifier="Identifier",
                          modified="Last modified (grade)", participant="Participant ",
                          maximum: float = 15) -> dict[int, str]:
    """Moodle's assignfeedback_offline_grade_importer: columns found by their exact
    (localised) names, all three required; the identifier minus "Participant " is the
    participant number; an empty grade is skipped, and so, without a word, is a grade
    above the assignment's maximum (mod/assign/feedback/offline/locallib.php: "Out of
    range")."""
    columns = rows[0]
    assert identifier in columns and grade in columns and modified in columns, "invalidgradeimport"
    at_id, at_grade = columns.index(identifier), columns.index(grade)
    grades = {}
    for row in rows[1:]:
        number = int(row[at_id][len(participant):])
        if row[at_grade] != "" and 0 <= float(row[at_grade]) <= maximum:
            grades[number] = row[at_grade]
    return grades


def moodle_class() -> list[SubmissionResult]:
    return [SubmissionResult("Ana López_123456_assignsubmission_file_", "graded", scored(2), 5.0),
            SubmissionResult("bob@uni.example", "graded", scored(15), 5.0),
            SubmissionResult("Zed Nobody_999_assignsubmission_file_", "graded", scored(0), 5.0)]


def test_moodle_worksheet_gets_grades_where_moodle_reads_them(tmp_path, capsys):
    roster = tmp_path / "worksheet.csv"
    roster.write_text(_csv(worksheet(WORKSHEET_EN, "Participant")), encoding="utf-8")
    out = tmp_path / "upload.csv"
    results = write_class(tmp_path, moodle_class())
    assert main(["export", "moodle", str(results), "--roster", str(roster), "--out", str(out)]) == 1
    rows = read_csv(out)
    assert rows[0] == WORKSHEET_EN and len(rows) == 4
    assert moodle_importer_reads(rows) == {123456: "13", 123457: "0"}
    original = worksheet(WORKSHEET_EN, "Participant")
    for row, before in zip(rows[1:], original[1:]):  # only the grade cell changes
        assert row[:4] + row[5:] == before[:4] + before[5:]
    assert not out.read_bytes().startswith(b"\xef\xbb\xbf")  # as the worksheet came
    assert "unmatched: 'Zed Nobody_999_assignsubmission_file_': no roster row matches" in capsys.readouterr().err


def test_moodle_worksheet_in_spanish_with_rescaled_points(tmp_path, capsys):
    roster = tmp_path / "hoja.csv"
    roster.write_text(_csv(worksheet(WORKSHEET_ES, "Participante", "100,00")), encoding="utf-8-sig")
    out = tmp_path / "subir.csv"
    results = write_class(tmp_path, moodle_class()[:2])
    assert main(["export", "moodle", str(results), "--roster", str(roster), "--out", str(out),
                 "--grade-column", "Calificación", "--points", "100"]) == 0
    rows = read_csv(out)
    assert moodle_importer_reads(rows, "Calificación", "Identificador", "Última modificación (calificación)",
                                 "Participante ", maximum=100) == {123456: "86.67", 123457: "0"}


def test_moodle_grades_are_out_of_the_worksheets_maximum_and_it_says_so(tmp_path, capsys):
    """A 10-point assignment: 13/15 is written 8.67, never 13 (which Moodle's importer
    would skip without a word, leaving the student ungraded)."""
    roster = tmp_path / "worksheet.csv"
    roster.write_text(_csv(worksheet(WORKSHEET_EN, "Participant", "10.00")), encoding="utf-8")
    out = tmp_path / "upload.csv"
    results = write_class(tmp_path, [*moodle_class()[:2], SubmissionResult("amy@uni.example", "graded", scored(0), 1.0)])
    assert main(["export", "moodle", str(results), "--roster", str(roster), "--out", str(out)]) == 0
    rows = read_csv(out)
    assert [row[4] for row in rows[1:]] == ["8.67", "0", "10"]
    assert moodle_importer_reads(rows, maximum=10) == {123456: "8.67", 123457: "0", 123458: "10"}
    err = capsys.readouterr().err
    assert "note: grades out of 10, the worksheet's maximum grade (scores out of 15 scaled to it)\n" in err
    assert main(["export", "moodle", str(results), "--roster", str(roster), "--out", str(out), "--points", "10"]) == 0


@pytest.mark.parametrize("maximum, points, reason", [
    ("15.00", "100", "--points 100 disagrees with the worksheet's maximum grade 15 ('Maximum Grade')"),
    ("Poor\nGood\nExcellent", None, "the column after the grade, 'Maximum Grade', holds 'Poor, Good, Excellent' "
                                      "where Moodle writes the assignment's maximum grade"),
])
def test_moodle_points_that_disagree_with_the_worksheet_or_a_scale_are_refused(tmp_path, capsys, maximum, points,
                                                                                reason):
    roster = tmp_path / "worksheet.csv"
    roster.write_text(_csv(worksheet(WORKSHEET_EN, "Participant", maximum)), encoding="utf-8")
    out = tmp_path / "out" / "upload.csv"
    results = write_class(tmp_path, moodle_class())
    assert main(["export", "moodle", str(results), "--roster", str(roster), "--out", str(out),
                 *(["--points", points] if points else [])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and reason in err and not out.parent.exists()


def moodle_download_class(first: str, second: str) -> list[SubmissionResult]:
    """Ana uploaded two zips (Moodle's download names both with her participant number);
    ``first``/``second`` say which are broken."""
    subs = []
    for name, status in (("first", first), ("second", second)):
        sub_id = f"Ana López_123456_assignsubmission_file_{name}"
        if status == "error":
            subs.append(SubmissionResult(sub_id, "error", {}, 0.1, message=f"{name}.zip: not a zip file"))
        else:
            subs.append(SubmissionResult(sub_id, "graded", scored(0), 5.0))
    return [*subs, SubmissionResult("bob@uni.example", "graded", scored(15), 5.0)]


@pytest.mark.parametrize("first, second", [("error", "graded"), ("graded", "error")])
@pytest.mark.parametrize("zero", [False, True])
def test_moodle_a_students_graded_submission_wins_over_her_broken_one(tmp_path, capsys, first, second, zero):
    roster = tmp_path / "worksheet.csv"
    roster.write_text(_csv(worksheet(WORKSHEET_EN, "Participant")), encoding="utf-8")
    out = tmp_path / "upload.csv"
    results = write_class(tmp_path, moodle_download_class(first, second))
    assert main(["export", "moodle", str(results), "--roster", str(roster), "--out", str(out),
                 *(["--broken-as-zero"] if zero else [])]) == 0
    assert moodle_importer_reads(read_csv(out)) == {123456: "15", 123457: "0"}
    good, bad = ("first", "second") if first == "graded" else ("second", "first")
    prefix = "Ana López_123456_assignsubmission_file_"
    err = capsys.readouterr().err
    assert (f"note: Ana López (Participant 123456): 2 submissions; used '{prefix}{good}' (graded), "
            f"not '{prefix}{bad}'\n") in err
    assert (f"not used: '{prefix}{bad}': nothing gradable ({bad}.zip: not a zip file); Ana López (Participant "
            f"123456) takes '{prefix}{good}' (graded)\n") in err
    sidecar = read_csv(unmatched_path(out))[1:]
    assert [(row[0], row[1], row[5]) for row in sidecar] == [(prefix + bad, "error", "Ana López (Participant 123456)")]
    assert sidecar[0][4].startswith("not used: nothing gradable")


@pytest.mark.parametrize("zero, grade, code", [(False, None, 1), (True, "0", 0)])
def test_moodle_a_student_with_only_broken_submissions_is_left_blank_unless_zero(tmp_path, capsys, zero, grade, code):
    roster = tmp_path / "worksheet.csv"
    roster.write_text(_csv(worksheet(WORKSHEET_EN, "Participant")), encoding="utf-8")
    out = tmp_path / "upload.csv"
    results = write_class(tmp_path, moodle_download_class("error", "error"))
    assert main(["export", "moodle", str(results), "--roster", str(roster), "--out", str(out),
                 *(["--broken-as-zero"] if zero else [])]) == code
    assert moodle_importer_reads(read_csv(out)).get(123456) == grade
    kinds = [row[4].split(":")[0] for row in read_csv(unmatched_path(out))[1:]]
    assert kinds == (["not used"] if zero else ["left blank", "not used"])


def test_moodle_worksheet_without_the_grade_column_is_refused(tmp_path, capsys):
    roster = tmp_path / "hoja.csv"
    roster.write_text(_csv(worksheet(WORKSHEET_ES, "Participante")), encoding="utf-8")
    results = write_class(tmp_path, moodle_class())
    assert main(["export", "moodle", str(results), "--roster", str(roster), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "no 'Grade' column" in err and "--grade-column" in err and not (tmp_path / "o.csv").exists()


# --- Moodle: feedback back to students ------------------------------------------------


def moodle_feedback_class() -> list[SubmissionResult]:
    """Ana graded 13/15, Bob 0/15, Amy's zip broken (its reason holds markup), Zed matches no row."""
    return [*moodle_class()[:2], SubmissionResult("amy@uni.example", "error", {}, 0.1, message="a.zip: not a <zip> file"),
            moodle_class()[2]]


def moodle_zip_importer_reads(data: bytes, participants: set[int]) -> dict[int, dict[str, str]]:
    """Moodle's "Upload multiple feedback files in a zip" (its feedback-files zip importer):
    hidden files (``.``, ``~``) skipped; each path part split on ``_`` into at most 5
    pieces, and the first part of at least 4 pieces whose second piece is a participant
    number names the student (its 3rd and 4th pieces a plugin, its 5th and the parts after
    it the file's name). Returns {participant: {file name: text}}."""
    found: dict[int, dict[str, str]] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for entry in archive.infolist():
            parts = entry.filename.split("/")
            if entry.is_dir() or parts[-1].startswith((".", "~")):
                continue
            for at, part in enumerate(parts):
                pieces = part.split("_", 4)
                if len(pieces) >= 4 and pieces[1].isdigit() and int(pieces[1]) in participants:
                    assert "_".join(pieces[2:4]) in ("assignfeedback_file", "assignsubmission_file")
                    name = "/".join([*pieces[4:], *parts[at + 1:]]).strip("/")
                    found.setdefault(int(pieces[1]), {})[name] = archive.read(entry).decode("utf-8")
                    break
    return found


def moodle_comments_read(rows: list[list[str]], column="Feedback comments") -> dict[int, str]:
    """What Moodle's worksheet importer takes of the comments column (found by its
    localised name, read for every row whether or not its grade changes)."""
    at_id, at = rows[0].index(rows[0][0]), rows[0].index(column)
    return {int(row[at_id].split()[-1]): row[at] for row in rows[1:]}


def test_moodle_feedback_zip_gives_each_student_their_own_page(tmp_path, capsys):
    rows = worksheet(WORKSHEET_EN, "Participant")
    rows[2][1] = "Bob_Smith/Jr"  # Moodle's download drops the name's own "_"
    roster = tmp_path / "worksheet.csv"
    roster.write_text(_csv(rows), encoding="utf-8")
    out, archive = tmp_path / "upload.csv", tmp_path / "zips" / "feedback.zip"
    results = write_class(tmp_path, moodle_feedback_class())
    assert main(["export", "moodle", str(results), "--roster", str(roster), "--out", str(out),
                 "--feedback-zip", str(archive), "--lang", "es"]) == 1  # Zed unmatched, Amy's cell left blank
    assert moodle_importer_reads(read_csv(out)) == {123456: "13", 123457: "0"}  # the grades as without it
    names = zipfile.ZipFile(archive).namelist()
    assert names == ["Ana López_123456_assignfeedback_file/mlflow-kata-feedback.html",
                     "Bob SmithJr_123457_assignfeedback_file/mlflow-kata-feedback.html",
                     "Amy Absent_123458_assignfeedback_file/mlflow-kata-feedback.html"]
    pages = moodle_zip_importer_reads(archive.read_bytes(), {123456, 123457, 123458})
    assert sorted(pages) == [123456, 123457, 123458] and all(list(files) == ["mlflow-kata-feedback.html"]
                                                              for files in pages.values())
    ana, bob, amy = (pages[n]["mlflow-kata-feedback.html"] for n in (123456, 123457, 123458))
    assert '<html lang="es">' in ana and "13 de 15 puntos" in ana and "Ana López_123456" in ana
    assert "0 de 15 puntos" in bob and "bob@uni.example" in bob
    assert "No se pudo calificar lo que entregaste" in amy and "a.zip: not a &lt;zip&gt; file" in amy
    assert "de 15 puntos" not in amy  # a broken submission: no score at all
    for page, own in ((ana, "Ana"), (bob, "bob@"), (amy, "amy@")):  # each page only its own student's
        assert [who for who in ("Ana", "bob@", "amy@", "Zed") if who in page] == [own]
    err = capsys.readouterr().err
    assert f"feedback pages of 3 student(s) → {archive}" in err


def test_moodle_feedback_comments_fill_the_column_moodle_reads(tmp_path, capsys):
    rows = worksheet(WORKSHEET_EN, "Participant")
    rows[2][-1] = "Nice <b>report</b>"  # what the instructor wrote for Bob stays
    roster = tmp_path / "worksheet.csv"
    roster.write_text(_csv(rows), encoding="utf-8")
    out = tmp_path / "upload.csv"
    results = write_class(tmp_path, [*moodle_feedback_class()[:3]])
    assert main(["export", "moodle", str(results), "--roster", str(roster), "--out", str(out), "--feedback"]) == 1
    written = read_csv(out)
    assert moodle_importer_reads(written) == {123456: "13", 123457: "0"}  # Amy's grade left blank: no 0
    comments = moodle_comments_read(written)
    assert comments[123456] == ("MLflow kata: 13/15 points. Not passed yet: 1.1, 1.2. Start with TODO 1.1 — Run in "
                                "the named experiment. Bonus (not counted): 2/2. `kata check` shows every TODO and "
                                "your score.")
    assert comments[123457].startswith("Nice <b>report</b><br>\nMLflow kata: 0/15 points. Not passed yet: 1.1, 1.2,")
    assert comments[123458] == ("MLflow kata: What you handed in could not be graded: a.zip: not a &lt;zip&gt; file. "
                                "Hand in your exercises/ folder again and tell your instructor.")  # HTML to Moodle
    for row, before in zip(written[1:], rows[1:]):  # only the grade and the comments cells change
        assert row[:4] + row[5:-1] == before[:4] + before[5:-1]
    assert "note: 'Feedback comments': the summary of 3 student(s) (1 after what was already written there)" in \
        capsys.readouterr().err
    again = tmp_path / "again.csv"  # the uploaded worksheet, downloaded and exported again: no summary twice
    assert main(["export", "moodle", str(results), "--roster", str(out), "--out", str(again), "--feedback"]) == 1
    assert moodle_comments_read(read_csv(again)) == comments


def test_moodle_feedback_comments_on_a_spanish_site(tmp_path, capsys):
    roster = tmp_path / "hoja.csv"
    roster.write_text(_csv(worksheet(WORKSHEET_ES, "Participante")), encoding="utf-8-sig")
    out = tmp_path / "subir.csv"
    ana, bob = moodle_class()[:2]
    results = write_class(tmp_path, [ana, replace(bob, not_started=(2, 3, 4))])  # 2-4 handed in as the stubs
    assert main(["export", "moodle", str(results), "--roster", str(roster), "--out", str(out), "--grade-column",
                 "Calificación", "--feedback-column", "Comentarios de retroalimentación", "--lang", "es"]) == 0
    comments = moodle_comments_read(read_csv(out), "Comentarios de retroalimentación")
    assert comments[123456].startswith("MLflow kata: 13/15 puntos. Aún no pasan: 1.1, 1.2. Empieza por el TODO 1.1")
    assert comments[123457].startswith(
        "MLflow kata: 0/15 puntos. Aún no pasan: 1.1, 1.2, 1.3, 1.4. Aún sin empezar (tal como venían en el kit): "
        "exercises/task2_tuning.py, exercises/task3_compare.py, exercises/task4_registry.py. Empieza por el TODO 1.1")
    assert comments[123458] == ""  # Amy handed nothing in: her cell as it came
    assert "the summary of 2 student(s); 1 of them with a task not started ('not attempted')" in \
        capsys.readouterr().err


def test_moodle_feedback_without_the_comments_column_is_refused_and_nothing_written(tmp_path, capsys):
    header = [column for column in WORKSHEET_EN if column != "Feedback comments"]
    roster = tmp_path / "worksheet.csv"
    roster.write_text(_csv([row[:-1] for row in worksheet(WORKSHEET_EN, "Participant")]), encoding="utf-8")
    assert read_csv(roster)[0] == header
    out, archive = tmp_path / "out" / "upload.csv", tmp_path / "out" / "feedback.zip"
    results = write_class(tmp_path, moodle_class())
    assert main(["export", "moodle", str(results), "--roster", str(roster), "--out", str(out), "--feedback",
                 "--feedback-zip", str(archive)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no 'Feedback comments' column" in err and "Feedback comments' feedback type" in err
    assert not out.parent.exists()
    assert main(["export", "moodle", str(results), "--roster", str(roster), "--out", str(out),
                 "--feedback-column", "Grade"]) == 2
    assert "--feedback-column 'Grade' is the worksheet's identifier, name, grade or maximum grade" in \
        capsys.readouterr().err
    assert not out.parent.exists()


def _csv(rows) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


# --- JUnit XML -----------------------------------------------------------------------


def junit_export(tmp_path):
    """A class with every kind of TODO verdict and a broken submission, as JUnit XML."""
    ana = {todo.id: TodoResult(Status.PASS, "", 0.25) for todo in TODOS}
    ana["2.1"] = TodoResult(Status.FAIL, "TODO 2.1: expected 3 runs, but MLflow holds 0\n  detail \x1b[31m", 1.5)
    ana["3.2"] = TodoResult(Status.ERROR, "ImportError: cannot import name 'compare'", 0.5)
    ana["4.3"] = TodoResult(Status.TIMEOUT, "TODO 4.3: student code took longer than 30 s", 30.0)
    del ana["B.2"]
    results = write_class(tmp_path, [SubmissionResult("ana", "graded", ana, 40.0),
                                     SubmissionResult("<b>&zoë</b>", "graded", all_todos("pass"), 9.0),
                                     SubmissionResult("carl", "error", {}, 0.1, message=BROKEN_REASON)])
    out = tmp_path / "junit" / "kata.xml"
    assert main(["export", "junit", str(results), "--out", str(out)]) == 0
    return out


def test_junit_one_suite_per_submission_one_case_per_todo(tmp_path, capsys):
    out = junit_export(tmp_path)
    xml = JUnitXml.fromfile(str(out))
    suites = {suite.name: suite for suite in xml}
    assert list(suites) == ["ana", "<b>&zoë</b>", "carl"]
    ana_suite = suites["ana"]
    assert (ana_suite.tests, ana_suite.failures, ana_suite.errors, ana_suite.skipped) == (len(TODOS), 1, 2, 1)
    cases = {case.name: case for case in ana_suite}
    assert list(cases) == [f"{todo.id} {todo.title}" for todo in TODOS]
    assert {case.classname for case in ana_suite} == {"ana"}
    failed = cases[next(name for name in cases if name.startswith("2.1 "))]
    assert isinstance(failed.result[0], Failure) and failed.time == 1.5
    assert failed.result[0].message.startswith("TODO 2.1: expected 3 runs, but MLflow holds 0\n  detail")
    kinds = {name.split()[0]: (type(case.result[0]).__name__, case.result[0].type) for name, case in cases.items()
             if case.result}
    assert kinds == {"2.1": ("Failure", "fail"), "3.2": ("Error", "error"), "4.3": ("Error", "timeout"),
                     "B.2": ("Skipped", None)}
    assert isinstance(cases[next(n for n in cases if n.startswith("B.2 "))].result[0], Skipped)
    assert cases[next(n for n in cases if n.startswith("1.1 "))].time == 0.25
    assert (suites["<b>&zoë</b>"].failures, suites["<b>&zoë</b>"].errors) == (0, 0)
    carl = suites["carl"]
    assert carl.errors == len(TODOS) and all(isinstance(c.result[0], Error) and c.result[0].message == BROKEN_REASON
                                             for c in carl)
    # each suite's score in its <system-out>: properties repeated in every suite break readers that merge them
    assert not any(list(suite.properties()) for suite in xml)
    said = {suite.get("name"): suite.findtext("system-out") for suite in ElementTree.parse(out).getroot()}
    assert said == {"ana": "ana: graded, score 12/15 (grading seed 5eed)",
                    "<b>&zoë</b>": "<b>&zoë</b>: graded, score 15/15 (grading seed 5eed)",
                    "carl": f"carl: nothing gradable: {BROKEN_REASON} (grading seed 5eed)"}


def test_junit_loads_in_xunitparser(tmp_path, capsys):
    """xunitparser reads every suite of a file into one TestSuite and asserts that a
    property name is new to it, and that the root's totals match what it counted."""
    xunitparser = pytest.importorskip("xunitparser")
    with open(junit_export(tmp_path), encoding="utf-8") as handle:
        suite, result = xunitparser.parse(handle)
    cases = list(suite)
    assert len(cases) == result.testsRun == 3 * len(TODOS)
    assert (len(result.failures), len(result.errors), len(result.skipped)) == (1, 2 + len(TODOS), 1)
    assert {case.classname for case in cases} == {"ana", "<b>&zoë</b>", "carl"}
    failed = next(case for case in cases if case.failed)
    assert failed.methodname.startswith("2.1 ") and failed.message.startswith("TODO 2.1: expected 3 runs")
    assert suite.properties == {}


def test_junit_says_not_attempted_for_a_task_handed_in_as_the_stub_and_counts_it_apart(tmp_path, capsys):
    """ines handed in task 4 and the bonus as the stubs (results.json's ``not_started``):
    their failures are ``type="not attempted"`` saying so, not the stub's message, and her
    suite's line counts them apart; her real mistake and a kit error stay as they are."""
    todos = all_todos("pass")
    todos["1.2"] = TodoResult(Status.FAIL, "TODO 1.2: expected the run named 'baseline'")
    todos.update({f"4.{n}": TodoResult(Status.FAIL, "TODO 4.x: the stub registered nothing") for n in range(1, 5)})
    todos["B.1"] = TodoResult(Status.ERROR, "TODO B.1: NotImplementedError")
    todos["B.2"] = TodoResult(Status.ERROR, "TODO B.2: kit error: the model server did not start")
    results = write_class(tmp_path, [SubmissionResult("ines", "graded", todos, 2.0, not_started=(4, 5)),
                                     SubmissionResult("ana", "graded", all_todos("pass"), 1.0)])
    out = tmp_path / "kata.xml"
    assert main(["export", "junit", str(results), "--out", str(out)]) == 0
    assert "; 5 failure(s) 'not attempted' (a task handed in as the stub)" in capsys.readouterr().err
    ines = next(suite for suite in JUnitXml.fromfile(str(out)) if suite.name == "ines")
    kinds = {case.name.split()[0]: (type(case.result[0]).__name__, case.result[0].type, case.result[0].message)
             for case in ines if case.result}
    stub = "not attempted: {}.py is the stub as handed out"
    assert kinds == {"1.2": ("Failure", "fail", "TODO 1.2: expected the run named 'baseline'"),
                     **{f"4.{n}": ("Failure", "not attempted", stub.format("task4_registry")) for n in range(1, 5)},
                     "B.1": ("Failure", "not attempted", stub.format("bonus_serving")),
                     "B.2": ("Error", "error", "TODO B.2: kit error: the model server did not start")}
    assert (ines.failures, ines.errors) == (6, 1)
    said = {suite.get("name"): suite.findtext("system-out") for suite in ElementTree.parse(out).getroot()}
    assert said == {"ines": "ines: graded, score 10/15; 5 TODO(s) not attempted (task4_registry.py, "
                            "bonus_serving.py as handed out) (grading seed 5eed)",
                    "ana": "ana: graded, score 15/15 (grading seed 5eed)"}


def test_junit_renders_in_junit2html(tmp_path, capsys):
    """junit2html's reader takes every suite, case and verdict of the class file, and
    renders it (a student's own file: test_feedback.py)."""
    from junit2htmlreport.parser import Junit

    report = Junit(str(junit_export(tmp_path)))
    assert [suite.name for suite in report.suites] == ["ana", "<b>&zoë</b>", "carl"]
    outcomes = [case.outcome() for case in report.suites[0].all()]
    assert (outcomes.count("failed"), outcomes.count("skipped"), len(outcomes)) == (3, 1, len(TODOS))
    assert all(case.outcome() == "failed" and case.failure_msg == BROKEN_REASON for case in report.suites[2].all())
    html = report.html()
    assert "&lt;b&gt;&amp;zoë&lt;/b&gt;" in html and "<b>&zoë</b>" not in html


# --- results.json --------------------------------------------------------------------


def good_results() -> dict:
    return ClassResults(kit={**KIT, "seed": "s1"}, submissions=canvas_class()).to_json()


def _drop(*path):
    def change(data):
        for key in path[:-1]:
            data = data[key]
        del data[path[-1]]
    return change


def _put(value, *path):
    def change(data):
        for key in path[:-1]:
            data = data[key]
        data[path[-1]] = value
    return change


MUTATIONS = {  # each changes a valid results.json in place, or returns what replaces it
    "a list": lambda data: [data],
    "no submissions": _drop("submissions"),
    "schema_version 2": _put(2, "schema_version"),
    "bad sha": _put("xyz", "kit", "tests_sha256"),
    "bad seed": _put("a b", "kit", "seed"),
    "bad isolation": _put({"level": "most"}, "kit", "isolation"),
    "insecure scheduler as text": _put("yes", "kit", "insecure_scheduler"),
    "todo without title": _drop("todos", 0, "title"),
    "points as text": _put("1", "todos", 0, "points"),
    "bonus as int": _put(1, "todos", 0, "bonus"),
    "status unknown": _put("done", "submissions", 0, "status"),
    "negative score": _put(-1, "submissions", 0, "score"),
    "error without message": _drop("submissions", 6, "message"),
    "todo status unknown": _put("skipped", "submissions", 0, "todos", "1.1", "status"),
    "todo without message": _drop("submissions", 0, "todos", "1.1", "message"),
    "negative duration": _put(-1, "submissions", 0, "duration_s"),
    "negative todo duration": _put(-0.5, "submissions", 0, "todos", "1.1", "duration_s"),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_the_results_check_refuses_what_the_json_schema_refuses(name):
    data = good_results()
    data = MUTATIONS[name](data) or data
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA)
    with pytest.raises(ResultsError) as refused:
        validate(data)
    assert "\n" not in str(refused.value)


def test_a_valid_results_json_loads_with_its_own_todo_table(tmp_path):
    data = good_results()
    jsonschema.validate(data, SCHEMA)
    data["kit"]["insecure_scheduler"] = True  # graded on a Dask cluster without TLS: recorded, valid
    jsonschema.validate(data, SCHEMA)
    data["todos"][0]["points"] = 3  # another kit's table: scores follow the file
    for sub in data["submissions"]:
        sub["max_score"] += 2
        sub["score"] += 2 if sub["todos"].get("1.1", {}).get("status") == "pass" else 0
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    results = load_results(path)
    assert results.max_score == 17 and [t.id for t in results.todos] == [t.id for t in TODOS]


@pytest.mark.parametrize("content, reason", [
    ("id,status,score\nana,graded,3\n", "not JSON"),
    ('{"submissions": []}', "results.json: not a kata results.json: no 'schema_version'"),
    ("\xff", "not JSON"),
    ("SCORE", "records 99/15 but its TODOs give 15/15"),
    ("DUPLICATE", "submission id 'jdoe' appears twice"),
])
def test_not_a_results_json_is_refused_in_one_line(tmp_path, capsys, content, reason):
    path = tmp_path / "results.json"
    data = good_results()
    if content == "SCORE":
        data["submissions"][0]["score"] = 99
        content = json.dumps(data)
    elif content == "DUPLICATE":
        data["submissions"].append(data["submissions"][0])
        content = json.dumps(data)
    path.write_text(content, encoding="utf-8")
    out = tmp_path / "out.xml"
    assert main(["export", "junit", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and reason in err and not out.exists()
    assert main(["export", "junit", str(tmp_path / "missing.json"), "--out", str(out)]) == 2
    assert "No such file or directory" in capsys.readouterr().err


def test_bad_points_are_refused_and_control_characters_never_reach_the_terminal(tmp_path, canvas_files, capsys):
    results, roster, out = canvas_files
    for points in ("0", "-3", "nan", "inf"):
        assert main(["export", "canvas", str(results), "--roster", str(roster), "--out", str(out),
                     "--points", points]) == 2
    assert not out.exists()
    capsys.readouterr()
    results = write_class(tmp_path, [SubmissionResult("evil\x1b]0;owned\x07", "graded", scored(0), 1.0)])
    assert main(["export", "canvas", str(results), "--roster", str(roster), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and "evil\\x1b]0;owned\\x07" in err
