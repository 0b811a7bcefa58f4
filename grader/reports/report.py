"""The class report ``index.html``: one self-contained page an instructor can open offline,
mail, archive or print.

Why it is built this way:

* Student text (ids, failure messages) is untrusted: the template is rendered with
  autoescape on, and a Content-Security-Policy allows only *our* inline CSS and JS (by
  their sha256), so even a missed escape could not run a student's ``<script>``, and the
  page can't fetch anything from the network.
* No external assets: CSS and JS live next to the template (``report.css``,
  ``report.js``) and are inlined; charts are inline SVG computed here, not in JS, so they
  show with JS off and when printed.
* Numbers (stats, chart geometry, failure clusters, per-TODO times) are computed in
  Python where they can be tested; the template only lays them out. With 300 students
  the grid is the only big DOM.
* What JS adds (sorting the grid and the TODOs, remembering "failures only") is a
  convenience: the failures-only toggle is a plain checkbox that CSS (``:has``) acts on,
  and the hardest TODOs are also listed as text.
* Every symbol is one that the fonts a Linux machine usually has (DejaVu) draw; an
  hourglass, for example, showed as an empty box, so "timed out" is a clock face ``◷``.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Protocol
from urllib.parse import quote

from grader.core import i18n
from grader.lab.todos import Task, Todo, task_by_number
from grader.reports.failure_clusters import Cluster, NotStarted, cluster_failures, not_started
from grader.reports.feedback import not_attempted_message
from grader.reports.journey import StudentPath, class_path, student_path
from grader.reports.pages import asset, csp, environment
from grader.results.model import ClassResults, SubmissionResult, not_attempted

STATUSES = ("pass", "fail", "timeout", "error", "missing")  # "missing": no result recorded
SYMBOLS = {"pass": "✓", "fail": "✗", "timeout": "◷", "error": "!", "missing": "–"}
LABELS = {"pass": "passed", "fail": "failed", "timeout": "timed out", "error": "error", "missing": "not run"}
NOT_ATTEMPTED = "not attempted"  # a failing verdict of a task handed in as the stub
SORT_RANK = {"pass": 4, "fail": 3, "timeout": 2, "error": 1, "missing": 0}
TOOLTIP_CHARS = 300  # the full message is in the student's section
FOLD_CHARS = 240  # a longer message (or one of more lines) folds under its first line in the student's section
FOLD_LINES = 4
SUMMARY_CHARS = 160  # what a folded message shows of its first line
CLUSTER_EXAMPLE_CHARS = 400  # a cluster shows one message; each student's is in their section
CLUSTERS_SHOWN = 12  # the rest (the long tail of one-offs) fold under one <details>
CLUSTER_LINKS_SHOWN = 15  # students linked inline per cluster; the rest fold
HARDEST_LISTED = 5  # TODOs named in the "lowest pass rates" line


class SimilarPairLike(Protocol):
    """What the report reads of a pair of alike submissions (whatever type holds it)."""

    @property
    def first(self) -> str: ...  # submission ids
    @property
    def second(self) -> str: ...
    @property
    def score(self) -> float: ...  # 0..1
    @property
    def files(self) -> tuple[str, ...]: ...  # the task files where they are alike
    @property
    def href(self) -> str | None: ...  # their side-by-side page, relative to the report


@dataclass
class Cell:
    status: str
    message: str
    tooltip: str
    duration_s: float | None
    label: str = ""  # "failed", …; "not attempted" for a task handed in as the stub
    idle: bool = False  # the stub's own failure (``not_attempted``): shown muted, said so

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.status]

    @property
    def folded(self) -> bool:
        """Long enough to fold under its first line (a phone shows a screenful per message)."""
        return len(self.message) > FOLD_CHARS or self.message.count("\n") >= FOLD_LINES

    @property
    def summary(self) -> str:
        """A folded message's first line, shortened."""
        return _shorten(self.message.split("\n", 1)[0].strip(), SUMMARY_CHARS)

    @property
    def rank(self) -> int:
        return SORT_RANK[self.status]


