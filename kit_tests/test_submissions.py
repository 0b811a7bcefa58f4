"""How ``kata grade`` finds submissions and their task files (grader.classroom.submissions,
with archives and task_files), on real folders and zips shaped like LMS downloads: every
entry of the submissions folder gets a result or is ignored on purpose, the task files are
found where students put them, links never lead out, and nothing in the submissions
folder changes.

Fast unit tests: no MLflow, no grading run."""

import hashlib
import os
import stat
import zipfile
from pathlib import Path

import pytest

from grader.classroom.submissions import discover, prepare
from grader.classroom.task_files import MAX_FILE_BYTES, BadSubmission

TASK1 = "task1_baseline.py"
TASK2 = "task2_tuning.py"
CODE = "def log_baseline_run():\n    return 'ok'\n"


def student(folder: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path → text) under ``folder``."""
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def zipped(path: Path, entries: dict[str, str | bytes], links: dict[str, str] | None = None) -> Path:
    """A zip with ``entries`` (name → data, names written as given) and link entries."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as bundle:
        for name, data in entries.items():
            bundle.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(info, target)
    return path


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        info = path.lstat()
        digest.update(f"{info.st_mode}:{info.st_mtime_ns}".encode())
        if path.is_symlink():
            digest.update(os.readlink(path).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def grade_all(submissions: Path, workspace: Path) -> dict[str, dict]:
    """discover + prepare every submission as ``kata grade`` does; per id: the files
    taken and the notes, or the reason it was refused. Checks that nothing in the
    submissions folder changed."""
    before = tree_digest(submissions)
    outcome = {}
    found = discover(submissions)
    assert len({submission.id for submission in found}) == len(found), "ids must be unique"
    for number, submission in enumerate(found):
        target = workspace / f"{number:05d}" / "exercises"
        try:
            notes = prepare(submission, target)
        except BadSubmission as reason:
            assert "\n" not in str(reason) and str(reason)
            outcome[submission.id] = {"reason": str(reason)}
            continue
        assert all("\n" not in note for note in notes)
        files = {path.name: path.read_text() for path in target.iterdir()}
        outcome[submission.id] = {"files": files, "notes": notes}
    assert tree_digest(submissions) == before, "the submissions folder changed"
    return outcome


@pytest.fixture
def submissions(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    return folder


@pytest.fixture
def workspace(tmp_path):
    return tmp_path / "workspace"


# -- 1. duplicate ids ---------------------------------------------------------------------
def test_a_folder_and_a_zip_with_the_same_name_are_both_graded_under_distinct_ids(submissions, workspace):
    student(submissions / "s01", {f"exercises/{TASK1}": "folder = 1\n"})
    zipped(submissions / "s01.zip", {f"exercises/{TASK1}": "zip = 1\n"})
    zipped(submissions / "s02.zip", {f"exercises/{TASK1}": CODE})
    outcome = grade_all(submissions, workspace)
    assert set(outcome) == {"s01", "s01.zip", "s02"}
    assert outcome["s01"]["files"][TASK1] == "folder = 1\n"
    assert outcome["s01.zip"]["files"][TASK1] == "zip = 1\n"
    assert any("graded separately" in note for note in outcome["s01"]["notes"])
    assert any("as 's01.zip'" in note for note in outcome["s01.zip"]["notes"])


# -- 2. links in the submissions folder ---------------------------------------------------
def test_a_zip_linking_out_of_the_submissions_folder_is_refused_not_followed(tmp_path, submissions, workspace):
    outside = zipped(tmp_path / "elsewhere" / "real.zip", {f"exercises/{TASK1}": CODE})
    (submissions / "mallory.zip").symlink_to(outside)
    outcome = grade_all(submissions, workspace)
    assert set(outcome) == {"mallory"}
    assert "link out of the submissions folder" in outcome["mallory"]["reason"]
    assert not workspace.exists()


def test_a_linked_folder_is_reported_rather_than_silently_skipped(tmp_path, submissions, workspace):
    real = student(tmp_path / "elsewhere" / "carol", {f"exercises/{TASK1}": CODE})
    (submissions / "carol").symlink_to(real)
    (submissions / "config").symlink_to("/etc")
    outcome = grade_all(submissions, workspace)
    assert set(outcome) == {"carol", "config"}
    for submission_id in outcome:
        assert "is a link" in outcome[submission_id]["reason"]
        assert "links are not followed" in outcome[submission_id]["reason"]


# -- 3. entries that are neither folders nor zips -----------------------------------------
def test_entries_that_are_not_folders_or_zips_each_get_a_row_with_a_reason(submissions, workspace):
    (submissions / "lab.tar.gz").write_bytes(b"\x1f\x8b not really")
    (submissions / "notes.txt").write_text("who handed in late\n")
    (submissions / ".git").mkdir()
    (submissions / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    student(submissions / "ana", {f"exercises/{TASK1}": CODE})
    outcome = grade_all(submissions, workspace)
    assert set(outcome) == {"lab.tar.gz", "notes.txt", ".git", "ana"}
    assert outcome["lab.tar.gz"]["reason"] == "not a folder or a .zip: lab.tar.gz is a tar archive; upload a .zip"
    assert outcome["notes.txt"]["reason"].startswith("not a folder or a .zip: notes.txt")
    assert "hidden" in outcome[".git"]["reason"]
    assert outcome["ana"]["files"] == {TASK1: CODE}


def test_os_clutter_and_the_instructors_readme_are_ignored_on_purpose(submissions, workspace):
    (submissions / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (submissions / "Thumbs.db").write_bytes(b"\xd0\xcf")
    (submissions / "__MACOSX").mkdir()
    (submissions / "__MACOSX" / "._ana.zip").write_bytes(b"\0\5\26\7")
    (submissions / "._ana.zip").write_bytes(b"\0\5\26\7")
    (submissions / "README.md").write_text("# Class of 2025\n")
    zipped(submissions / "ana.zip", {f"exercises/{TASK1}": CODE})
    outcome = grade_all(submissions, workspace)
    assert set(outcome) == {"ana"}


# -- 4. LMS layouts -----------------------------------------------------------------------
def test_a_moodle_download_folder_holding_one_zip_is_graded_from_that_zip(submissions, workspace):
    moodle = submissions / "Ana García_123456_assignsubmission_file_"
    moodle.mkdir()
    zipped(moodle / "lab.zip", {f"fundamentos-lab/exercises/{TASK1}": CODE,
                               f"fundamentos-lab/exercises/{TASK2}": "tuned = 1\n",
                               "fundamentos-lab/README.md": "mine\n"})
    outcome = grade_all(submissions, workspace)
    graded = outcome["Ana García_123456_assignsubmission_file_"]
    assert graded["files"] == {TASK1: CODE, TASK2: "tuned = 1\n"}
    assert "missing task3_compare.py" in graded["notes"]


def test_a_moodle_folder_with_two_zips_says_which_to_keep(submissions, workspace):
    moodle = submissions / "Bruno Díaz_654321_assignsubmission_file_"
    zipped(moodle / "lab.zip", {f"exercises/{TASK1}": CODE})
    zipped(moodle / "lab_v2.zip", {f"exercises/{TASK1}": CODE})
    outcome = grade_all(submissions, workspace)
    assert "2 zips (lab.zip, lab_v2.zip)" in outcome["Bruno Díaz_654321_assignsubmission_file_"]["reason"]


def test_a_zip_written_with_windows_backslash_paths_is_read_as_folders(submissions, workspace):
    zipped(submissions / "windows.zip", {"lab\\": b"", "lab\\exercises\\": b"",
                                         f"lab\\exercises\\{TASK1}": CODE})
    outcome = grade_all(submissions, workspace)
    assert outcome["windows"]["files"] == {TASK1: CODE}


def test_exercises_three_folders_down_is_found_in_a_folder_and_in_a_zip(submissions, workspace):
    student(submissions / "github", {f"repo-main/src/lab/exercises/{TASK1}": CODE,
                                     "repo-main/README.md": "repo\n"})
    zipped(submissions / "zipped.zip", {f"repo-main/src/lab/exercises/{TASK1}": CODE})
    outcome = grade_all(submissions, workspace)
    assert outcome["github"]["files"] == {TASK1: CODE}
    assert outcome["zipped"]["files"] == {TASK1: CODE}


def test_the_shallowest_exercises_folder_wins_and_a_tie_is_settled_by_name_with_a_note(submissions, workspace):
    student(submissions / "shallow", {f"exercises/{TASK1}": "shallow\n",
                                      f"old/exercises/{TASK1}": "old\n", f"old/exercises/{TASK2}": "old\n"})
    student(submissions / "tie", {f"b-copy/exercises/{TASK1}": "b\n", f"a-lab/exercises/{TASK1}": "a\n"})
    zipped(submissions / "tie_zip.zip", {f"b-copy/exercises/{TASK1}": "b\n", f"a-lab/exercises/{TASK1}": "a\n"})
    outcome = grade_all(submissions, workspace)
    assert outcome["shallow"]["files"] == {TASK1: "shallow\n"}
    for submission_id in ("tie", "tie_zip"):
        assert outcome[submission_id]["files"] == {TASK1: "a\n"}
        assert any("took a-lab/exercises/" in note and "b-copy/exercises/" in note
                   for note in outcome[submission_id]["notes"])


def test_bare_task_files_at_the_root_or_in_a_lone_top_folder_are_accepted(submissions, workspace):
    student(submissions / "flat", {TASK1: CODE, "notes.md": "done\n"})
    zipped(submissions / "flat_zip.zip", {f"my-lab/{TASK1}": CODE, f"my-lab/{TASK2}": "tuned = 1\n"})
    outcome = grade_all(submissions, workspace)
    assert outcome["flat"]["files"] == {TASK1: CODE}
    assert "no exercises/ folder: took the task files at the root" in outcome["flat"]["notes"]
    assert outcome["flat_zip"]["files"] == {TASK1: CODE, TASK2: "tuned = 1\n"}


def test_submissions_without_task_files_keep_their_one_line_reasons(tmp_path, submissions, workspace):
    (submissions / "empty_folder").mkdir()
    zipped(submissions / "only_notes.zip", {"lab1/notes.md": "I could not do it\n"})
    zipped(submissions / "empty_zip.zip", {})
    inner = zipped(tmp_path / "inner.zip", {f"exercises/{TASK1}": CODE})
    zipped(submissions / "nested.zip", {"inner.zip": inner.read_bytes()})
    (submissions / "not_a_zip.zip").write_bytes(b"this is not a zip file")
    student(submissions / "tarred", {"lab.tar.gz": "not a zip\n"})
    outcome = grade_all(submissions, workspace)
    assert outcome["empty_folder"]["reason"] == "empty submission folder"
    assert "no exercises/ folder" in outcome["only_notes"]["reason"]
    assert outcome["empty_zip"]["reason"] == "empty zip file"
    assert "holds another zip" in outcome["nested"]["reason"]
    assert "unreadable zip file" in outcome["not_a_zip"]["reason"]
    assert "lab.tar.gz is not a .zip" in outcome["tarred"]["reason"]


# -- 5. zip limits count only what is taken -----------------------------------------------
def test_a_huge_dataset_and_many_entries_beside_exercises_do_not_sink_a_zip(submissions, workspace):
    path = submissions / "big_data.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr(f"lab/exercises/{TASK1}", CODE)
        bundle.writestr("lab/data/telemetry.csv", b"x" * 10)
        bundle.getinfo("lab/data/telemetry.csv").file_size = 300 * 1024 * 1024  # as listed
        for number in range(12_000):
            bundle.writestr(f"lab/.venv/lib/file{number}.py", b"")
    outcome = grade_all(submissions, workspace)
    assert outcome["big_data"]["files"] == {TASK1: CODE}


def test_a_task_file_over_the_size_cap_is_not_taken_and_said_so(submissions, workspace):
    zipped(submissions / "huge.zip", {f"exercises/{TASK1}": CODE,
                                      f"exercises/{TASK2}": b"#" * (MAX_FILE_BYTES + 1)})
    outcome = grade_all(submissions, workspace)
    assert outcome["huge"]["files"] == {TASK1: CODE}
    assert "exercises/task2_tuning.py is larger than 1 MB: not taken" in outcome["huge"]["notes"]


@pytest.mark.parametrize("unsafe", ["/etc/evil.py", "../../evil.py", "lab\\..\\..\\evil.py", "C:\\evil.py"])
def test_a_zip_with_an_absolute_dot_dot_or_drive_letter_path_is_refused(submissions, workspace, unsafe):
    zipped(submissions / "crafted.zip", {unsafe: "x", f"exercises/{TASK1}": CODE})
    outcome = grade_all(submissions, workspace)
    assert outcome["crafted"]["reason"].startswith("unsafe path in zip:")


def test_a_link_entry_in_a_zip_is_never_taken(submissions, workspace):
    zipped(submissions / "linked.zip", {f"exercises/{TASK2}": "tuned = 1\n"},
           links={f"exercises/{TASK1}": "/etc/passwd"})
    zipped(submissions / "only_link.zip", {}, links={f"exercises/{TASK1}": "/etc/passwd"})
    outcome = grade_all(submissions, workspace)
    assert outcome["linked"]["files"] == {TASK2: "tuned = 1\n"}
    assert any("task1_baseline.py is a link inside the zip" in note for note in outcome["linked"]["notes"])
    assert "is a link inside the zip" in outcome["only_link"]["reason"]


# -- 6. links inside a submission folder --------------------------------------------------
def test_links_out_of_a_submission_folder_are_never_followed_even_deep_down(tmp_path, submissions, workspace):
    outside = student(tmp_path / "outside", {f"exercises/{TASK1}": "someone else's\n", "lab.zip": ""})
    zipped(outside / "lab.zip", {f"exercises/{TASK1}": "someone else's\n"})
    deep = submissions / "deep" / "repo-main" / "src" / "exercises"
    deep.mkdir(parents=True)
    (deep / TASK1).symlink_to(outside / "exercises" / TASK1)
    linked_folder = submissions / "linked_folder"
    linked_folder.mkdir()
    (linked_folder / "exercises").symlink_to(outside / "exercises")
    moodle = submissions / "moodle_link"
    moodle.mkdir()
    (moodle / "lab.zip").symlink_to(outside / "lab.zip")
    inside_link = student(submissions / "inside_link", {f"work/{TASK1}": CODE})
    (inside_link / "exercises").mkdir()
    (inside_link / "exercises" / TASK1).symlink_to(inside_link / "work" / TASK1)
    outcome = grade_all(submissions, workspace)
    assert "repo-main/src/exercises/task1_baseline.py links outside the submission" in outcome["deep"]["reason"]
    assert "exercises/ is a link" in outcome["linked_folder"]["reason"]
    assert "lab.zip is a link" in outcome["moodle_link"]["reason"]
    assert outcome["inside_link"]["files"] == {TASK1: CODE}
