"""What ``kata grade`` leaves in OUT: results.json, grades.csv and index.html."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, replace
from html import unescape

import jsonschema
import pytest

from grader.core import files
from grader.core.files import write_atomic
from grader.reports.class_files import write_all, write_grades_csv, write_results_json
from grader.core.paths import KIT_ROOT
from grader.reports.report import render_report, safe_relative_href
from grader.results.model import ClassResults, KataRun, Status, SubmissionResult, TodoResult, score
from grader.lab.todos import load_todos
from report_samples import (ALIAS_MISSING, BOB_NOTE, BROKEN_REASON, FORMULA_ID, KIT, SCRIPT_ID,
                            big_class, clustered_class, sample_class)

TODO_IDS = [todo.id for todo in load_todos()]
SCHEMA = json.loads((KIT_ROOT / "grader" / "results" / "results.schema.json").read_text())
REMOTE_REF = re.compile(r"""\b(?:src|href|xlink:href|action)\s*=\s*["']?\s*(?:[a-z][\w+.-]*:)?//""", re.I)


@pytest.fixture
def results():
    return sample_class()


@pytest.fixture
def html(results):
    return render_report(results, logs={"bob": "logs/bob.html"}, generated_at="2025-01-01 10:00")


def test_results_json_has_exactly_the_schema_keys(results, tmp_path):
    data = json.loads(write_results_json(results, tmp_path).read_text(encoding="utf-8"))
    assert set(data) == {"schema_version", "kit", "todos", "submissions"}
    assert data["schema_version"] == 1 and data["kit"] == KIT
    assert [t["id"] for t in data["todos"]] == TODO_IDS
    assert all(set(t) == {"id", "task", "title", "points", "bonus"} for t in data["todos"])
    for sub in data["submissions"]:
        expected = {"id", "status", "score", "max_score", "todos", "duration_s"}
        noted = sub["status"] == "error" or sub["id"] == "bob"  # a broken one's reason, a graded one's notes
        assert set(sub) == (expected | {"message"} if noted else expected)
        assert all(set(todo) == {"status", "message"} for todo in sub["todos"].values())
    bob = data["submissions"][1]
    assert (bob["score"], bob["max_score"]) == (12, 15)
    assert bob["todos"]["4.3"]["status"] == "timeout"
    assert data["submissions"][2] == {"id": "carol", "status": "error", "score": 0,
                                      "max_score": 15, "todos": {}, "duration_s": 0.01,
                                      "message": BROKEN_REASON}


def test_results_json_round_trips_through_from_json(results, tmp_path):
    data = json.loads(write_results_json(results, tmp_path).read_text(encoding="utf-8"))
    again = [SubmissionResult.from_json(sub) for sub in data["submissions"]]
    assert [s.to_json() for s in again] == [s.to_json() for s in results.submissions]


def timed_class() -> ClassResults:
    """Two graded students whose TODO results carry their tests' time, and a broken one."""
    todos = {todo.id: TodoResult(Status.PASS, "", 0.1 * (k + 1) + 0.00049)
             for k, todo in enumerate(load_todos())}
    slow = dict(todos, **{"2.3": TodoResult(Status.TIMEOUT, "TODO 2.3: too slow", 61.23456)})
    return ClassResults(kit={**KIT, "seed": "5eed5eed"}, submissions=[
        SubmissionResult("ana", "graded", todos, duration_s=20.0),
        SubmissionResult("ben", "graded", slow, duration_s=80.0),
        SubmissionResult("cai", "error", {}, duration_s=0.0, message=BROKEN_REASON)])


def test_each_todo_result_carries_its_time_in_results_json(tmp_path):
    data = json.loads(write_results_json(timed_class(), tmp_path).read_text(encoding="utf-8"))
    jsonschema.validate(data, SCHEMA)
    assert data["kit"]["seed"] == "5eed5eed"
    ana, ben = data["submissions"][:2]
    assert ana["todos"]["1.1"] == {"status": "pass", "message": "", "duration_s": 0.1}
    assert ana["todos"]["1.2"]["duration_s"] == 0.2
    assert ben["todos"]["2.3"] == {"status": "timeout", "message": "TODO 2.3: too slow",
                                   "duration_s": 61.235}
    again = [SubmissionResult.from_json(sub).to_json() for sub in data["submissions"]]
    assert again == data["submissions"]


def test_the_schema_refuses_a_negative_todo_time_and_an_unsafe_seed(tmp_path):
    data = json.loads(write_results_json(timed_class(), tmp_path).read_text(encoding="utf-8"))
    data["submissions"][0]["todos"]["1.1"]["duration_s"] = -1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA)
    data = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    data["kit"]["seed"] = "a b"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA)