@dataclass
class Row:
    sub: SubmissionResult
    anchor: str
    cells: list[Cell]
    log_href: str | None
    bonus_passed: int
    complete: bool  # graded and every non-bonus TODO passed: "failures only" hides it
    journey: StudentPath | None = None  # what the section shows of the student's journal (none: None)

    @property
    def broken(self) -> bool:
        return self.sub.status != "graded"


class LinkedMembers:
    """A group's students as the report links them: the first few, the rest folded."""

    members: list[Row]

    @property
    def shown(self) -> list[Row]:
        return self.members[:CLUSTER_LINKS_SHOWN]

    @property
    def folded(self) -> list[Row]:
        return self.members[CLUSTER_LINKS_SHOWN:]


@dataclass
class ClusterView(LinkedMembers):
    """A failure cluster with its TODO and its students' rows (for their anchors)."""

    cluster: Cluster
    todo: Todo
    members: list[Row]
    example: str  # shortened


@dataclass
class NotStartedView(LinkedMembers):
    """The students who did not start a task (its file is the stub), with their rows."""

    group: NotStarted
    task: Task
    todos: int  # how many TODOs the task has (each of them failed by the stub)
    members: list[Row]


@dataclass
class PairView:
    """One row of the "Similar submissions" table."""

    rank: int
    first: str
    second: str
    first_row: Row | None  # None: an id not in this report, shown unlinked
    second_row: Row | None
    percent: int
    files: tuple[str, ...]
    href: str | None


@dataclass
class Bar:
    """One rectangle of an SVG chart (coordinates in the chart's viewBox units)."""

    x: float
    y: float
    width: float
    height: float
    css: str
    label: str


def render_report(
    results: ClassResults,
    logs: dict[str, str] | None = None,
    generated_at: str | None = None,
    similar_pairs: Sequence[SimilarPairLike] | None = None,
    untouched: Mapping[str, Collection[int]] | None = None,
) -> str:
    """The whole report as one HTML string. ``logs`` maps submission ids to per-student
    log files relative to the report; unsafe paths (absolute, URLs) are shown unlinked.

    ``similar_pairs``: ``None`` leaves the "Similar submissions" section out; a list (maybe
    empty) of objects with ``first``, ``second`` (submission ids), ``score`` (0..1),
    ``files`` (task file names) and ``href`` (a relative link to their side-by-side page,
    or ``None``) fills it, highest score first.

    ``untouched``: submission id -> the numbers of the tasks it did not start (the task
    file is the stub: ``grader.classroom.untouched``); their failures are one line per
    task, not failure clusters.

    The section "How the class got there" (``grader.reports.journey``) shows when at least
    one submission's journal was read; each student's section then shows their own path."""
    todos = list(results.todos)
    rows = _rows(results.submissions, todos, logs or {})
    journeys = class_path(results, todos, {sub_id: row.anchor for sub_id, row in _row_of(rows).items()})
    graded = [row for row in rows if not row.broken]
    scores = [row.sub.score for row in graded]
    max_score = results.max_score
    rates = pass_rates(graded, todos)
    clusters = cluster_views(results, todos, rows, untouched or {})
    idle = not_started_views(results, todos, rows, untouched or {})
    css, js = asset("report.css"), asset("report.js")
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            todos=todos,
            rows=rows,
            graded=graded,
            max_score=max_score,
            broken=[row for row in rows if row.broken],
            mean=f"{statistics.mean(scores):.1f}" if scores else "–",
            median=f"{statistics.median(scores):g}" if scores else "–",
            kit=_kit(results.kit),
            generated_at=generated_at or _now(),
            histogram=histogram(scores, max_score),
            pass_rates=rates,
            hardest=hardest(rates["lines"]),
            complete=sum(1 for row in rows if row.complete),
            clusters=clusters[:CLUSTERS_SHOWN],
            more_clusters=clusters[CLUSTERS_SHOWN:],
            failures=sum(view.cluster.count for view in clusters),
            not_started=idle,
            not_started_verdicts=sum(view.group.count * view.todos for view in idle),
            similar=None if similar_pairs is None else pair_views(similar_pairs, rows),
            journeys=journeys,
            group_starts={i for i, todo in enumerate(todos) if i == 0 or todos[i - 1].task != todo.task},
            statuses=STATUSES,
            symbols=SYMBOLS,
            labels=LABELS,
            show_todo_durations=any(c.duration_s is not None for r in rows for c in r.cells),
            css=css,
            js=js,
            csp=csp(css, js),
            lang=i18n.language() or "en",
        )
    )


