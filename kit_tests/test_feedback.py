"""Feedback back to every student (``kata feedback OUT --out DIR``,
``grader/reports/feedback.py``): one self-contained page per submission in the course's
language, holding only that student's score, verdicts, messages and first hints (or,
for a broken submission, what was wrong: never a 0), escaped everywhere, under a file
name no id can aim outside the folder; and its short summary. Built from hand-made
results (``report_samples``): no grading here.

The page at a phone's width in headless Chromium is checked when Chromium is installed
(``/tmp/feedback-390.png`` is left for a human look)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader.cli.main import main
from grader.core import i18n
from grader.lab.todos import todo_by_id
from grader.reports.class_files import write_results_json
from grader.reports.feedback import SUMMARY_FILE, page_name, render_page, summary, write_feedback
from grader.results.codec import loads
from grader.results.model import ClassResults, SubmissionResult, TodoResult
from golden import GOLDEN
from report_samples import BROKEN_REASON, FORMULA_ID, KIT, SCRIPT_ID, SCRIPT_MESSAGE, all_todos, sample_class

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PHONE_SCREENSHOT_COPY = Path("/tmp/feedback-390.png")


class Page(HTMLParser):
    """A page as a browser parses it: its elements, the attributes that load or link
    anything, and its text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.links: list[tuple[str, str, str]] = []
        self.chunks: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "action", "srcset", "data") or name.startswith("on"):
                self.links.append((tag, name, value or ""))

    def handle_data(self, data):
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return " ".join("".join(self.chunks).split())


def student(results: ClassResults, sub_id: str) -> SubmissionResult:
    return next(sub for sub in results.submissions if sub.id == sub_id)


def others(results: ClassResults, sub_id: str) -> list[str]:
    return [sub.id for sub in results.submissions if sub.id != sub_id]


def assert_self_contained(html: str) -> Page:
    page = Page(html)
    assert "script" not in page.tags and "img" not in page.tags and "iframe" not in page.tags
    assert page.links == []  # nothing to load, nowhere to go
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)[1]
    assert "default-src &#39;none&#39;" in policy and "script-src" not in policy
    return page


# -- a graded student's page ------------------------------------------------------------


@pytest.mark.parametrize("lang, words", [
    ("en", ("MLflow kata — your feedback", "Score", "12 of 15 points", "What to do next",
            "Start with TODO 2.1 — Param n_estimators per run", "fails", "passes", "ran out of time",
            "Bonus (not counted): 0/2", "About what you handed in:", "More help, one level at a time:")),
    ("es", ("MLflow kata — tu retroalimentación", "Puntuación", "12 de 15 puntos", "Qué hacer ahora",
            "Empieza por el TODO 2.1 — Parámetro n_estimators en cada ejecución", "falla", "pasa",
            "se quedó sin tiempo", "Bonus (no cuenta): 0/2", "Sobre lo que entregaste:",
            "Más ayuda, de nivel en nivel:")),
])
def test_a_graded_students_page_has_their_score_verdicts_messages_first_hints_and_next_step(lang, words):
    results = sample_class()
    bob = student(results, "bob")
    html = render_page(results, bob, lang)
    page = assert_self_contained(html)
    assert f'<html lang="{lang}">' in html
    for word in words:
        assert word in page.text, word
    todos = todo_by_id()
    for todo_id, result in bob.todos.items():  # every verdict, in its TODO's own item
        item = re.search(rf'<li class="todo (\w+)" id="todo-{todo_id.replace(".", "-")}">(.*?)</li>', html, re.S)
        assert item[1] == result.status
        hint, deeper = (todos[todo_id].hint(lang, level).replace("`", "") for level in (1, 2))  # `x` shows as code
        if result.passed:
            assert "message" not in item[2] and "hint" not in item[2]
        else:
            assert Page(item[2]).text.count(Page(result.message).text) == 1
            assert hint in Page(item[2]).text, todo_id  # level 1 where it failed...
            assert deeper not in Page(html).text  # ...and never the next levels
    # the student's first `kata hint` shows level 1, the page's: no promise of level 2 at once
    assert re.search(r"\((hint|pista) 2/", page.text) is None
    assert 'id="todo-B-2"' in html and "todo missing" in html  # a TODO without a verdict says so
    note = "TODO 4.3: accepted: the deprecated stage Staging; aliases replace stages (set alias 'staging')"
    bob.todos["4.3"] = TodoResult("pass", note)  # a pass that says something shows it
    assert note.replace("'", "&#39;") in render_page(results, bob, lang)
    for other in others(results, "bob"):  # no other student's data
        assert other not in html and other not in page.text
    assert "5eed" not in html and "seed" not in page.text.lower()  # nor the grading seed