def student_section(html: str, anchor: str) -> str:
    return html.split(f'<section class="student" id="{anchor}"', 1)[1].split("</section>", 1)[0]


def test_report_shows_each_todos_time_in_the_student_section_only():
    html = render_report(timed_class(), generated_at="2025-01-01 10:00")
    ben = student_section(html, "s-ben")
    assert '<th scope="col" class="time">Time</th>' in ben
    rows = re.findall(r'<td class="id">([^<]+)</td>.*?<td class="time">([^<]+)</td>', ben)
    assert dict(rows)["2.3"] == "61.2 s" and dict(rows)["1.1"] == "0.1 s"
    assert len(rows) == len(TODO_IDS)
    grid = html.split('<tr data-id="ben"', 1)[1].split("</tr>", 1)[0]
    assert "61.2 s" not in grid  # the grid keeps one time per student
    assert "seed 5eed5eed" in html


def test_report_without_todo_times_has_no_time_column(html):
    assert '<td class="time">' not in html and 'class="time">Time</th>' not in html
    assert "· seed" not in html  # the sample's kit has no seed


def test_statuses_are_the_four_verdicts_and_serialise_as_plain_strings():
    assert [status.value for status in Status] == ["pass", "fail", "error", "timeout"]
    assert json.dumps(TodoResult("fail", "x").to_json()) == '{"status": "fail", "message": "x"}'
    assert TodoResult("error").status is Status.ERROR
    with pytest.raises(ValueError):
        TodoResult("passed")


def test_a_kata_run_round_trips_as_the_worker_reply_and_the_check_json():
    run = KataRun({"1.1": TodoResult(Status.PASS, "", 1.5), "1.2": TodoResult(Status.FAIL, "no", 0.25)},
                  12.3456, ["collection error in x"])
    data = json.loads(json.dumps({"id": "ana", **run.to_json()}))
    assert set(data) == {"id", "todos", "problems", "duration_s"}
    again = KataRun.from_json(data)
    assert again == replace(run, duration_s=12.346)
    assert again.failed() == {"1.2"}


def test_score_counts_the_points_of_the_todo_table_not_a_fixed_fifteen():
    table = [replace(todo, points=3) if todo.id == "1.1" else todo for todo in load_todos()]
    passed = {todo.id: TodoResult(Status.PASS) for todo in table}
    plain = sum(1 for todo in table if not todo.bonus)
    assert score(passed, table) == (plain + 2, plain + 2)
    one_fails = dict(passed, **{"1.1": TodoResult(Status.FAIL)})
    assert score(one_fails, table) == (plain - 1, plain + 2)
    assert score(dict(passed, **{"B.1": TodoResult(Status.FAIL)}), table) == (plain + 2, plain + 2)
    assert score(passed, table, within=["1.1", "1.2", "B.1"]) == (4, 4)  # kata check --task


def test_kit_errors_are_counted_over_every_submission():
    results = timed_class()
    assert results.kit_errors() == 0
    results.submissions[0].todos["B.1"] = TodoResult(Status.ERROR, "TODO B.1: kit error: the model server could not start")
    results.submissions[1].todos["4.1"] = TodoResult(Status.ERROR, "TODO 4.1: kit error: seeding failed")
    results.submissions[1].todos["4.2"] = TodoResult(Status.FAIL, "TODO 4.2: expected the alias")
    assert results.kit_errors() == 2


def test_results_json_is_indented_utf8_with_non_ascii_kept(results, tmp_path):
    raw = write_results_json(results, tmp_path).read_bytes()
    assert '"zoë"'.encode() in raw and b"\\u00eb" not in raw
    assert raw.startswith(b'{\n  "schema_version": 1,')


def read_grades(path):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_grades_csv_has_one_column_per_todo_including_bonus(results, tmp_path):
    path = write_grades_csv(results, tmp_path)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle))
    assert header == ["id", "status", "score", "max_score", *TODO_IDS]
    assert "B.1" in header and "B.2" in header


def test_grades_csv_has_one_row_per_submission_with_1_only_for_passes(results, tmp_path):
    rows = read_grades(write_grades_csv(results, tmp_path))
    assert [row["id"] for row in rows] == ["alice", "bob", "carol", SCRIPT_ID, "'" + FORMULA_ID, "zoë"]
    alice, bob, carol = rows[:3]
    assert alice["score"] == "15" and all(alice[t] == "1" for t in TODO_IDS)
    assert (bob["status"], bob["score"], bob["max_score"]) == ("graded", "12", "15")
    assert {t for t in TODO_IDS if bob[t] == "0"} == {"2.1", "3.2", "4.3", "B.1", "B.2"}
    assert carol["status"] == "error" and carol["score"] == ""  # not graded: blank, never a 0
    assert all(carol[t] == "" for t in TODO_IDS)


