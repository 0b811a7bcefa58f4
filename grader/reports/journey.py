"""The class report's section *How the class got there* (issue 23): from the journals the
students handed in (``grader.results.journal``; their summaries are in ``results.json``'s
per-submission ``journal``), per TODO the median and 90th percentile of the tries and of
the time to green, the share who broke it again after green, and the messages seen most
before green, each linking the students who saw it; per student a compact red/green
timeline of their runs and, neutrally, what looks unlike a student's own path.

Every figure comes from ``journal.class_summary``; this module only words and lays them
out, in the report's language (``_``; a message is shown by its id as the catalog's
msgid in that language). A journal is untrusted: what the section shows of one is
counts, catalog text and the report's own words (the template escapes all of it), and a
summary of the wrong shape (a results.json edited by hand) is skipped, never fatal.
Nothing here reads or changes a grade.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from grader.core.i18n import _, ngettext
from grader.lab.todos import Todo
from grader.results import journal
from grader.results.model import ClassResults
from grader.student.progress import duration_text

MESSAGES_SHOWN = 3  # per TODO, the messages seen most; the rest fold
LINKS_SHOWN = 15  # students linked inline per message or flag; the rest fold
TIMELINE_STEP = 6  # a run's width in the timeline's SVG units (5 drawn, 1 gap)
TIMELINE_HEIGHT = 12


@dataclass(frozen=True)
class Link:
    """A student as the section links them: their id and their section's anchor."""

    id: str
    anchor: str


@dataclass
class Linked:
    """Students linked inline, the first few; the rest folded."""

    links: list[Link]

    @property
    def shown(self) -> list[Link]:
        return self.links[:LINKS_SHOWN]

    @property
    def folded(self) -> list[Link]:
        return self.links[LINKS_SHOWN:]


@dataclass
class MessageView(Linked):
    id: str
    text: str  # the message in the report's language (placeholders shown as …), or what it is
    known: bool  # a message of this kit's catalog (or its own error)
    runs: int


@dataclass
class TodoPath:
    todo_id: str
    title: str
    bonus: bool
    students: int
    green: int
    attempts: str  # "median · p90", or "–" when nobody went green
    seconds: str
    broke_again: int
    broke_percent: int
    messages: list[MessageView]
    more_messages: list[MessageView]


@dataclass
class FlagView(Linked):
    flag: str
    text: str


@dataclass
class ClassPath:
    """The section: the wording, the per-TODO paths, and the journals flagged or not read."""

    words: dict[str, str]
    intro: str
    todos: list[TodoPath]
    flags: list[FlagView]
    unread: list[tuple[Link, str]]


@dataclass
class Timeline:
    """One student's runs, oldest first: a red (some TODO not passing) or green cell each."""

    cells: list[tuple[int, str]]  # (x, "pass" | "fail")
    width: int
    height: int = TIMELINE_HEIGHT
    step: int = TIMELINE_STEP


@dataclass
class StudentPath:
    """What a student's section shows of their journal."""

    text: str  # "Journal: 34 runs, … to …" or why it was not read
    timeline: Timeline | None = None
    label: str = ""  # the timeline's text alternative
    flags: list[str] = field(default_factory=list)


def words() -> dict[str, str]:
    """The section's fixed words, in the current language."""
    return {
        "title": _("How the class got there"),
        "green": _("went green"),
        "tries": _("tries to green (median · 90th percentile)"),
        "time": _("time to green (median · 90th percentile)"),
        "broke": _("broke it again after green"),
        "messages": _("messages seen most before green (runs that showed each)"),
        "no_messages": _("no message seen before green"),
        "more": _("and {count} more"),
        "flagged": _("Journals that look unlike a student's own path (a note, not a judgement):"),
        "unread": _("Journals handed in but not read:"),
        "bonus": _("bonus"),
    }


FLAGS = {
    "other-kit": lambda: _("lines written by a kit other than this one"),
    "time-backwards": lambda: _("times that run backwards"),
    "all-green-first-run": lambda: _("every TODO green at its first run"),
}
NOTES = {
    "too-large": lambda: _("too large"),
    "too-many-lines": lambda: _("too many lines"),
    "no-valid-line": lambda: _("no line a journal holds"),
    "unreadable": lambda: _("unreadable"),
}


def message_text(message_id: str) -> tuple[str, bool]:
    """A message id as the report shows it (its msgid in the current language, each
    placeholder as …), and whether it is one this kit knows."""
    if message_id == journal.KIT_ERROR_ID:
        return _("the kit's own error (not the student's)"), True
    msgid = journal.messages_by_id().get(message_id)
    if msgid is None:
        return _("a message not in this kit's catalog"), False
    return re.sub(r"(?:\{[^{}]*\})+", "…", _(msgid)), True  # "{value}{note}": one …


