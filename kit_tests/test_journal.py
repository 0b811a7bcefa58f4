"""The student's journal (issue 23): what a red-green session on the stubs writes (no text,
code, path, user or host name), its cap, ``KATA_JOURNAL=0``, ``kata progress`` in both
languages, the release's switch, and ``kata grade``'s reading of handed-in journals as
untrusted input (huge, binary, deep JSON, a forged kit hash, HTML): a note or a flag, never
a crash, never a change to what is graded."""

import getpass
import json
import re
import shutil
import socket
import time
import zipfile
from pathlib import Path, PurePosixPath

import jsonschema
import pytest

from grader.core.paths import EXERCISES_DIR, KIT_ROOT, PYTEST_INI, SOLUTIONS_DIR, TESTS_DIR
from grader.lab.todos import load_todos
from grader.results import journal
from grader.results.model import Status, TodoResult

TASK1 = "task1_baseline.py"
TASK1_IDS = ["1.1", "1.2", "1.3", "1.4"]
SCHEMA = json.loads((KIT_ROOT / "grader" / "results" / "results.schema.json").read_text())
JOURNAL_SCHEMA = SCHEMA["properties"]["submissions"]["items"]["properties"]["journal"]
NOW = 1_767_000_000


def line(todos: dict[str, str], t: int = NOW, kit: str | None = None, shown: str | None = None) -> dict:
    results = {todo_id: TodoResult(Status(status), "" if status == "pass" else "TODO x: ?") for todo_id, status in
               todos.items()}
    made = journal.entry(results, "pytest", now=t, kit=kit)
    for todo_id, status in todos.items():
        if status != "pass":
            made["todos"][todo_id][1] = shown
    return made


def jsonl(*lines: dict) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in lines)


# -- a red-green session on the stubs ---------------------------------------------------

def kata_tests(exercises: Path) -> int:
    return pytest.main([str(TESTS_DIR / "test_task1.py"), "--exercises", str(exercises), "--kata-lang", "es",
                        "-p", "no:cacheprovider", "-q", "--rootdir", str(KIT_ROOT), "-c", str(PYTEST_INI)])


def test_a_red_green_session_is_journaled_without_text_code_paths_or_names(tmp_path, monkeypatch):
    monkeypatch.setenv("KATA_WARM", "0")
    monkeypatch.setenv("KATA_JOURNAL", "1")
    exercises = tmp_path / "exercises"
    shutil.copytree(EXERCISES_DIR, exercises, ignore=shutil.ignore_patterns("__pycache__"))
    assert kata_tests(exercises) == pytest.ExitCode.TESTS_FAILED  # the stubs: red
    shutil.copy(SOLUTIONS_DIR / TASK1, exercises / TASK1)
    assert kata_tests(exercises) == pytest.ExitCode.OK  # fixed: green
    written = journal.journal_path(exercises).read_bytes()
    red, green = [json.loads(raw) for raw in written.splitlines()]
    assert red["verb"] == green["verb"] == "pytest" and red["tasks"] == green["tasks"] == [1]
    assert red["kit"] == journal.lab_hash() and red["t"] <= green["t"] <= time.time()
    assert {todo_id: verdict[0] for todo_id, verdict in red["todos"].items()} == dict.fromkeys(TASK1_IDS, "fail")
    assert green["todos"] == {todo_id: ["pass", None] for todo_id in TASK1_IDS}
    # each red TODO's message is known by its catalog id (the run was in Spanish)
    known = journal.messages_by_id()
    assert all(verdict[1] in known for verdict in red["todos"].values()), red
    text = written.decode("ascii")
    for secret in (str(tmp_path), "exercises", TASK1, getpass.getuser(), socket.gethostname(), "def ", "MLflow",
                   "esperaba"):
        assert secret not in text
    # KATA_JOURNAL=0: a run adds nothing
    monkeypatch.setenv("KATA_JOURNAL", "0")
    assert kata_tests(exercises) == pytest.ExitCode.OK
    assert journal.journal_path(exercises).read_bytes() == written