def test_a_student_with_every_todo_passing_is_told_so_and_pointed_at_the_bonus():
    results = sample_class()
    alice = render_page(results, student(results, "alice"), "en")
    assert "All 15 TODOs pass. Well done!" in Page(alice).text and "The bonus passes too." in Page(alice).text
    no_bonus = all_todos("pass")
    no_bonus["B.1"] = TodoResult("fail", "TODO B.1: the server answered 400")
    results = ClassResults(kit=KIT, submissions=[SubmissionResult("dan", "graded", no_bonus, 1.0)])
    text = Page(render_page(results, results.submissions[0], "es")).text
    assert "Los 15 TODOs pasan." in text and "Después, prueba el bonus (no cuenta): TODO B.1" in text


def test_a_kit_error_is_not_the_students_to_fix():
    todos = all_todos("pass")
    todos["1.1"] = TodoResult("error", "TODO 1.1: kit error: the model server did not start")
    todos["2.2"] = TodoResult("fail", "TODO 2.2: expected param max_depth")
    results = ClassResults(kit=KIT, submissions=[SubmissionResult("eva", "graded", todos, 1.0)])
    html = render_page(results, results.submissions[0], "en")
    item = re.search(r'id="todo-1-1">(.*?)</li>', html, re.S)[1]
    assert "the kit&#39;s own error, not yours" in item and "hint" not in item
    assert "Start with TODO 2.2" in Page(html).text  # the first TODO that is the student's
    assert "Start with TODO 2.2" in summary(results, results.submissions[0])


@pytest.mark.parametrize("lang, said", [
    ("en", ("not attempted", "Not attempted yet: exercises/task4_registry.py is still as it was handed out",
            "Not passed yet: 1.2. Not started yet (as handed out): exercises/task4_registry.py, "
            "exercises/bonus_serving.py. Start with TODO 1.2")),
    ("es", ("sin intentar", "Aún sin intentar: exercises/task4_registry.py sigue tal como venía en el kit",
            "Aún no pasan: 1.2. Aún sin empezar (tal como venían en el kit): exercises/task4_registry.py, "
            "exercises/bonus_serving.py. Empieza por el TODO 1.2")),
])
def test_a_task_not_started_says_not_attempted_instead_of_the_stubs_message(lang, said):
    """Task 4 and the bonus handed in as the stubs (results.json's ``not_started``): their
    TODOs fail as the report counts them, each saying "not attempted" (not the stub's own
    message); the summary lists them apart from the TODOs to fix. A kit error in a task not
    started stays the kit's."""
    stub_message = "TODO 4.1: expected one new version of 'response-time-e82fa4', but it holds none"
    todos = all_todos("pass")
    todos["1.2"] = TodoResult("fail", "TODO 1.2: expected the run named 'baseline', but it is 'basline'")
    todos.update({f"4.{n}": TodoResult("fail", stub_message) for n in range(1, 5)})
    todos["B.1"] = TodoResult("fail", "TODO B.1: the server answered 400")
    todos["B.2"] = TodoResult("error", "TODO B.2: kit error: the model server did not start")
    sub = SubmissionResult("ines", "graded", todos, 1.0, not_started=(4, 5))
    results = ClassResults(kit=KIT, submissions=[sub])
    html = render_page(results, sub, lang)
    for todo_id, module in (("4.1", "task4_registry"), ("4.4", "task4_registry"), ("B.1", "bonus_serving")):
        item = Page(re.search(rf'<li class="todo fail" id="todo-{todo_id.replace(".", "-")}">(.*?)</li>', html,
                              re.S)[1]).text
        assert said[0] in item and said[1].replace("task4_registry", module) in item
        assert "response-time" not in item and "answered 400" not in item
    assert "kit error: the model server did not start" in html  # the kit's own, whatever the file
    assert said[2] in summary(results, sub, lang)
    started = SubmissionResult("ines", "graded", todos, 1.0)  # the same verdicts, every task started
    assert "response-time" in render_page(results, started, lang) and "as handed out" not in summary(results, started)


