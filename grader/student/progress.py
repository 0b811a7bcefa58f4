"""``kata progress``: the student's own path through the kata, from their journal
(``grader.results.journal``): per TODO the tries up to green and the time from its first
red run to its first green one, the slowest TODOs, and the TODOs broken again after they
were green; in the student's language. It only reads the journal (never runs the tests)."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

from grader.core import i18n
from grader.core.i18n import _, ngettext
from grader.lab.todos import todo_by_id
from grader.results import journal

SLOWEST = 3  # the slowest TODOs named
WIDTH = 79  # a terminal of 80 columns: a longer line folds, a TODO's title is cut with …


def duration_text(seconds: int) -> str:
    """``45 s``, ``12 min``, ``2 h 5 min`` (the same in English and Spanish)."""
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def when_text(stamp: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


def progress_lines(summary: dict) -> list[str]:
    """What ``kata progress`` prints for a journal's summary, in the current language."""
    if summary.get("status") != "read":
        return [_("Your journal could not be read ({why}): nothing to show.").format(why=summary.get("note", ""))]
    todos: dict[str, dict] = summary["todos"]
    if not todos:
        return [_("Your journal holds no run yet.")]
    runs = summary["runs"]
    lines = [
        ngettext(
            "Your path through the kata: {runs} run judged, {first} to {last}.",
            "Your path through the kata: {runs} runs judged, {first} to {last}.",
            runs,
        ).format(runs=runs, first=when_text(summary["first"]), last=when_text(summary["last"]))
    ]
    known = todo_by_id()
    width = max(len(_("tries")), 5)
    lines.append(f"{'TODO':<6}{_('tries'):>{width}}  {_('time to green')}")
    for todo_id, path in todos.items():
        if not path["green"]:
            time_to_green = _("not green yet")
        elif path["attempts"] == 1:
            time_to_green = _("green at the first try")
        else:
            time_to_green = duration_text(path["seconds_to_green"])
        title = known[todo_id].shown_title if todo_id in known else ""
        line = f"{todo_id:<6}{path['attempts']:>{width}}  {time_to_green}"
        row = f"{line:<40}{title}".rstrip()
        lines.append(row if len(row) <= WIDTH else row[: WIDTH - 1].rstrip() + "…")
    slow = sorted(
        (item for item in todos.items() if item[1]["green"] and item[1]["seconds_to_green"]),
        key=lambda item: -item[1]["seconds_to_green"],
    )[:SLOWEST]
    if slow:
        named = ", ".join(f"TODO {todo_id} ({duration_text(path['seconds_to_green'])})" for todo_id, path in slow)
        lines.append(_("Slowest to green: {todos}").format(todos=named))
    broken = [(todo_id, path["broke_again"]) for todo_id, path in todos.items() if path["broke_again"]]
    if broken:
        named = ", ".join(f"TODO {todo_id} ({times}×)" for todo_id, times in broken)
        lines.append(_("Broken again after green: {todos}").format(todos=named))
    if summary.get("skipped_lines"):
        lines.append(
            ngettext(
                "{count} line of the journal could not be read: skipped.",
                "{count} lines of the journal could not be read: skipped.",
                summary["skipped_lines"],
            ).format(count=summary["skipped_lines"])
        )
    return [folded for line in lines for folded in (textwrap.wrap(line, WIDTH, subsequent_indent="  ") or [""])]


def progress(exercises: Path, lang: str) -> int:
    """Print the student's path from the journal of ``exercises``; exit code 0 (1 when
    there is no journal to read)."""
    with i18n.use(lang):
        path = journal.journal_path(exercises)
        reading = journal.read_file(path)
        if reading is None:
            if not journal.enabled():
                print(_("The journal is off here (KATA_JOURNAL=0, or a course without it): nothing is recorded."))
            else:
                print(
                    _(
                        "No journal yet in {folder}: each run of the kata tests (pytest, kata check, "
                        "kata watch) adds a line to it."
                    ).format(folder=path.parent)
                )
            return 1
        for line in progress_lines(journal.summarise(reading, journal.lab_hash())):
            print(line)
        return 0