def test_kata_progress_shows_the_students_path_in_english_and_spanish(tmp_path, monkeypatch, capsys):
    from grader.cli.main import main

    seen = journal.id_of("expected params {expected}, but {why}")
    exercises = tmp_path / "exercises"
    exercises.mkdir()
    path = journal.journal_path(exercises)
    for item in (line({"1.1": "fail", "1.2": "fail"}, shown=seen), line({"1.1": "pass", "1.2": "fail"}, t=NOW + 600),
                 line({"1.1": "fail", "1.2": "pass"}, t=NOW + 4000), line({"1.1": "pass", "1.2": "pass"}, t=NOW + 4100)):
        journal.append(path, item)
    with path.open("ab") as handle:
        handle.write(b"<script>broken line\n")
    said = {}
    for lang in ("en", "es"):
        assert main(["progress", "--exercises", str(exercises), "--lang", lang]) == 0
        said[lang] = capsys.readouterr().out
    assert "Your path through the kata: 4 runs judged" in said["en"]
    assert "1.1       2  10 min" in said["en"] and "1.2       3  1 h 7 min" in said["en"]
    assert "Slowest to green: TODO 1.2 (1 h 7 min), TODO 1.1 (10 min)" in said["en"]
    assert "Broken again after green: TODO 1.1 (1×)" in said["en"]
    assert "1 line of the journal could not be read: skipped." in said["en"]
    assert "Tu camino por el kata: 4 ejecuciones juzgadas" in said["es"]
    assert "Los más lentos en pasar a verde: TODO 1.2" in said["es"] and "Rotos de nuevo tras estar en verde" in said["es"]
    assert "1 línea del diario no se pudo leer: omitida." in said["es"]
    assert "<script>" not in said["en"] + said["es"]
    # 80 columns: the Spanish first line (87 characters with two dates) folds; long titles end in …
    assert max(len(text) for text in (said["en"] + said["es"]).splitlines()) <= 79
    monkeypatch.setenv("KATA_JOURNAL", "1")
    assert main(["progress", "--exercises", str(tmp_path / "nowhere"), "--lang", "es"]) == 1
    assert capsys.readouterr().out.startswith("Aún no hay diario en ")


def test_a_message_is_known_by_its_catalog_id_in_either_language():
    from grader.core import i18n
    from grader.core.i18n import _

    template = "expected params {expected}, but {why}"
    for lang in ("en", "es"):
        with i18n.use(lang):
            shown = "TODO 1.3: " + _(template).format(expected="{'a': 1}", why="<b>nothing</b>") + " — more"
        assert journal.message_id(shown, "1.3", lang) == journal.id_of(template)
    assert journal.message_id("TODO 1.3: kit error: boom", "1.3") == journal.KIT_ERROR_ID
    assert journal.message_id("TODO 1.3: something no catalog holds at all", "1.3") is None


# -- writing: the cap, the switch ----------------------------------------------------------

def test_past_the_cap_the_oldest_lines_go_and_every_line_stays_whole(tmp_path):
    path = tmp_path / ".kata" / "journal.jsonl"
    for number in range(60):
        assert journal.append(path, line({"1.1": "fail"}, t=NOW + number), cap=4000, keep=2000)
    kept = [json.loads(raw) for raw in path.read_bytes().splitlines()]
    assert path.stat().st_size <= 4000 and len(kept) < 60
    assert [item["t"] for item in kept] == list(range(NOW + 60 - len(kept), NOW + 60))  # the newest, in order
    (tmp_path / "blocked").write_text("a file where the folder should be")
    assert journal.append(tmp_path / "blocked" / ".kata" / "journal.jsonl", line({"1.1": "pass"})) is False


