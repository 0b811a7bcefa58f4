"""The class report in a real (headless) Chromium: its CSP lets our CSS and JS run, the
grid and SVG charts are in the live DOM, and clicking a header sorts the grid.

Skipped when Chromium is not installed (Debian: ``apt-get install chromium``). The last
test leaves screenshots in /tmp/report-screenshot.png (first screen) and
/tmp/report-screenshot-tall.png for a human look.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest

from grader.report import render_report
from report_samples import FORMULA_ID, SCRIPT_ID, sample_class

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                "(apt-get install chromium) - the browser check needs it")
SCREENSHOT_COPY = Path("/tmp/report-screenshot.png")  # the first screen, as an instructor sees it
TALL_SCREENSHOT_COPY = Path("/tmp/report-screenshot-tall.png")  # down to the student sections


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
    path.write_text(render_report(sample_class(), logs={"bob": "logs/bob.html"}), encoding="utf-8")
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