def number(value: float) -> str:
    """A median or percentile of tries: ``3``, ``3.5`` (never an exponent)."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def figures(pair: object, text=number) -> str:
    """``{"median": m, "p90": p}`` as ``m · p`` (``–`` for none)."""
    if not isinstance(pair, dict) or pair.get("median") is None or pair.get("p90") is None:
        return "–"
    return f"{text(pair['median'])} · {text(pair['p90'])}"


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _count(value: object) -> int:
    return value if type(value) is int and value >= 0 else 0


def class_path(results: ClassResults, todos: list[Todo], anchor_of: Mapping[str, str]) -> ClassPath | None:
    """The section for ``results`` (``anchor_of``: submission id → its section's anchor);
    None when no journal was read (the report leaves the section out)."""
    summaries = {sub.id: sub.journal for sub in results.submissions}
    summary = journal.class_summary(summaries)
    if not summary["journals"]:
        return None

    def links(ids: object) -> list[Link]:
        found = ids if isinstance(ids, list) else []
        return [Link(sub_id, anchor_of[sub_id]) for sub_id in found if sub_id in anchor_of]

    by_id = {todo.id: todo for todo in todos}
    paths = []
    for todo_id, path in summary["todos"].items():
        messages = []
        for seen in path["messages"]:
            text, known = message_text(seen["id"])
            messages.append(MessageView(links(seen["students"]), seen["id"], text, known, seen["runs"]))
        todo = by_id.get(todo_id)
        paths.append(
            TodoPath(
                todo_id,
                todo.shown_title if todo else "",
                bool(todo and todo.bonus),
                path["students"],
                path["green"],
                figures(path["attempts"]),
                figures(path["seconds_to_green"], lambda seconds: duration_text(round(seconds))),
                path["broke_again"],
                round(100 * path["broke_again_share"]),
                messages[:MESSAGES_SHOWN],
                messages[MESSAGES_SHOWN:],
            )
        )
    flagged: dict[str, list[str]] = {flag: [] for flag in FLAGS}
    unread = []
    for sub_id, one in summaries.items():
        if not isinstance(one, dict):
            continue
        if one.get("status") == "read":
            for flag in _list(one.get("flags")):
                if isinstance(flag, str) and flag in flagged:
                    flagged[flag].append(sub_id)
        elif sub_id in anchor_of:
            note = NOTES.get(str(one.get("note")), lambda: _("not a journal"))()
            unread.append((Link(sub_id, anchor_of[sub_id]), note))
    read, ignored, missing = summary["journals"], summary["ignored"], summary["missing"]
    intro = ngettext(
        "From the journal of {read} student: each run of the kata tests on their machine (pytest, "
        "kata check, kata watch), as they handed it in. A journal never changes a grade.",
        "From the journals of {read} students: each run of the kata tests on their machines (pytest, "
        "kata check, kata watch), as they handed them in. A journal never changes a grade.",
        read,
    ).format(read=read)
    if ignored:
        intro += " " + ngettext(
            "{count} journal could not be read.", "{count} journals could not be read.", ignored
        ).format(count=ignored)
    if missing:
        intro += " " + ngettext(
            "{count} submission had no journal.", "{count} submissions had no journal.", missing
        ).format(count=missing)
    return ClassPath(
        words(),
        intro,
        paths,
        [FlagView(links(sorted(ids)), flag, FLAGS[flag]()) for flag, ids in flagged.items() if ids],
        unread,
    )


def when(stamp: object) -> str:
    """A run's time as the report shows it, with its zone as the report's "Generated" (``?`` for
    what is no time)."""
    try:
        return time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(stamp)).strip()  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return "?"


def student_path(summary: object) -> StudentPath | None:
    """What the student's section shows of their journal's summary (None: no journal)."""
    if not isinstance(summary, dict):
        return None
    if summary.get("status") != "read":
        note = NOTES.get(str(summary.get("note")), lambda: _("not a journal"))()
        return StudentPath(_("Journal handed in but not read ({why}).").format(why=note))
    runs = _count(summary.get("runs"))
    text = ngettext("Journal: {runs} run, {first} to {last}.", "Journal: {runs} runs, {first} to {last}.", runs).format(
        runs=runs, first=when(summary.get("first")), last=when(summary.get("last"))
    )
    raw = summary.get("timeline")
    reds = [n for n in raw[-journal.TIMELINE_MAX :] if type(n) is int and n >= 0] if isinstance(raw, list) else []
    timeline = None
    label = ""
    if reds:
        cells = [(index * TIMELINE_STEP, "fail" if red else "pass") for index, red in enumerate(reds)]
        timeline = Timeline(cells, len(reds) * TIMELINE_STEP)
        failing = sum(1 for red in reds if red)
        label = ngettext(
            "{shown} run: {red} with a TODO not passing, {green} with all passing",
            "{shown} runs, oldest first: {red} with a TODO not passing, {green} with all passing",
            len(reds),
        ).format(shown=len(reds), red=failing, green=len(reds) - failing)
        if runs > len(reds):
            label += " " + _("(the newest {shown} of {runs})").format(shown=len(reds), runs=runs)
    flags = [FLAGS[flag]() for flag in _list(summary.get("flags")) if isinstance(flag, str) and flag in FLAGS]
    return StudentPath(text, timeline, label, flags)