def test_the_journal_is_on_in_a_release_off_with_kata_journal_0_and_out_of_a_course_without_it(tmp_path):
    from grader.authoring.release import write_packaging

    for on in (True, False):
        folder = tmp_path / str(on)
        folder.mkdir()
        written: dict[str, str] = {}
        write_packaging(KIT_ROOT, lambda relative, text: written.__setitem__(relative, text), journal=on)
        (folder / "pyproject.toml").write_text(written["pyproject.toml"])
        readme, ignored = written["README.md"], written[".gitignore"]
        assert journal.enabled(folder, {}) is on
        for off in ("0", "false", "No", "off"):  # a student's "false" used to leave it on
            assert journal.enabled(folder, {"KATA_JOURNAL": off}) is False, off
        assert journal.enabled(folder, {"KATA_JOURNAL": "1"}) is on  # a course without it stays without
        # the README says, in both languages, what is recorded and why; .gitignore keeps it
        assert ("exercises/.kata/journal.jsonl" in readme.split("## Español")[0]) is on
        assert ("exercises/.kata/journal.jsonl" in readme.split("## Español")[1]) is on
        assert ("KATA_JOURNAL=0" in readme) is on and ("nunca cambia una" in readme) is on
        assert (".kata/\n" in ignored.replace("# exercises/.kata/journal.jsonl", "")) is not on
    assert journal.enabled(KIT_ROOT, {}) is False  # the instructor's kit: only with KATA_JOURNAL=1
    assert journal.enabled(KIT_ROOT, {"KATA_JOURNAL": "1"}) is True


# -- reading: the path a journal tells, and hostile journals ------------------------------

def test_a_journals_summary_counts_tries_time_to_green_messages_and_breaks():
    seen = journal.id_of("expected params {expected}, but {why}")
    reading = journal.read(jsonl(
        line({"1.1": "fail", "1.2": "fail"}, t=NOW, shown=seen),
        line({"1.1": "fail", "1.2": "pass"}, t=NOW + 60, shown=seen),
        line({"1.1": "pass", "1.2": "fail"}, t=NOW + 300, shown=seen),
        line({"1.1": "pass", "1.2": "pass"}, t=NOW + 400),
    ))
    summary = journal.summarise(reading, journal.lab_hash())
    jsonschema.validate(summary, JOURNAL_SCHEMA)
    assert summary["runs"] == 4 and summary["first"] == NOW and summary["last"] == NOW + 400
    assert summary["todos"]["1.1"] == {"attempts": 3, "green": True, "seconds_to_green": 300, "broke_again": 0,
                                       "messages": {seen: 2}}
    assert summary["todos"]["1.2"] == {"attempts": 2, "green": True, "seconds_to_green": 60, "broke_again": 1,
                                       "messages": {seen: 1}}
    assert "flags" not in summary


def test_suspicious_journals_are_flagged_neutrally():
    graded = {todo.id: "pass" for todo in load_todos() if not todo.bonus}
    at_once = journal.summarise(journal.read(jsonl(line(graded))), journal.lab_hash())
    assert at_once["flags"] == ["all-green-first-run"]
    backwards = journal.read(jsonl(line({"1.1": "fail"}, t=NOW), line({"1.1": "pass"}, t=NOW - 3600)))
    assert journal.summarise(backwards, journal.lab_hash())["flags"] == ["time-backwards"]
    forged = journal.read(jsonl(line({"1.1": "fail"}, kit="f" * 16), line({"1.1": "pass"})))
    assert journal.summarise(forged, journal.lab_hash())["flags"] == ["other-kit"]


DEEP = b"[" * 100_000 + b"]" * 100_000
HOSTILE_LINES = [
    b'{"v":1,"t":1767000000,"kit":"<script>alert(1)</script>","verb":"pytest","tasks":[1],'
    b'"todos":{"1.1":["fail",null]}}',
    b'{"v":1,"t":1767000000,"kit":"0123456789abcdef","verb":"pytest","tasks":[1],'
    b'"todos":{"1.1":["fail","<img src=x onerror=alert(1)>"]}}',
    b'{"v":1,"t":1767000000,"kit":"0123456789abcdef","verb":"rm -rf","tasks":[1],"todos":{"1.1":["pass",null]}}',
    b'{"v":1,"t":1767000000,"kit":"0123456789abcdef","verb":"pytest","tasks":[1],"todos":{"9.9":["pass",null]}}',
    b'{"v":1,"t":1e400,"kit":"0123456789abcdef","verb":"pytest","tasks":[1],"todos":{"1.1":["pass",null]}}',
    b'{"v":1,"t":true,"kit":"0123456789abcdef","verb":"pytest","tasks":[1],"todos":{"1.1":["pass",null]}}',
    b"\x00\xff\xfe binary \x89PNG",
    b'{"__proto__": {"polluted": 1}}',
    DEEP[:4000],
    b"not json at all",
]