def _rows(subs: list[SubmissionResult], todos: list[Todo], logs: dict[str, str]) -> list[Row]:
    anchors: set[str] = set()
    rows = []
    for sub in subs:
        cells = []
        for todo in todos:
            result = sub.todos.get(todo.id)
            status = result.status if result and result.status in SYMBOLS else "missing"
            message = result.message if result else (sub.message if sub.status != "graded" else "no result recorded")
            idle = not_attempted(sub, todo)
            if idle:  # the stub's own failure: the task is not started, not a mistake to read
                message = not_attempted_message(f"exercises/{todo.module}.py")
            label = NOT_ATTEMPTED if idle else LABELS[status]
            tip = f"{todo.id} {todo.shown_title}: {label}"
            if message:
                tip += " — " + _shorten(message, TOOLTIP_CHARS)
            cells.append(Cell(status, message, tip, result.duration_s if result else None, label, idle))
        bonus = sum(1 for todo, cell in zip(todos, cells) if todo.bonus and cell.status == "pass")
        complete = sub.status == "graded" and all(
            cell.status == "pass" for todo, cell in zip(todos, cells) if not todo.bonus
        )
        anchor = _anchor(sub.id, anchors)
        rows.append(
            Row(sub, anchor, cells, safe_relative_href(logs.get(sub.id)), bonus, complete, student_path(sub.journal))
        )
    return rows


def _row_of(rows: list[Row]) -> dict[str, Row]:
    row_of: dict[str, Row] = {}
    for row in rows:
        row_of.setdefault(row.sub.id, row)
    return row_of


def cluster_views(
    results: ClassResults, todos: list[Todo], rows: list[Row], untouched: Mapping[str, Collection[int]]
) -> list[ClusterView]:
    """The class's failure clusters (``grader.reports.failure_clusters``), the costliest
    first, with the rows their students link to; not the tasks students did not start."""
    by_id = {todo.id: todo for todo in todos}
    row_of = _row_of(rows)
    return [
        ClusterView(
            cluster,
            by_id[cluster.todo_id],
            [row_of[sub_id] for sub_id in cluster.students if sub_id in row_of],
            _shorten(cluster.example, CLUSTER_EXAMPLE_CHARS),
        )
        for cluster in cluster_failures(results.submissions, list(by_id), untouched, todos)
    ]


def not_started_views(
    results: ClassResults, todos: list[Todo], rows: list[Row], untouched: Mapping[str, Collection[int]]
) -> list[NotStartedView]:
    """Per task some graded students did not start: who, linked to their rows."""
    tasks = task_by_number()
    row_of = _row_of(rows)
    return [
        NotStartedView(
            group,
            tasks[group.task],
            sum(1 for todo in todos if todo.task == group.task),
            [row_of[sub_id] for sub_id in group.students if sub_id in row_of],
        )
        for group in not_started(results.submissions, untouched)
        if group.task in tasks
    ]


def pair_views(pairs: Sequence[SimilarPairLike], rows: list[Row]) -> list[PairView]:
    """Similar pairs ranked by score, highest first (ties keep the given order); ids are
    linked to their students' sections, ``href`` only if it is a safe relative path."""
    row_of = _row_of(rows)
    ranked = sorted(pairs, key=lambda pair: -float(pair.score))
    return [
        PairView(
            rank,
            pair.first,
            pair.second,
            row_of.get(pair.first),
            row_of.get(pair.second),
            round(100 * min(max(float(pair.score), 0.0), 1.0)),
            tuple(pair.files),
            safe_relative_href(pair.href),
        )
        for rank, pair in enumerate(ranked, start=1)
    ]