def test_grades_csv_defuses_ids_a_spreadsheet_would_run_as_formulas(results, tmp_path):
    for bad in ("=1+1", "+cmd", "-2", "@SUM(A1)"):
        results.submissions.append(SubmissionResult(bad, "error", message="x"))
    ids = [row["id"] for row in read_grades(write_grades_csv(results, tmp_path))]
    assert not any(i.startswith(("=", "+", "-", "@")) for i in ids)
    assert ids[-4:] == ["'=1+1", "'+cmd", "'-2", "'@SUM(A1)"]


def test_grades_csv_starts_with_a_bom_and_uses_crlf_for_spreadsheets(results, tmp_path):
    raw = write_grades_csv(results, tmp_path).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfid,status,score,max_score,1.1,")
    assert raw.count(b"\r\n") == len(results.submissions) + 1


def test_report_escapes_student_ids_and_messages(html):
    assert html.count("<script") == 1  # ours, at the end of <body>
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;id&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_report_only_runs_its_own_inline_css_and_js(html):
    csp = unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)[1])
    script = re.search(r"<script>(.*?)</script>", html, re.S).group(1)
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    for kind, text in (("script-src", script), ("style-src", style)):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"{kind} 'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp


def test_report_contains_every_submission_and_every_todo(results, html):
    for sub in results.submissions:
        escaped = (sub.id.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                   .replace('"', "&#34;").replace("'", "&#39;"))
        assert f"<tr data-id=\"{escaped}\"" in html
    for todo in load_todos():
        assert f"<button type=\"button\">{todo.id}</button>" in html
        assert todo.title.replace("'", "&#39;") in html
    assert html.count('<section class="student') == len(results.submissions)


def test_report_fetches_nothing_from_the_network(html):
    assert not REMOTE_REF.findall(html)
    assert "@import" not in html and "url(" not in html


def test_report_flags_the_broken_submission_with_its_reason(html):
    assert '<tr data-id="carol" class="broken">' in html
    row = html.split('<tr data-id="carol"', 1)[1].split("</tr>", 1)[0]
    assert "⚠ broken" in row and BROKEN_REASON in row
    assert "1 submission could not be graded" in html


def test_report_shows_the_notes_of_a_graded_submission_in_its_section(html):
    """What the grader noticed about a graded submission (a missing task file, where its
    files were found) is in results.json; the instructor reads it in the report too."""
    bob = html.split('id="s-bob"', 1)[1].split("</section>", 1)[0]
    assert f'<p class="notes">Graded, with notes: {BOB_NOTE}</p>' in bob
    alice = html.split('id="s-alice"', 1)[1].split("</section>", 1)[0]
    assert 'class="notes"' not in alice


def test_report_shows_each_status_symbol_with_its_message_as_tooltip(html):
    bob = html.split('<tr data-id="bob"', 1)[1].split("</tr>", 1)[0]
    assert bob.count(">✓</td>") == 12
    assert 'class="st fail' in bob and 'class="st error' in bob and 'class="st timeout' in bob
    assert 'title="3.2 Metrics in one log_metrics call: error — ImportError: cannot import' in bob
    assert "</span> timed out" in html  # legend


def test_report_header_has_class_stats_and_kit_versions(html):
    assert "<dt>Submissions</dt><dd>6</dd>" in html
    assert "<dt>Mean score</dt><dd>11.2 " in html  # (15 + 12 + 14 + 0 + 15) / 5 graded
    assert "<dt>Median score</dt><dd>14 " in html
    assert "mlflow 3.17.2 · python 3.11.7 · tests 0123456789ab" in html
    assert "2025-01-01 10:00" in html


def test_report_links_the_given_logs_and_refuses_unsafe_paths(results):
    html = render_report(results, logs={"bob": "logs/bob.html", "alice": "javascript:alert(1)",
                                        "zoë": "/etc/passwd", SCRIPT_ID: "logs/a b#c.html"})
    assert 'href="logs/bob.html"' in html
    assert "javascript:" not in html and 'href="/etc/passwd"' not in html
    assert 'href="logs/a%20b%23c.html"' in html
    assert safe_relative_href("../x.html") is None
    assert safe_relative_href("//evil.example/x") is None
    assert safe_relative_href("logs\\win.html") == "logs/win.html"