@pytest.mark.parametrize("data, ignored", [
    (b"x" * (journal.READ_MAX_BYTES + 1), "too-large"),
    (b"\n" * (journal.MAX_LINES + 5), "too-many-lines"),
    (DEEP, "no-valid-line"),
    (bytes(range(256)) * 100, "no-valid-line"),
    (b"\n".join(HOSTILE_LINES), "no-valid-line"),
])
def test_a_hostile_journal_is_ignored_with_a_note(data, ignored):
    summary = journal.summarise(journal.read(data), journal.lab_hash())
    jsonschema.validate(summary, JOURNAL_SCHEMA)
    assert summary["status"] == "ignored" and summary["note"] == ignored


def test_hostile_lines_among_real_ones_are_skipped_and_counted():
    data = b"\n".join([*HOSTILE_LINES, json.dumps(line({"1.1": "pass"})).encode()])
    summary = journal.summarise(journal.read(data), journal.lab_hash())
    jsonschema.validate(summary, JOURNAL_SCHEMA)
    assert summary["status"] == "read" and summary["runs"] == 1 and summary["skipped_lines"] == len(HOSTILE_LINES)
    assert "<" not in json.dumps(summary)  # nothing a line said reaches the summary


def test_kata_grade_stages_a_handed_in_journal_apart_and_grades_the_same_files(tmp_path):
    """A submission's journal (in its exercises/.kata/ or its lab folder's .kata/, in a
    folder or a zip) is staged beside its task files, never among them: what is graded and
    its hash are those of the same submission without a journal. Each journal, hostile or
    not, becomes a summary or a note, never a crash or an unstaged submission."""
    from grader.classroom.grade import journal_summary
    from grader.classroom.staging import stage_class

    task1 = (SOLUTIONS_DIR / TASK1).read_text()
    good = jsonl(line({"1.1": "fail"}, shown=journal.id_of("expected params {expected}, but {why}")),
                 line({"1.1": "pass"}, t=NOW + 90))
    hostile = {"huge": b"{" * (journal.READ_MAX_BYTES + 10), "binary": bytes(range(256)) * 50, "deep": DEEP,
               "html": b"\n".join(HOSTILE_LINES)}
    submissions = tmp_path / "submissions"
    for name, data in {"good": good, "none": None, **hostile}.items():
        folder = submissions / name / "exercises"
        folder.mkdir(parents=True)
        (folder / TASK1).write_text(task1)
        if data is not None:
            (folder / ".kata").mkdir()
            (folder / ".kata" / "journal.jsonl").write_bytes(data)
    lab = submissions / "lab_folder"  # a GitHub Classroom repository: .kata/ beside exercises/
    (lab / "exercises").mkdir(parents=True)
    (lab / "exercises" / TASK1).write_text(task1)
    (lab / ".kata").mkdir()
    (lab / ".kata" / "journal.jsonl").write_bytes(good)
    with zipfile.ZipFile(submissions / "zipped.zip", "w") as bundle:
        bundle.writestr(f"repo/exercises/{TASK1}", task1)
        bundle.writestr("repo/exercises/.kata/journal.jsonl", good)
    with zipfile.ZipFile(submissions / "zipped_huge.zip", "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr(f"exercises/{TASK1}", task1)
        bundle.writestr("exercises/.kata/journal.jsonl", b"\n" * (50 * 1024 * 1024))  # a zip bomb of lines

    staged = stage_class(submissions, tmp_path / "staged")
    assert not staged.skipped
    assert len(set(staged.digests.values())) == 1  # one task file, the same bytes: the journal is not graded
    for folder in staged.folders.values():
        assert sorted(path.name for path in folder.iterdir()) == [TASK1]
    summaries = {name: journal_summary(folder) for name, folder in staged.folders.items()}
    for name in ("good", "lab_folder", "zipped"):
        assert summaries[name]["status"] == "read" and summaries[name]["todos"]["1.1"]["seconds_to_green"] == 90
    assert summaries["none"] is None
    assert {name: summaries[name]["note"] for name in (*hostile, "zipped_huge")} == {
        "huge": "too-large", "binary": "no-valid-line", "deep": "no-valid-line", "html": "no-valid-line",
        "zipped_huge": "too-large"}
    for summary in summaries.values():
        if summary is not None:
            jsonschema.validate(summary, JOURNAL_SCHEMA)


def test_results_json_carries_the_summary_beside_the_grade():
    from grader.results import codec
    from grader.results.model import ClassResults, SubmissionResult

    summary = journal.summarise(journal.read(jsonl(line({"1.1": "fail"}), line({"1.1": "pass"}, t=NOW + 5))))
    todos = {todo_id: TodoResult(Status.PASS) for todo_id in TASK1_IDS}
    with_journal = SubmissionResult("alice", "graded", todos, 1.0, journal=summary)
    without = SubmissionResult("bob", "graded", todos, 1.0)
    kit = {"mlflow": "x", "python": "3.11", "tests_sha256": "0" * 64}
    loaded = codec.loads(codec.dumps(ClassResults(kit, [with_journal, without])))
    alice, bob = loaded.submissions
    assert alice.journal == summary and bob.journal is None
    assert alice.score == bob.score and alice.to_json()["todos"] == bob.to_json()["todos"]
    assert "journal" not in bob.to_json()  # additive: a class without journals reads as before


def test_handed_in_paths_are_the_exercises_folders_and_its_parents():
    assert journal.handed_in_paths(PurePosixPath("repo/exercises")) == [
        PurePosixPath("repo/exercises/.kata/journal.jsonl"), PurePosixPath("repo/.kata/journal.jsonl")]
    assert journal.handed_in_paths(PurePosixPath(".")) == [PurePosixPath(".kata/journal.jsonl")]


# -- the class's path -----------------------------------------------------------------------

def path(attempts: int, green: bool = True, seconds: int | None = 0, broke: int = 0, **messages: int) -> dict:
    return {"attempts": attempts, "green": green, "seconds_to_green": seconds if green else None,
            "broke_again": broke, "messages": messages}


def read_summary(timeline: list[int] | None = None, **todos: dict) -> dict:
    return {"status": "read", "runs": len(timeline or []), "skipped_lines": 0, "timeline": timeline or [],
            "todos": {todo_id[1:].replace("_", "."): todo for todo_id, todo in todos.items()}}


A, B = "a" * 12, "b" * 12


def test_the_class_summary_gives_medians_nearest_rank_p90s_and_the_messages_seen_before_green():
    summaries = {
        "s1": read_summary([2, 1, 0], _1_1=path(1, seconds=0), _1_3=path(5, seconds=600, broke=2, **{A: 3, B: 1})),
        "s2": read_summary([1, 0], _1_1=path(2, seconds=30), _1_3=path(2, seconds=60, **{A: 1})),
        "s3": read_summary([1], _1_1=path(4, seconds=90)),
        "s4": read_summary(_1_3=path(3, green=False, **{B: 3})),  # never green: its messages count, not its tries
        "s5": {"status": "ignored", "note": "too-large", "skipped_lines": 0},
        "s6": None,
    }
    got = journal.class_summary({key: summaries[key] for key in reversed(summaries)})
    assert (got["journals"], got["ignored"], got["missing"]) == (4, 1, 1)
    assert list(got["todos"]) == ["1.1", "1.3"]  # the lab's order
    odd = got["todos"]["1.1"]  # three went green: attempts 1, 2, 4; seconds 0, 30, 90
    assert odd["students"] == odd["green"] == 3
    assert odd["attempts"] == {"median": 2, "p90": 4} and odd["seconds_to_green"] == {"median": 30, "p90": 90}
    assert odd["broke_again"] == 0 and odd["broke_again_share"] == 0.0 and odd["messages"] == []
    even = got["todos"]["1.3"]  # two went green: attempts 5, 2; seconds 600, 60 — median: the mean of the two
    assert (even["students"], even["green"]) == (3, 2)
    assert even["attempts"] == {"median": 3.5, "p90": 5} and even["seconds_to_green"] == {"median": 330, "p90": 600}
    assert even["broke_again"] == 1 and even["broke_again_share"] == 0.5
    assert even["messages"] == [{"id": A, "runs": 4, "students": ["s1", "s2"]},  # most runs first, then by id
                                {"id": B, "runs": 4, "students": ["s1", "s4"]}]
    assert got["students"] == {"s1": {"runs": 3, "timeline": [2, 1, 0]}, "s2": {"runs": 2, "timeline": [1, 0]},
                               "s3": {"runs": 1, "timeline": [1]}, "s4": {"runs": 0, "timeline": []}}
    json.dumps(got, allow_nan=False)


def test_the_class_summary_of_a_class_nobody_turned_green_nor_wrote_a_journal_for():
    nobody = journal.class_summary({"s1": read_summary(_2_1=path(3, green=False, **{A: 3})),
                                    "s2": read_summary(_2_1=path(1, green=False))})
    todo = nobody["todos"]["2.1"]
    assert (todo["students"], todo["green"], todo["broke_again"], todo["broke_again_share"]) == (2, 0, 0, 0.0)
    assert todo["attempts"] == todo["seconds_to_green"] == {"median": None, "p90": None}
    assert todo["messages"] == [{"id": A, "runs": 3, "students": ["s1"]}]
    assert journal.class_summary({"s1": None, "s2": {"status": "ignored", "note": "unreadable"}}) == {
        "journals": 0, "ignored": 1, "missing": 1, "todos": {}, "students": {}}
    # a results.json edited by hand: a summary of the wrong shape counts as ignored, a bad count is left out
    odd = journal.class_summary({"s1": {"status": "read", "todos": []}, "s2": "x",
                                 "s3": read_summary(["<b>"], _1_1=path(True, seconds="1"))})  # type: ignore[dict-item]
    assert (odd["journals"], odd["ignored"]) == (1, 2) and odd["students"]["s3"]["timeline"] == []
    assert odd["todos"]["1.1"]["attempts"] == {"median": None, "p90": None}


def test_the_nearest_rank_p90_of_ten_and_eleven_values():
    ten = {f"s{n:02}": read_summary(_1_1=path(n)) for n in range(1, 11)}
    assert journal.class_summary(ten)["todos"]["1.1"]["attempts"] == {"median": 5.5, "p90": 9}
    eleven = {**ten, "s11": read_summary(_1_1=path(11))}
    assert journal.class_summary(eleven)["todos"]["1.1"]["attempts"] == {"median": 6, "p90": 10}


def test_a_summary_keeps_a_capped_red_green_timeline_of_its_runs():
    runs = [line({"1.1": "fail", "1.2": "fail"}, t=NOW), line({"1.1": "pass", "1.2": "fail"}, t=NOW + 1),
            line({"1.1": "pass", "1.2": "pass"}, t=NOW + 2)]
    summary = journal.summarise(journal.read(jsonl(*runs)), journal.lab_hash())
    assert summary["timeline"] == [2, 1, 0]
    many = journal.summarise(journal.read(jsonl(*[line({"1.1": "fail"}, t=NOW + n) for n in range(200)],
                                                line({"1.1": "pass"}, t=NOW + 300))))
    assert len(many["timeline"]) == journal.TIMELINE_MAX and many["timeline"][-2:] == [1, 0]
    jsonschema.validate(many, JOURNAL_SCHEMA)


# -- the class report's "How the class got there", --journal-summary, the ranking -----------

def section(html: str) -> str:
    return html.split('<h2 id="journey">', 1)[1].split('<h2 id="grid-title">', 1)[0]


def test_the_report_shows_how_the_class_got_there_linking_who_saw_each_message_escaped():
    from grader.reports.report import render_report
    from report_samples import RUN_NAME_MSGID, SCRIPT_ID, journal_class, sample_class

    html = render_report(journal_class(), generated_at="now")
    part = section(html)
    assert 'href="#journey">How the class got there</a>' in html
    assert "From the journals of 3 students" in part and "1 journal could not be read" in part
    todo = part.split('data-todo="1.2"', 1)[1].split("</li>\n{", 1)[0].split('class="journey-todo"', 1)[0]
    assert '<dd class="green" data-v="3">3 / 3</dd>' in todo  # alice 3 tries (2 min), bob 2 (10 min), the forged 2
    assert '<dd class="tries">2 · 3</dd>' in todo and '<dd class="time">2 min · 10 min</dd>' in todo
    assert '<dd class="broke" data-v="1">1 (33%)</dd>' in todo
    name = journal.id_of(RUN_NAME_MSGID)
    seen = re.search(rf'<li data-message="{name}" data-runs="3">(.*?)</li>', todo, re.S)[1]
    assert "expected the run to be named &#39;baseline&#39;, but it is …" in seen
    assert re.findall(r'<a href="#([^"]+)">([^<]+)</a>', seen) == [("s-alice", "alice"), ("s-bob", "bob")]
    assert "a message not in this kit&#39;s catalog" in todo  # the forged journal's id: shown as such
    assert SCRIPT_ID not in html and "&lt;script&gt;alert(&#39;id&#39;)&lt;/script&gt;</a>" in part
    assert re.search(r'<li data-flag="other-kit">lines written by a kit other than this one: .*s-script', part)
    assert '<a href="#s-carol">carol</a> (too large)' in part
    alice = html.split('<section class="student complete" id="s-alice"', 1)[1].split("</section>", 1)[0]
    assert "Journal: 5 runs" in alice
    assert re.findall(r'<rect class="(pass|fail)" x="\d+"', alice) == ["fail", "fail", "pass", "fail", "pass"]
    # beside the grades, never in them: the grid and every score are those of the class without journals
    plain = render_report(sample_class(), generated_at="now")
    grid = [page.split('<table class="grid"', 1)[1].split("</table>", 1)[0] for page in (html, plain)]
    assert grid[0] == grid[1] and 'id="journey"' not in plain and 'class="journal"' not in plain


def test_the_section_speaks_the_reports_language_and_shows_only_when_a_journal_was_read():
    from grader.core import i18n
    from grader.reports.report import render_report
    from report_samples import journal_class, sample_class

    with i18n.use("es"):
        part = section(render_report(journal_class(), generated_at="now"))
    assert "Cómo llegó la clase" in html_unescape(part)
    assert "se esperaba que la ejecución se llamara &#39;baseline&#39;, pero es …" in part
    assert "How the class got there" not in part and "went green" not in part
    unread = sample_class()
    unread.submissions[0].journal = {"status": "ignored", "note": "too-large", "skipped_lines": 0}
    assert 'id="journey"' not in render_report(unread, generated_at="now")


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)