# -- a broken submission's page ------------------------------------------------------------


@pytest.mark.parametrize("lang, words", [
    ("en", ("We could not grade what you handed in", "What was wrong:", "This is not a grade",
            "Hand in your exercises/ folder")),
    ("es", ("No se pudo calificar lo que entregaste", "Qué estaba mal:", "Esto no es una calificación",
            "Entrega tu carpeta exercises/")),
])
def test_a_broken_submissions_page_says_what_was_wrong_never_a_score(lang, words):
    results = sample_class()
    carol = student(results, "carol")
    html = render_page(results, carol, lang)
    page = assert_self_contained(html)
    for word in words:
        assert word in page.text, word
    assert BROKEN_REASON in page.text
    assert not re.search(r"\b0\s*/\s*15\b|\b0 (of|de) 15\b|<progress", html)  # no 0 that looks like a grade
    assert 'class="todo' not in html and 'id="score"' not in html
    assert summary(results, carol, lang).startswith("MLflow kata: ") and "/15" not in summary(results, carol, lang)
    assert BROKEN_REASON in summary(results, carol, lang)


# -- escaping and file names ---------------------------------------------------------------


def test_a_message_and_an_id_holding_html_show_as_text():
    results = sample_class()
    hostile = student(results, SCRIPT_ID)
    html = render_page(results, hostile, "en")
    page = assert_self_contained(html)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert SCRIPT_MESSAGE in page.text and SCRIPT_ID in page.text  # shown, as text
    assert "&lt;script&gt;alert(&#39;msg&#39;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in html
    assert "MLflow kata: 14/15 points" in summary(results, hostile)
    assert SCRIPT_MESSAGE not in summary(results, hostile)  # a summary quotes no student text


HOSTILE_IDS = ["../../etc/passwd", "/abs/olute", ".", "..", "a/b", "a\\b", ".hidden", "-rf", "CON", "a b", "a_b",
               "zoë", "Zoë", "x" * 500, "nul\x00byte", "\u202etxt.exe", "😀", SCRIPT_ID, FORMULA_ID, "   "]


def test_hostile_ids_get_safe_unique_file_names_inside_the_folder(tmp_path):
    results = ClassResults(kit=KIT, submissions=[
        SubmissionResult(sub_id, "graded", all_todos("pass"), 1.0) for sub_id in HOSTILE_IDS])
    out = tmp_path / "feedback"
    written = write_feedback(results, out)
    names = sorted(path.name for path in out.iterdir())
    assert written.pages == len(HOSTILE_IDS) and len(names) == len(HOSTILE_IDS) + 1  # + feedback.csv
    assert sorted(path.name for path in tmp_path.iterdir()) == ["feedback"]  # nothing outside it
    pages = [name for name in names if name != SUMMARY_FILE]
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*-[0-9a-f]{8}\.html", name) for name in pages), pages
    assert all(len(name) <= 80 for name in pages)
    assert len({name.casefold() for name in pages}) == len(pages)  # unique, on a case-blind disk too
    for sub_id in HOSTILE_IDS:  # each page is its own student's
        assert Page((out / page_name(sub_id)).read_text(encoding="utf-8")).text.count(" ".join(sub_id.split())) >= 1