def test_report_keeps_messages_whole_and_pre_wrapped_in_the_student_section(html):
    assert "<pre>TODO B.1: the server answered 400:\n  line two\n  line three</pre>" in html


def test_report_of_an_empty_class_still_renders(results):
    results.submissions.clear()
    html = render_report(results)
    assert "<dt>Submissions</dt><dd>0</dd>" in html and "<dt>Mean score</dt><dd>– " in html


@dataclass(frozen=True)
class Pair:
    """A similar pair as the report reads it (grader.classroom.similarity's type has these attributes)."""

    first: str
    second: str
    score: float
    files: tuple[str, ...] = ("task1_baseline.py",)
    href: str | None = None


def clusters_section(html: str) -> str:
    return html.split('<h2 id="clusters">', 1)[1].split("<h2 ", 1)[0]


def test_report_shows_failure_clusters_largest_first_with_their_students_linked():
    html = render_report(clustered_class(), generated_at="2025-01-01 10:00")
    clusters = re.findall(r'<li class="cluster" data-todo="([^"]+)" data-count="(\d+)">(.*?)</li>',
                          clusters_section(html), re.S)
    assert [(todo, int(count)) for todo, count, _ in clusters] == [("4.3", 3), ("1.2", 2), ("2.1", 1), ("B.1", 1)]
    alias = clusters[0][2]
    assert "<strong class=\"count\">3 students</strong> — <span class=\"todo-title\">TODO 4.3 " in alias
    expected = ALIAS_MISSING.format(model="e82fa4", version=1).replace("'", "&#39;")
    assert f'<pre class="example">{expected}</pre>' in alias  # the first of three distinct ones
    assert re.findall(r'href="#([^"]+)"', alias) == ["s-ana", "s-ben", "s-dee"]
    assert '<span class="st error" title="error">!</span> <strong class="count">1 student</strong>' in html
    assert "The 7 failing verdicts" in html


def test_report_clusters_escape_student_text_and_fold_long_lists():
    html = render_report(sample_class())
    section = clusters_section(html)
    assert "&lt;script&gt;alert(&#39;msg&#39;)" in section and "<script>alert" not in section
    assert "<img src=x" not in section
    big = clusters_section(render_report(big_class(300)))
    first = big.split("</li>", 1)[0]
    assert len(re.findall(r'<a href="#s-student', first)) == int(re.search(r'data-count="(\d+)"', first)[1])
    assert re.search(r"<summary>and \d+ more</summary>", first)  # beyond the first 15 links
    assert big.count('<li class="cluster"') > 12 and '<details class="more-clusters">' in big


def test_report_without_failures_says_so_instead_of_clusters():
    results = sample_class()
    results.submissions[:] = [sub for sub in results.submissions if sub.id in ("alice", "carol")]
    assert "No failing verdict among the graded submissions." in clusters_section(render_report(results))


def test_report_marks_students_with_full_marks_for_the_failures_only_toggle(html):
    complete = re.findall(r'<tr data-id="([^"]+)" class="complete">', html)
    assert complete == ["alice", "zoë"]  # bob, the script id and the formula id failed; carol is broken
    assert 'hide the 2 students with full marks (bonus aside)' in html
    assert html.count('<section class="student complete"') == 2
    assert '<input type="checkbox" id="failures-only">' in html


def test_report_lists_the_hardest_todos_and_orders_the_chart_by_data():
    html = render_report(clustered_class())
    assert re.search(r"Lowest pass rates: <span class=\"todo-rate\"><strong>4\.3</strong> 57%</span> · "
                     r"<span class=\"todo-rate\"><strong>1\.2</strong> 71%</span>", html)
    lines = re.findall(r'<g class="rate-line" transform="translate\(0 (\d+)\)" data-index="(\d+)" '
                       r'data-rate="([\d.]+)" data-todo="([^"]+)">', html)
    assert [(int(y), int(i)) for y, i, _, _ in lines] == [(20 * i, i) for i in range(len(TODO_IDS))]
    rates = {todo: float(rate) for _, _, rate, todo in lines}
    assert rates["4.3"] == pytest.approx(4 / 7, abs=1e-6) and rates["1.1"] == 1.0
    assert '<div class="rates-order" id="rates-order" role="group" aria-label="Order of the TODOs" hidden>' in html