HOSTILE_SUMMARY = {  # a results.json edited by hand: what the grader never writes
    "status": "read", "runs": "<b>5</b>", "first": "<i>", "last": 10**30, "skipped_lines": -1,
    "flags": ["<script>alert('flag')</script>", "other-kit", {"x": 1}], "timeline": ["<rect/>", -1, 2, 0, None],
    "todos": {"1.1": {"attempts": "<em>", "green": "yes", "seconds_to_green": [], "broke_again": None,
                      "messages": {"<img src=x onerror=alert(1)>": 5, "b" * 12: "<u>"}},
              "<script>alert('todo')</script>": {"attempts": 1, "green": True, "seconds_to_green": 0,
                                                  "broke_again": 0, "messages": {}},
              "1.2": "not a path"},
}


def test_a_hostile_summary_in_results_json_never_breaks_the_page_and_is_escaped():
    from grader.reports.report import render_report
    from report_samples import sample_class

    results = sample_class()
    results.submissions[0].journal = HOSTILE_SUMMARY
    results.submissions[1].journal = {"status": "read", "todos": "nope", "flags": 7, "timeline": 3}
    results.submissions[3].journal = {"status": "<script>alert('status')</script>", "note": "<b>"}
    html = render_report(results, generated_at="now")
    assert "<script>alert" not in html and "<img src=x" not in html and "<rect/>" not in html
    part = section(html)
    assert "&lt;img src=x onerror=alert(1)&gt;" in part and "&lt;script&gt;alert(&#39;todo&#39;)" in part
    alice = html.split('id="s-alice"', 1)[1].split("</section>", 1)[0]
    assert re.findall(r'<rect class="(pass|fail)"', alice) == ["fail", "pass"]  # 2 and 0: the rest left out
    assert "lines written by a kit other than this one" in alice and "alert(&#39;flag" not in alice