def hardest(lines: list[dict], limit: int = HARDEST_LISTED) -> list[dict]:
    """The pass-rate lines of the TODOs with the lowest pass rates (ties in TODO order),
    only those some student failed: the "hardest first" order, as text for every reader."""
    return sorted((line for line in lines if line["rate"] < 1), key=lambda line: line["rate"])[:limit]


def duration_stats(graded: list[Row], index: int) -> tuple[float | None, float | None]:
    """Median and max ``duration_s`` of TODO ``index`` over the graded rows that carry
    one (results saved before times were recorded have none): ``(None, None)`` if none."""
    times = [seconds for row in graded if (seconds := row.cells[index].duration_s) is not None]
    return (statistics.median(times), max(times)) if times else (None, None)


def histogram(scores: list[int], max_score: int, width: float = 420, height: float = 180) -> dict:
    """Bars for scores 0..max_score. Returns the bars plus the chart size."""
    counts = [0] * (max_score + 1)
    for score in scores:
        counts[min(max(score, 0), max_score)] += 1
    top, bottom, left = 18, 22, 4
    step = (width - left) / len(counts)
    tallest = max(counts) or 1
    bars = []
    for score, count in enumerate(counts):
        h = (height - top - bottom) * count / tallest
        bars.append(
            Bar(
                left + score * step + 2,
                height - bottom - h,
                step - 4,
                h,
                "bar",
                f"{count} student{'s' if count != 1 else ''} scored {score}",
            )
        )
    return {
        "width": width,
        "height": height,
        "bars": list(zip(bars, counts)),
        "step": step,
        "baseline": height - bottom,
    }


def pass_rates(
    graded: list[Row], todos: list[Todo], label_width: float = 360, bar_width: float = 300, row_height: float = 20
) -> dict:
    """Per TODO: stacked bar of pass/fail/timeout/error/missing over graded submissions,
    its pass rate, and the median and max time its tests took. Each line's geometry is
    relative to its own row (the template translates it by ``y``), so a script can
    reorder the rows by moving them."""
    n = len(graded)
    lines = []
    for index, todo in enumerate(todos):
        counts = {status: 0 for status in STATUSES}
        for row in graded:
            counts[row.cells[index].status] += 1
        x, segments = label_width, []
        for status in STATUSES:
            if counts[status]:
                w = bar_width * counts[status] / n
                segments.append(Bar(x, 3, w, row_height - 6, status, f"{counts[status]} {LABELS[status]}"))
                x += w
        rate = counts["pass"] / n if n else 0.0
        median, longest = duration_stats(graded, index)
        lines.append(
            {
                "todo": todo,
                "index": index,
                "y": index * row_height,
                "segments": segments,
                "counts": counts,
                "rate": rate,
                "percent": round(100 * rate),
                "median_s": median,
                "max_s": longest,
            }
        )
    timed = any(line["median_s"] is not None for line in lines)
    return {
        "width": label_width + bar_width + (190 if timed else 110),
        "timed": timed,
        "height": len(todos) * row_height,
        "label_width": label_width,
        "bar_width": bar_width,
        "row_height": row_height,
        "lines": lines,
        "n": n,
    }


def safe_relative_href(path: str | None) -> str | None:
    """A link to a log file only if it is a plain relative path (no scheme, not absolute,
    no ``..``); the path is percent-encoded so ``#``, ``?`` or spaces in ids survive."""
    if not path:
        return None
    posix = PurePosixPath(path.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or re.match(r"^[A-Za-z][\w+.-]*:", str(posix)):
        return None
    return quote(str(posix), safe="/")


def _anchor(sub_id: str, taken: set[str]) -> str:
    base = "s-" + (re.sub(r"[^A-Za-z0-9_.-]+", "-", sub_id).strip("-") or "student")
    anchor, n = base, 2
    while anchor in taken:
        anchor, n = f"{base}-{n}", n + 1
    taken.add(anchor)
    return anchor


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kit(kit: dict) -> dict:
    return {
        "mlflow": kit.get("mlflow", "?"),
        "python": kit.get("python", "?"),
        "tests": (kit.get("tests_sha256") or "?")[:12],
        "seed": kit.get("seed"),
    }


def _now() -> str:
    return datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