def test_report_shows_each_todos_median_and_max_time_over_the_class():
    html = render_report(timed_class(), generated_at="2025-01-01 10:00")
    table = html.split('id="rates-table"', 1)[1].split("</table>", 1)[0]
    assert "<th scope=\"col\">Median time</th><th scope=\"col\">Max time</th>" in table
    row = re.search(r'<tr data-index="\d+"[^>]*><td>2\.3</td>.*?</tr>', table)[0]
    # ana 0.7 s, ben 61.2 s (cai is broken): median 31.0 s, max 61.2 s
    assert row.endswith('<td class="num">31.0 s</td><td class="num">61.2 s</td></tr>')
    assert "median 31.0 s, max 61.2 s" in html  # the chart row's tooltip
    assert "· median 0.1 s</tspan>" in html


def test_report_without_todo_times_shows_no_time_in_the_todo_table(html):
    assert "Median time" not in html and "· median" not in html


def test_report_uses_no_hourglass_for_timeouts(html):
    assert "⌛" not in html and '<span class="st timeout">◷</span> timed out' in html


def test_report_has_a_legend_beside_the_charts(html):
    charts = html.split('<h2 id="charts">', 1)[1].split('<h2 id="clusters">', 1)[0]
    legend = charts.split('<ul class="legend chart-legend"', 1)[1].split("</ul>", 1)[0]
    for css, label in (("pass", "passed"), ("fail", "failed"), ("timeout", "timed out"),
                       ("error", "error"), ("missing", "not run")):
        assert f'<span class="swatch {css}"></span>' in legend and f"</span> {label}</li>" in legend


def test_similar_pairs_are_ranked_linked_and_their_unsafe_links_dropped():
    pairs = [Pair("bob", SCRIPT_ID, 0.62, ("task2_tuning.py",), "similar/bob--x.html"),
             Pair("alice", "zoë", 0.97, ("task1_baseline.py", "task3_compare.py"), "similar/a b.html"),
             Pair("alice", "ghost", 0.8, (), "javascript:alert(1)")]
    html = render_report(sample_class(), similar_pairs=pairs)
    table = html.split('<table class="similar" id="similar-table">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td class=\"num\">(\d)</td>(.*?)</tr>", table, re.S)
    assert [rank for rank, _ in rows] == ["1", "2", "3"]
    first, second, third = (body for _, body in rows)
    assert '<a href="#s-alice">alice</a>' in first and '<a href="#s-zo">zoë</a>' in first  # ë slugged
    assert "97%" in first and "task1_baseline.py, task3_compare.py" in first
    assert '<a href="similar/a%20b.html">compare</a>' in first
    assert "<td>ghost</td>" in second and "javascript:" not in html  # unknown id: text; bad href: none
    assert "&lt;script&gt;" in third and '<a href="similar/bob--x.html">compare</a>' in third
    assert '<a href="#similar">Similar submissions</a>' in html


def test_the_similar_section_is_absent_without_pairs_and_says_so_when_empty(html):
    assert 'id="similar"' not in html and "Similar submissions" not in html
    empty = render_report(sample_class(), similar_pairs=[])
    assert '<h2 id="similar">Similar submissions</h2>' in empty
    assert "No pair above the threshold." in empty


def test_report_of_300_students_renders_fast_and_stays_small():
    started = time.monotonic()
    html = render_report(big_class(300))
    assert time.monotonic() - started < 5
    assert html.count("<tr data-id=") == 300
    assert len(html.encode()) < 4_000_000


def test_atomic_write_replaces_the_file_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "results.json"
    target.write_text("old")
    write_atomic(target, "new ✓")
    assert target.read_text(encoding="utf-8") == "new ✓"
    assert os.listdir(tmp_path) == ["results.json"]
    assert target.stat().st_mode & 0o777 == 0o644


def test_atomic_write_keeps_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    target = tmp_path / "grades.csv"
    target.write_text("old")

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["grades.csv"]


def test_write_all_writes_the_three_files_and_returns_their_paths(results, tmp_path):
    out = tmp_path / "out" / "nested"
    paths = write_all(results, out, logs={"bob": "logs/bob.html"},
                      similar_pairs=[Pair("alice", "bob", 0.9, href="similar/alice--bob.html")])
    assert [p.name for p in paths] == ["results.json", "grades.csv", "index.html"]
    assert sorted(os.listdir(out)) == ["grades.csv", "index.html", "results.json"]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="logs/bob.html"' in page and 'href="similar/alice--bob.html"' in page
    assert "Similar submissions" not in write_all(results, out)[2].read_text(encoding="utf-8")


def test_the_report_names_the_todos_in_the_grading_language():
    from grader.core import i18n
    from grader.reports.report import render_report
    from grader.lab.todos import load_todos

    with i18n.use("es"):
        spanish = render_report(sample_class())
    assert '<html lang="es">' in spanish and load_todos()[0].title_es in spanish
    assert '<html lang="en">' in render_report(sample_class())