def test_journal_summary_holds_the_class_per_message_counts_and_no_student_id(tmp_path):
    from grader.classroom.grade import check_journal_summary, write_journal_summary
    from grader.classroom.errors import GradingError
    from report_samples import RUN_NAME_MSGID, journal_class

    results = journal_class()
    path = tmp_path / "shared.json"
    write_journal_summary(results, path)
    text = path.read_text()
    for sub in results.submissions:
        assert json.dumps(sub.id)[1:-1] not in text, sub.id
    shared = json.loads(text)
    assert (shared["format"], shared["kit"], shared["journals"], shared["ignored"], shared["missing"]) == (
        journal.SHARED_FORMAT, journal.lab_hash(), 3, 1, 2)
    assert shared["messages"] == [
        {"todo": "1.2", "id": journal.id_of(RUN_NAME_MSGID), "text": RUN_NAME_MSGID, "runs": 3, "students": 2},
        {"todo": "1.2", "id": "0123456789ab", "text": None, "runs": 1, "students": 1}]
    assert shared["todos"]["1.2"] == {"students": 3, "green": 3, "attempts": {"median": 2, "p90": 3},
                                      "seconds_to_green": {"median": 120, "p90": 600}, "broke_again": 1,
                                      "broke_again_share": 1 / 3}
    assert "students\": [" not in text and "timeline" not in text
    for bad in (tmp_path, tmp_path / "no" / "such.json", tmp_path / "subs" / "x.json"):
        (tmp_path / "subs").mkdir(exist_ok=True)
        with pytest.raises(GradingError):
            check_journal_summary(bad, tmp_path / "subs")