def test_two_ids_whose_names_would_meet_get_the_whole_hash(tmp_path, monkeypatch):
    from grader.reports import feedback

    real = feedback.page_name
    monkeypatch.setattr(feedback, "page_name", lambda sub_id, digits=8: "Same-0123abcd.html" if digits == 8 and
                        sub_id in ("ana", "ANA") else real(sub_id, digits))
    results = ClassResults(kit=KIT, submissions=[SubmissionResult(sub_id, "graded", all_todos("pass"), 1.0)
                                                 for sub_id in ("ana", "ANA", "bob")])
    write_feedback(results, tmp_path)
    rows = {row["id"]: row["page"] for row in read_rows(tmp_path / SUMMARY_FILE)}
    assert rows["bob"] == real("bob") and len(rows["ana"]) == len(rows["ANA"]) == len("ana-") + 64 + len(".html")
    for sub_id, name in rows.items():
        assert Page((tmp_path / name).read_text(encoding="utf-8")).text.count(f"Feedback for {sub_id}") == 1


def demo_results(lang: str = "en") -> ClassResults:
    """The demo class's real verdicts: its golden results, masks made valid again (and
    each TODO a time of its own, as a grading gives)."""
    data = json.loads(GOLDEN.read_text(encoding="utf-8"))
    data["kit"] = {**KIT, "seed": "demo-class", "lang": lang}
    for sub in data["submissions"]:
        sub["duration_s"] = 1.0
        if "files_sha256" in sub:
            sub["files_sha256"] = "0" * 64
        for n, verdict in enumerate(sub["todos"].values()):
            verdict["duration_s"] = n / 4
    return loads(json.dumps(data))


def test_the_demo_classes_pages_show_each_students_own_verdicts():
    """The demo class's real verdicts: each page shows every TODO with the status and
    message results.json gives it ("not attempted" for the stub's own failure of a task not
    started), a pass that says something too (bruno's deprecated stage), and the broken
    upload its reason."""
    results = demo_results()
    assert len(results.submissions) >= 7 and sum(1 for sub in results.submissions if sub.not_started) == 4
    for sub in results.submissions:
        html = render_page(results, sub, "en")
        text = Page(html).text
        if sub.status == "error":
            assert "We could not grade what you handed in" in text and " ".join(sub.message.split()) in text
            continue
        items = re.findall(r'<li class="todo (\w+)" id="todo-([\w-]+)">(.*?)</li>', html, re.S)
        assert {todo_id.replace("-", "."): status for status, todo_id, _ in items} == \
            {todo_id: str(result.status) for todo_id, result in sub.todos.items()}
        for status, todo_id, item in items:
            message = sub.todos[todo_id.replace("-", ".")].message
            if todo_by_id()[todo_id.replace("-", ".")].task in sub.not_started:  # the stub's own failure
                shown = Page(item).text
                assert "not attempted Not attempted yet: exercises/" in shown and " ".join(message.split()) not in shown
            else:
                assert " ".join(message.split()) in Page(item).text
        assert f"{sub.score} of 15 points" in text
    bruno = render_page(results, next(sub for sub in results.submissions if sub.id == "bruno_diaz"), "en")
    assert re.search(r'<li class="todo pass" id="todo-4-3">.*?deprecated.*?</li>', bruno, re.S)


# -- kata feedback ---------------------------------------------------------------------------


def read_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))


