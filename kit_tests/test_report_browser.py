"""The class report in a real (headless) Chromium: its CSP lets our CSS and JS run, the
grid, SVG charts, failure clusters and similar pairs are in the live DOM, clicking a
header sorts the grid, "hardest first" reorders the TODOs, and "failures only" hides the
students with full marks (and is remembered over a reload).

Skipped when Chromium is not installed (Debian: ``apt-get install chromium``). The
screenshot tests leave /tmp/report-screenshot.png (first screen),
/tmp/report-screenshot-tall.png and /tmp/report-screenshot-big-class.png (300 students)
for a human look; the phone test /tmp/report-screenshot-390.png.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import pytest

from grader.reports.report import render_report
from report_samples import FORMULA_ID, SCRIPT_ID, big_class, clustered_class, sample_class

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                "(apt-get install chromium) - the browser check needs it")
SCREENSHOT_COPY = Path("/tmp/report-screenshot.png")  # the first screen, as an instructor sees it
TALL_SCREENSHOT_COPY = Path("/tmp/report-screenshot-tall.png")  # down to the student sections
BIG_SCREENSHOT_COPY = Path("/tmp/report-screenshot-big-class.png")  # 300 students, failures only
PHONE_SCREENSHOT_COPY = Path("/tmp/report-screenshot-390.png")  # a phone's 390 px, down to the students


@dataclass(frozen=True)
class Pair:
    """What the report reads of a similar pair (the similarity module's own type has these)."""

    first: str
    second: str
    score: float
    files: tuple[str, ...]
    href: str | None


def chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium on ``page`` with no network, profile or sandbox of its own."""
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
               "--enable-logging=stderr", "--v=0", *args, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=True)


def console_errors(run: subprocess.CompletedProcess) -> list[str]:
    """Console lines Chromium logged about CSP violations or script errors."""
    return [line for line in run.stderr.splitlines() if ":CONSOLE" in line
            and re.search(r"Content Security Policy|Uncaught|Refused", line)]


@pytest.fixture
def page(tmp_path):
    path = tmp_path / "index.html"
    pairs = [Pair("bob", SCRIPT_ID, 0.81, ("task2_tuning.py",), None),
             Pair("alice", "zoë", 0.97, ("task1_baseline.py", "task3_compare.py"), "similar/alice--zoe.html")]
    path.write_text(render_report(sample_class(), logs={"bob": "logs/bob.html"}, similar_pairs=pairs),
                    encoding="utf-8")
    return path


def grid_order(dom: str) -> list[str]:
    """The grid's submission ids, top to bottom, as the student wrote them."""
    return [unescape(i) for i in re.findall(r'<tr data-id="([^"]*)"', dom)]


def test_the_browser_runs_the_reports_script_and_shows_grid_and_charts(tmp_path, page):
    run = chromium(tmp_path, page, "--dump-dom")
    dom = run.stdout
    assert re.search(r'<body[^>]*\bdata-ready="1"', dom), "the inline script did not run"
    assert console_errors(run) == []  # CSP hashes match: our CSS and JS were applied
    assert grid_order(dom) == ["alice", "bob", "carol", SCRIPT_ID, FORMULA_ID, "zoë"]
    assert len(re.findall(r"<svg\b", dom)) >= 2
    assert len(re.findall(r'<rect class="bar"', dom)) == 16  # scores 0..15
    assert dom.count('<rect class="pass"') == 17  # one pass bar per TODO, bonus included
    assert "<script>alert" not in dom
    assert re.search(r'<div class="rates-order" id="rates-order"[^>]*>', dom)[0].find("hidden") == -1
    similar = dom.split('id="similar-table"', 1)[1].split("</table>", 1)[0]
    ranked = re.findall(r"<tr><td class=\"num\">(\d)</td>\s*<td><a href=\"#([^\"]+)\">", similar)
    assert ranked == [("1", "s-alice"), ("2", "s-bob")]  # highest score first, linked
    assert '<a href="similar/alice--zoe.html">compare</a>' in similar and "97%" in similar


def todo_order(dom: str) -> list[str]:
    """The pass-rate chart's TODOs, top to bottom as drawn (by their translate y)."""
    lines = re.findall(r'<g class="rate-line" transform="translate\(0 ([\d.]+)\)"[^>]*data-todo="([^"]+)"', dom)
    return [todo for _, todo in sorted(lines, key=lambda line: float(line[0]))]


def test_clusters_hardest_first_and_failures_only_work_in_the_browser(tmp_path):
    page = tmp_path / "clustered.html"
    page.write_text(render_report(clustered_class()), encoding="utf-8")
    run = chromium(tmp_path, page, "--dump-dom")
    dom = run.stdout
    assert console_errors(run) == []
    clusters = re.findall(r'<li class="cluster" data-todo="([^"]+)" data-count="(\d+)">(.*?)</li>', dom, re.S)
    assert [(todo, count) for todo, count, _ in clusters] == [
        ("4.3", "3"), ("1.2", "2"), ("2.1", "1"), ("B.1", "1")]
    assert "3 students</strong>" in clusters[0][2]
    assert re.findall(r'<a href="#(s-[^"]+)">', clusters[0][2]) == ["s-ana", "s-ben", "s-dee"]
    assert "TODO 4.3: expected alias &#39;staging&#39;" in clusters[0][2] or \
        "TODO 4.3: expected alias 'staging'" in clusters[0][2]
    assert todo_order(dom)[:3] == ["1.1", "1.2", "1.3"]  # TODO order until asked

    clicked = scripted_dom(tmp_path, page, "clicked", """
      document.querySelector('#rates-order button[data-order="hardest"]').click();
      document.getElementById("failures-only").click();
      var shown = Array.prototype.filter.call(document.querySelectorAll("#grid tbody tr"),
        function (tr) { return tr.offsetParent !== null; });
      var sections = Array.prototype.filter.call(document.querySelectorAll("section.student"),
        function (section) { return section.offsetParent !== null; });
      document.body.setAttribute("data-shown", shown.map(function (tr) { return tr.getAttribute("data-id"); }).join(","));
      document.body.setAttribute("data-sections", String(sections.length));""")
    assert todo_order(clicked)[:5] == ["4.3", "1.2", "2.1", "B.1", "1.1"]  # 57 %, 71 %, 86 %, 86 %, 100 %
    rates_table = clicked.split('id="rates-table"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'<tr data-index="\d+"[^>]*><td>([^<]+)</td>', rates_table)[:2] == ["4.3", "1.2"]
    assert 'data-order="hardest" aria-pressed="true"' in clicked
    assert re.search(r'data-shown="ana,ben,dee,eve,fay"', clicked)  # cai (bonus only) and gus hidden
    assert 'data-sections="5"' in clicked
    assert "showing 5 of 7" in clicked

    again = chromium(tmp_path, page, "--dump-dom").stdout  # same profile: a reload
    assert re.search(r'<input type="checkbox" id="failures-only"', again)
    assert "showing 5 of 7" in again, "failures only was not remembered over a reload"


CLICK = """<script>
document.addEventListener("DOMContentLoaded", function () {
  var button = document.querySelector('#grid th[data-col="%s"] button');
  for (var i = 0; i < %d; i++) { button.click(); }
});
</script></body>"""


def sorted_dom(tmp_path: Path, page: Path, col: str, clicks: int) -> str:
    """The DOM after clicking a header: a copy of the page with a clicking script added
    (and the CSP, which would rightly block that script, removed)."""
    html = page.read_text(encoding="utf-8")
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    copy = tmp_path / f"sorted-{col}-{clicks}.html"
    copy.write_text(html.replace("</body>", CLICK % (col, clicks)), encoding="utf-8")
    return chromium(tmp_path, copy, "--dump-dom").stdout


def scripted_dom(tmp_path: Path, page: Path, name: str, script: str) -> str:
    """The DOM after ``script`` ran once the report's own script was wired (same trick
    as ``sorted_dom``: a copy without the CSP that would block the added script)."""
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "",
                  page.read_text(encoding="utf-8"))
    added = ('<script>document.addEventListener("DOMContentLoaded", function () {'
             + script + "});</script></body>")
    copy = tmp_path / f"{name}.html"
    copy.write_text(html.replace("</body>", added), encoding="utf-8")
    return chromium(tmp_path, copy, "--dump-dom").stdout


def test_clicking_the_score_header_sorts_best_first_then_reverses(tmp_path, page):
    once = sorted_dom(tmp_path, page, "2", 1)
    assert re.search(r'<th scope="col" data-col="2"[^>]*aria-sort="descending"', once)
    order = grid_order(once)
    assert order == ["alice", "zoë", SCRIPT_ID, "bob", FORMULA_ID, "carol"]  # 15 15 14 12 0 -
    assert grid_order(sorted_dom(tmp_path, page, "2", 2))[0] == "carol"


def test_clicking_the_student_header_sorts_ids_alphabetically(tmp_path, page):
    order = grid_order(sorted_dom(tmp_path, page, "0", 1))
    assert order.index("alice") < order.index("bob") < order.index("carol") < order.index("zoë")


def test_screenshots_of_the_report_are_saved(tmp_path, page):
    for size, copy in (("1400,1000", SCREENSHOT_COPY), ("1400,2200", TALL_SCREENSHOT_COPY)):
        png = tmp_path / f"report-{size.replace(',', 'x')}.png"
        chromium(tmp_path, page, f"--screenshot={png}", f"--window-size={size}",
                 "--hide-scrollbars")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        shutil.copyfile(png, copy)


def test_a_big_class_with_failures_only_on_is_screenshot(tmp_path):
    """300 students, the toggle on (as remembered from an earlier visit): a human looks at
    the copy; the test checks the page drew and the toggle's count."""
    page = tmp_path / "big.html"
    html = render_report(big_class(300), similar_pairs=[])
    page.write_text(html, encoding="utf-8")
    dom = scripted_dom(tmp_path, page, "big-on", 'document.getElementById("failures-only").click();')
    shown = int(re.search(r"showing (\d+) of 300", dom)[1])
    assert 0 < shown < 300 and "No pair above the threshold." in dom
    chromium(tmp_path, page, "--dump-dom")  # the remembered toggle is on for the screenshot
    png = tmp_path / "big.png"
    chromium(tmp_path, page, f"--screenshot={png}", "--window-size=1400,3600", "--hide-scrollbars")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    shutil.copyfile(png, BIG_SCREENSHOT_COPY)


FC_LIST = shutil.which("fc-list")


@pytest.mark.skipif(FC_LIST is None, reason="fc-list (fontconfig) is not installed")
def test_every_character_the_report_draws_is_in_an_installed_font():
    """A symbol no font has shows as an empty box (the hourglass did): every non-ASCII
    character of a rendered report, its CSS and JS included, must be in some font
    fontconfig knows, which is where Chromium looks too."""
    html = render_report(sample_class(), similar_pairs=[])
    missing = [f"{char} U+{ord(char):04X}" for char in sorted({c for c in html if ord(c) > 127})
               if not subprocess.run([FC_LIST, f":charset={ord(char):x}", "family"],
                                     capture_output=True, text=True, check=True).stdout.strip()]
    assert missing == []
    assert "⌛" not in html  # U+231B: in no font of a plain Debian (DejaVu, Liberation)


# -- a phone ------------------------------------------------------------------------------
FLOOD = "TODO 4.1: expected a run named 'x', but found the run '" + ".-" * 10_000 + "'"
# what a passing 4.3 that used a stage is told, in both languages: one long line
STAGES = (
    "TODO 4.3: accepted, but stages are deprecated: use an alias instead, "
    "client.set_registered_model_alias(name, 'staging', version) / aceptado, pero las etapas están obsoletas: "
    "usa un alias, client.set_registered_model_alias(name, 'staging', version)"
)
TRACEBACK = "TODO 2.1: task2_tuning.py crashed:\n" + "\n".join(f"  File 'task2_tuning.py', line {n}" for n in range(200))


def phone_class():
    """The big class, two of its students with the messages a real class holds: a quoted
    run name of 20,000 characters, a 200-line traceback."""
    from grader.results.model import TodoResult

    results = big_class(300)
    results.submissions[1].todos["4.1"] = TodoResult("fail", FLOOD, 1.0)
    results.submissions[2].todos["2.1"] = TodoResult("error", TRACEBACK, 1.0)
    results.submissions[3].todos["4.3"] = TodoResult("pass", STAGES, 1.0)  # a passed TODO with a note
    return results


LAYOUT = """(function () {
  var messages = Array.from(document.querySelectorAll("table.detail td.message"))
    .filter(function (td) { return td.textContent.trim(); });
  return {width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight,
          viewport: window.innerWidth,
          narrowest: Math.min.apply(null, messages.map(function (td) { return td.getBoundingClientRect().width; })),
          tallest: Math.max.apply(null, messages.map(function (td) { return td.getBoundingClientRect().height; })),
          messages: messages.length};
})()"""


def test_the_report_is_readable_on_a_phone(tmp_path):
    """At a phone's 390 CSS pixels (a real viewport, not a window Chromium lays out 500
    wide): the page never scrolls sideways (the grid and the tables scroll in their
    boxes), every message gets the section's width (it had one character's: the fixed
    columns beside it took 45rem), a long message folds under its first line, and the
    page is about as tall as on a desktop (1.47 million pixels before, for 300 students)."""
    from browser import BrowserPage

    page = tmp_path / "phone.html"
    pairs = [Pair("student001", "student002", 0.93, ("task1_baseline.py",), "similarity/1.html")]
    page.write_text(render_report(phone_class(), similar_pairs=pairs), encoding="utf-8")
    with BrowserPage(page, tmp_path / "desktop", width=1400, height=1000) as desktop:
        wide = desktop.evaluate(LAYOUT)
    with BrowserPage(page, tmp_path / "phone", width=390, height=844) as phone:
        assert phone.problems() == []
        layout = phone.evaluate(LAYOUT)
        grid = phone.evaluate("""(function () { var box = document.querySelector(".grid-wrap");
          return [box.getBoundingClientRect().width, box.scrollWidth, box.getBoundingClientRect().height]; })()""")
        folded = phone.evaluate("""Array.from(document.querySelectorAll("td.message details"))
          .map(function (d) { return [d.open, d.getBoundingClientRect().height, d.textContent.length]; })""")
        phone.screenshot(tmp_path / "phone.png")
    assert layout["viewport"] == 390 and layout["width"] <= 390
    assert layout["messages"] > 500 and layout["narrowest"] >= 300
    assert grid[0] <= 390 and grid[1] > grid[0] and grid[2] <= 844  # the grid scrolls inside its box
    assert folded and all(not is_open and height < 100 for is_open, height, _ in folded)  # a few lines
    assert max(length for _, _, length in folded) >= len(FLOOD)  # folded, not cut
    assert layout["tallest"] < 120
    assert layout["height"] < 1.2 * wide["height"], (layout["height"], wide["height"])
    shutil.copyfile(tmp_path / "phone.png", PHONE_SCREENSHOT_COPY)


# -- how the class got there (the students' journals) -----------------------------------------
JOURNEY_SCREENSHOT_COPY = Path("/tmp/report-screenshot-journey-390.png")  # the section at a phone's 390 px
JOURNEY_LAYOUT = """(function () {
  var section = document.getElementById("journey"), rect = section.getBoundingClientRect();
  var end = document.getElementById("grid-title").getBoundingClientRect();
  var timelines = Array.from(document.querySelectorAll("svg.timeline")).map(function (svg) {
    var box = svg.getBoundingClientRect(), parent = svg.parentElement.getBoundingClientRect();
    return [box.width, box.height, parent.width, svg.querySelectorAll("rect").length]; });
  var links = Array.from(document.querySelectorAll(".journey-messages a, #journey-flags a"));
  return {width: document.documentElement.scrollWidth, top: rect.top + window.scrollY,
          height: end.top - rect.top, timelines: timelines,
          widest: Math.max.apply(null, Array.from(document.querySelectorAll(".journey-todo, .journey-notes"))
            .map(function (el) { return el.getBoundingClientRect().right; })),
          targets: links.map(function (a) { return !!document.getElementById(a.getAttribute("href").slice(1)); }),
          title: section.textContent};
})()"""


def test_how_the_class_got_there_in_the_browser_and_on_a_phone(tmp_path):
    """The section of a synthetic class with journals (no grading): the page keeps its CSP
    and logs nothing, never scrolls sideways at 390 px, each student's timeline fits its
    section (200 runs: the newest 120, narrower cells), and every student a message or a
    flag names links to an element of the page."""
    from browser import BrowserPage
    from report_samples import journal_class, journal_summary

    results = journal_class()
    zoe = next(sub for sub in results.submissions if sub.id == "zoë")
    zoe.journal = journal_summary(*[{"1.1": "fail" if n % 3 else "pass"} for n in range(200)], step=5)
    page = tmp_path / "journey.html"
    page.write_text(render_report(results, similar_pairs=[]), encoding="utf-8")
    with BrowserPage(page, tmp_path / "phone", width=390, height=844) as phone:
        assert phone.problems() == []
        layout = phone.evaluate(JOURNEY_LAYOUT)
        shot = phone.send("Page.captureScreenshot", session=True, format="png", captureBeyondViewport=True,
                          clip={"x": 0, "y": layout["top"], "width": 390, "height": min(layout["height"], 4000),
                                "scale": 1})
    assert layout["width"] <= 390 and layout["widest"] <= 390
    assert "How the class got there" in layout["title"]
    assert sorted(count for *_, count in layout["timelines"]) == [2, 2, 5, 120]
    assert all(width <= parent and height == 12 for width, height, parent, _ in layout["timelines"])
    assert layout["targets"] and all(layout["targets"])
    import base64

    JOURNEY_SCREENSHOT_COPY.write_bytes(base64.b64decode(shot["data"]))
    assert JOURNEY_SCREENSHOT_COPY.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