def test_kata_grade_takes_journal_summary_into_its_options(monkeypatch, tmp_path):
    import grader.classroom.grade
    import grader.cli.main as cli
    from report_samples import journal_class

    seen = {}

    def grade(options, progress):
        seen["options"] = options
        results = journal_class()
        results.kit["seed"] = "abc"
        return results

    monkeypatch.setattr(grader.classroom.grade, "grade", grade)
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "out"),
                     "--journal-summary", str(tmp_path / "shared.json")]) == 0
    assert seen["options"].journal_summary == tmp_path / "shared.json"
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    assert seen["options"].journal_summary is None


def test_rank_messages_ranks_by_runs_before_green_over_summaries_and_results(tmp_path, capsys):
    import runpy

    from grader.classroom.grade import write_journal_summary
    from grader.results import codec
    from report_samples import RUN_NAME_MSGID, journal_class

    results = journal_class()
    write_journal_summary(results, tmp_path / "shared.json")
    (tmp_path / "results.json").write_text(codec.dumps(results))
    script = runpy.run_path(str(KIT_ROOT / "benchmarks" / "rank_messages.py"))
    assert script["main"]([str(tmp_path / "shared.json"), str(tmp_path / "results.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split(None, 4) == ["6", "4", "1.5", "1.2", RUN_NAME_MSGID]  # 3 runs by 2 students, twice
    assert lines[2].split()[:4] == ["2", "2", "1.0", "1.2"] and "not in this kit's catalog" in lines[2]
    (tmp_path / "bad.json").write_text("[]")
    assert script["main"]([str(tmp_path / "bad.json")]) == 2


def test_a_message_shown_by_id_has_one_ellipsis_per_run_of_placeholders():
    """"expected the id of the new run to be returned, but got {value}{note}; {held}" reads
    "… but got …; …" in the report's section, not "……" (an instructor read it as a typo)."""
    from grader.core import i18n
    from grader.reports.journey import message_text

    msgid = next(msgid for msgid in journal.messages_by_id().values() if "{value}{note}" in msgid)
    for lang in ("en", "es"):
        with i18n.use(lang):
            text, known = message_text(journal.id_of(msgid))
        assert known and "……" not in text and "…" in text, (lang, text)