def test_kata_feedback_writes_a_page_per_student_in_the_graded_language(tmp_path, capsys):
    results = sample_class()
    results.kit = {**KIT, "seed": "5eed", "lang": "es"}
    write_results_json(results, tmp_path / "out")
    out = tmp_path / "feedback"
    assert main(["feedback", str(tmp_path / "out"), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "6 page(s) in es (1 for a broken submission" in err
    bob = (out / page_name("bob")).read_text(encoding="utf-8")
    assert '<html lang="es">' in bob and "Qué hacer ahora" in bob
    rows = read_rows(out / SUMMARY_FILE)
    assert [row["id"] for row in rows] == ["alice", "bob", "carol", SCRIPT_ID, "'" + FORMULA_ID, "zoë"]
    carol = rows[2]
    assert (carol["status"], carol["score"], carol["max_score"]) == ("error", "", "")  # never a 0
    assert carol["summary"].startswith("MLflow kata: No se pudo calificar lo que entregaste")
    assert rows[1]["page"] == page_name("bob") and rows[1]["score"] == "12"
    assert main(["feedback", str(tmp_path / "out" / "results.json"), "--out", str(out), "--lang", "en"]) == 0
    assert '<html lang="en">' in (out / page_name("bob")).read_text(encoding="utf-8")


def expected_verdicts(results: ClassResults, sub: SubmissionResult, not_attempted: str) -> dict[str, tuple]:
    """Each TODO's JUnit verdict as results.json gives it: (element, type, message)."""
    expected = {}
    for todo in results.todos:
        result = sub.todos.get(todo.id)
        if sub.status == "error":
            expected[todo.id] = ("Error", "broken submission", sub.message)
        elif result is None:
            expected[todo.id] = ("Skipped", None, None)
        elif result.status == "pass":
            expected[todo.id] = (None, None, None)
        elif todo.task in sub.not_started and "kit error" not in result.message:
            expected[todo.id] = ("Failure", "not attempted", not_attempted.format(file=f"exercises/{todo.module}.py"))
        elif result.status == "fail":
            expected[todo.id] = ("Failure", "fail", result.message)
        else:
            expected[todo.id] = ("Error", str(result.status), result.message)
    return expected


def test_kata_feedback_writes_each_students_junit_with_the_verdicts_of_results_json(tmp_path, capsys):
    """Beside each page, the student's own JUnit XML in the page's language: one suite, one
    case per TODO with the verdict and message results.json gives it ("not attempted" for a
    task handed in as the stub), the broken upload's reason on each TODO; no other
    student's id, no seed. Read back by junitparser, xunitparser and junit2html."""
    from junit2htmlreport.parser import Junit
    from junitparser import JUnitXml
    import xunitparser

    results = demo_results("es")
    write_results_json(results, tmp_path / "out")
    assert main(["feedback", str(tmp_path / "out"), "--out", str(tmp_path / "feedback")]) == 0
    assert "4 student(s) did not start a task" in capsys.readouterr().err
    rows = read_rows(tmp_path / "feedback" / SUMMARY_FILE)
    assert [row["id"] for row in rows] == [sub.id for sub in results.submissions]
    known = todo_by_id()
    not_attempted = ("Aún sin intentar: {file} sigue tal como venía en el kit, así que este TODO falla como al "
                     "principio.")
    for row, sub in zip(rows, results.submissions):
        path = tmp_path / "feedback" / row["junit"]
        assert row["junit"] == row["page"].removesuffix(".html") + ".xml"
        text = path.read_text(encoding="utf-8")
        suites = list(JUnitXml.fromfile(str(path)))
        assert [suite.name for suite in suites] == [sub.id]
        cases = list(suites[0])
        assert [case.name.split(" ", 1)[0] for case in cases] == [todo.id for todo in results.todos]
        with i18n.use("es"):
            assert cases[0].name == f"1.1 {known['1.1'].shown_title}"
        seen = {case.name.split(" ", 1)[0]: case for case in cases}
        for todo_id, (element, kind, message) in expected_verdicts(results, sub, not_attempted).items():
            got = seen[todo_id].result
            assert [type(item).__name__ for item in got] == ([element] if element else []), (sub.id, todo_id)
            if element in ("Failure", "Error"):
                assert (got[0].type, got[0].message) == (kind, message), (sub.id, todo_id)
            if sub.status == "graded":
                assert seen[todo_id].time == sub.todos[todo_id].duration_s
        said = suites[0]._elem.findtext("system-out")
        assert said == row["summary"] and ("sin empezar" in said) == bool(sub.not_started)
        assert not [other for other in others(results, sub.id) if other in text] and "demo-class" not in text
        suite, outcome = xunitparser.parse(path.open(encoding="utf-8"))
        assert outcome.testsRun == len(results.todos) and suite.properties == {}
        assert len(outcome.failures) == sum(1 for verdict in expected_verdicts(results, sub, "").values()
                                            if verdict[0] == "Failure")
        report = Junit(str(path))
        assert [case.outcome() for case in report.suites[0].all()] == [
            {None: "passed", "Failure": "failed", "Error": "failed", "Skipped": "skipped"}[verdict[0]]
            for verdict in expected_verdicts(results, sub, "").values()]
        html = report.html()
        assert escape(sub.id) in html and ("sin intentar" in html) == bool(sub.not_started)


def test_kata_feedback_refuses_a_results_json_that_is_not_one_and_writes_nothing(tmp_path, capsys):
    write_results_json(sample_class(), tmp_path / "out")
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    data["submissions"][1]["score"] = 15  # bob's TODOs give 12
    (tmp_path / "out" / "results.json").write_text(json.dumps(data))
    assert main(["feedback", str(tmp_path / "out"), "--out", str(tmp_path / "feedback")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "records 15/15 but its TODOs give 12/15" in err
    assert not (tmp_path / "feedback").exists()


# -- on a phone ------------------------------------------------------------------------------


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_a_page_fits_a_phone_in_chromium(tmp_path):
    """At 390 px nothing scrolls sideways, even a message with a 300-character token; the
    page's own CSP lets its CSS apply (no violation logged)."""
    todos = all_todos("pass")
    todos["3.3"] = TodoResult("fail", "TODO 3.3: the model at runs:/" + "f" * 300 + "/model predicts\n  other values")
    todos["4.3"] = TodoResult("timeout", "TODO 4.3: student code took longer than 30 s")
    results = ClassResults(kit=KIT, submissions=[SubmissionResult("María José", "graded", todos, 1.0)])
    html = render_page(results, results.submissions[0], "es")
    page = tmp_path / "page.html"
    page.write_text(html, encoding="utf-8")
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    shown = subprocess.run([*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=90, check=True)
    assert "María José" in shown.stdout
    assert not [line for line in shown.stderr.splitlines() if "Content Security Policy" in line]
    # Headless Chromium's window is at least 500 px wide: the page goes in a 390 px frame
    # (srcdoc: the frame's document is the page, with its own CSP, and the outer page's
    # script may read it) and the script writes down how wide its layout is.
    frame = tmp_path / "phone.html"
    frame.write_text(PHONE_FRAME.replace("{page}", escape(html, quote=True)), encoding="utf-8")
    dom = subprocess.run([*base, "--window-size=500,2400", "--dump-dom", frame.as_uri()], capture_output=True,
                         text=True, timeout=90, check=True).stdout
    found = re.search(r'data-width="(\d+)" data-client="(\d+)"', dom)
    assert found, "the frame did not load"
    width, client = int(found[1]), int(found[2])
    assert client == 390 and width <= 390, f"the page takes {width} px in a 390 px frame: it scrolls sideways"
    png = tmp_path / "phone.png"
    subprocess.run([*base, "--window-size=390,2400", f"--screenshot={png}", frame.as_uri()], capture_output=True,
                   timeout=90, check=True)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shutil.copyfile(png, PHONE_SCREENSHOT_COPY)


PHONE_FRAME = """<!DOCTYPE html><html><head><style>body { margin: 0; } iframe { border: 0; display: block; }</style>
</head><body><iframe id="phone" width="390" height="2400" srcdoc="{page}"></iframe>
<script>
document.getElementById("phone").addEventListener("load", function () {
  var root = this.contentDocument.documentElement;
  document.body.setAttribute("data-width", String(root.scrollWidth));
  document.body.setAttribute("data-client", String(root.clientWidth));
});
</script></body></html>"""
