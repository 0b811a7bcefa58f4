"""Feedback for each student (``kata feedback``): one self-contained page per submission,
and a short plain-text summary of it for the platforms' comment fields.

What a page holds, and never more: the student's own score (or, for a broken submission,
what was wrong with what they handed in: never a 0 that looks like a grade), each TODO's
verdict and first message, the first hint level of each TODO that does not pass
(``grader/lab/todos.toml``), and what to do next. Nothing of any other student: a page is
built from one ``SubmissionResult`` and the TODO table, and it shows no class figure and
no grading seed (students must not know it). A TODO of a task handed in as the stub
(``grader.results.model.not_attempted``) says "not attempted" and which file is still as
handed out, not the stub's own failure message; the summary lists those files apart.

Every word of a page is in the student's language (``grader.core.i18n``: the course's
``--lang``, by default the language ``kata grade`` gave the verdicts in); the verdicts'
own messages are in the language they were graded in.

Why it is built this way: student text (ids, failure messages: a message quotes what the
student's code left) is untrusted, so the template is rendered with autoescape on and the
page's Content-Security-Policy allows its inline CSS only (by hash) and no script at all;
the page fetches nothing, so it can be mailed, attached in Moodle or opened offline. It
is laid out for a phone first: one column, messages wrap (long tokens too).

Page file names come from submission ids (folder names a student chose: anything at
all): ``page_name`` keeps a safe part of the id and adds a hash of the whole id, so two
ids never share a file and none escapes the folder.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from markupsafe import Markup, escape

from grader.core import i18n
from grader.core.files import csv_safe, csv_text, id_stem, write_atomic
from grader.core.i18n import _
from grader.lab.todos import Todo, load_tasks, todo_by_id
from grader.reports.pages import asset, csp, environment
from grader.results.model import ClassResults, SubmissionResult, caused_by_kit, not_attempted, score
from grader.student.marks import MEANINGS

SUMMARY_MARK = "MLflow kata:"  # how every summary begins (any language): an earlier one is found by it
SUMMARY_FILE = "feedback.csv"
SYMBOLS = {"pass": "✓", "fail": "✗", "timeout": "◷", "error": "!", "missing": "–"}  # as the class report's


def texts(lang: str) -> dict[str, str]:
    """Every sentence of a page and of a summary, in ``lang``."""
    with i18n.use(lang):
        return {
            "title": _("MLflow kata — your feedback"),
            "for_id": _("Feedback for {id}"),
            "score": _("Score"),
            "points": _("{score} of {total} points"),
            "bonus": _("Bonus (not counted)"),
            "task": _("Task {task}"),
            "next": _("What to do next"),
            "start": _("Start with TODO {id} — {title}: its message and a hint are below."),
            "then_bonus": _("Then try the bonus (not counted): TODO {id} — {title}."),
            "done": _("All {n} TODOs pass. Well done!"),
            "bonus_too": _("The bonus passes too."),
            "check": _("`kata check` shows every TODO and your score."),
            "run": _("Run `pytest {file}` to see every detail."),
            # the student's first `kata hint` shows level 1 (what this page shows) again
            "more": _("More help, one level at a time: `kata hint {id}` ({total} levels)."),
            "hint": _("hint"),
            "kit_error": _("This is the kit's own error, not yours: your instructor will look into it."),
            "missing": _("not judged"),
            "not_attempted": _("not attempted"),
            "summary_not_started": _("Not started yet (as handed out): {files}."),
            "no_verdict": _("no verdict was recorded for this TODO"),
            "note": _("About what you handed in: {note}"),
            "broken_title": _("We could not grade what you handed in"),
            "broken_what": _("What was wrong:"),
            "broken_not_a_grade": _("This is not a grade: none of your code could be run, so no TODO was judged."),
            "broken_todo": _(
                "Hand in your exercises/ folder (or the five task files, or one .zip of them) and tell your "
                "instructor, who will grade it again."
            ),
            "summary_points": _("{score}/{total} points."),
            "summary_open": _("Not passed yet: {ids}."),
            "summary_start": _("Start with TODO {id} — {title}."),
            "summary_broken": _("What you handed in could not be graded: {reason}"),
            "summary_again": _("Hand in your exercises/ folder again and tell your instructor."),
            **{f"status_{status}": _(meaning) for status, meaning in MEANINGS.items()},
        }


def with_code(text: str) -> Markup:
    """Kit text (a hint, a next step) as HTML: escaped, each `backquoted` part as code."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backquote: no code at all
        return Markup(escape(text))
    return Markup("").join(
        escape(part) if n % 2 == 0 else Markup("<code>%s</code>") % part for n, part in enumerate(parts)
    )


def page_name(submission_id: str, digits: int = 8) -> str:
    """The page's file name: a safe part of the id (letters, digits, ``.``, ``_``, ``-``)
    and ``digits`` hex digits of the whole id's sha256 (unique, whatever the id holds)."""
    return f"{id_stem(submission_id, digits, strip='._-')}.html"


def page_names(submission_ids: Sequence[str]) -> dict[str, str]:
    """Each id's page name (``page_name``); where two would share one (the same 8 digits,
    or names a case-blind disk takes for one), both get the whole hash."""
    names = {sub_id: page_name(sub_id) for sub_id in submission_ids}
    taken = Counter(name.casefold() for name in names.values())
    return {sub_id: page_name(sub_id, 64) if taken[name.casefold()] > 1 else name for sub_id, name in names.items()}


# -- what a page shows ----------------------------------------------------------------


@dataclass
class TodoView:
    id: str
    anchor: str
    title: str
    status: str  # pass, fail, timeout, error, or missing (no verdict recorded)
    symbol: str
    label: str
    message: str  # the first message ("" for most passes); a verdict not attempted: says so
    hint: Markup  # level 1 (``with_code``), where it does not pass (and the kit is not the cause)
    kit_error: bool
    bonus: bool
    not_attempted: bool = False  # the stub's own failure (``grader.results.model.not_attempted``)
    module: str = ""  # its task file's module, where the kit knows the TODO


@dataclass
class TaskView:
    heading: str
    bonus: bool
    todos: list[TodoView]

    @property
    def passed(self) -> int:
        return sum(1 for todo in self.todos if todo.status == "pass")


@dataclass
class FeedbackView:
    """One student's page: their submission only."""

    submission_id: str
    graded: bool
    lang: str
    words: dict[str, str]
    tasks: list[TaskView] = field(default_factory=list)
    score: int = 0
    max_score: int = 0
    bonus_passed: int = 0
    bonus_total: int = 0
    next_steps: list[Markup] = field(default_factory=list)  # ``with_code``
    note: str = ""  # a graded submission's note (what staging found), or a broken one's reason


def not_attempted_message(file: str) -> str:
    """What a TODO of a task handed in as the stub says instead of the stub's own failure
    (``not_attempted``), in the current language: the feedback's and the class report's."""
    return _(
        "Not attempted yet: {file} is still as it was handed out, so this TODO fails as it did at the start."
    ).format(file=file)


def _todo_view(todo: Todo, title: str, sub: SubmissionResult, known: Todo | None, words, lang):
    result = sub.todos.get(todo.id)
    status = str(result.status) if result is not None else "missing"
    # A passing TODO may say something too (4.3: the deprecated stage, accepted, and why not).
    message = result.message if result is not None else words["no_verdict"]
    kit_error = result is not None and caused_by_kit(result.message)
    hint = with_code(known.hint(lang, 1)) if known is not None and status != "pass" and not kit_error else Markup("")
    label = words.get(f"status_{status}", words["missing"])
    module = known.module if known is not None else ""
    idle = not_attempted(sub, todo)
    if idle:  # the stub's own failure: that the task is not started, not the stub's message
        label = words["not_attempted"]
        message = not_attempted_message(f"exercises/{module}.py" if module else title)
    anchor = "todo-" + re.sub(r"[^A-Za-z0-9]+", "-", todo.id).strip("-")
    symbol = SYMBOLS[status]
    return TodoView(todo.id, anchor, title, status, symbol, label, message, hint, kit_error, todo.bonus, idle, module)


def feedback_view(results: ClassResults, sub: SubmissionResult, lang: str = "en") -> FeedbackView:
    """What ``sub``'s page shows, in ``lang``: built from ``sub`` and the class's TODO
    table only (hints and translated titles from ``todos.toml`` where it knows the TODO)."""
    words = texts(lang)
    view = FeedbackView(sub.id, sub.status != "error", lang, words, note=sub.message)
    if not view.graded:
        return view
    known = todo_by_id()
    task_titles = {task.number: task for task in load_tasks()}
    with i18n.use(lang):
        for todo in results.todos:
            own = known.get(todo.id)
            title = own.shown_title if own is not None else todo.title
            item = _todo_view(todo, title, sub, own, words, lang)
            task = task_titles.get(todo.task)
            heading = words["task"].format(task=task.name if task else todo.task)
            heading += f" — {task.shown_title}" if task else ""
            if not view.tasks or view.tasks[-1].heading != heading:
                view.tasks.append(TaskView(heading, todo.bonus, []))
            view.tasks[-1].todos.append(item)
    view.score, view.max_score = score(sub.todos, results.todos)
    bonus = [todo for task in view.tasks for todo in task.todos if todo.bonus]
    view.bonus_passed, view.bonus_total = sum(todo.status == "pass" for todo in bonus), len(bonus)
    view.next_steps = [with_code(step) for step in next_steps(view)]
    return view


def _first_open(todos: Sequence[TodoView]) -> TodoView | None:
    """The first TODO (in the lab's order) the student should fix: one that does not
    pass for a reason of theirs (a kit error is not theirs to fix)."""
    return next((todo for todo in todos if todo.status != "pass" and not todo.kit_error), None)


def next_steps(view: FeedbackView) -> list[str]:
    """What to do next, a sentence each: the first TODO to fix (the graded ones first,
    then the bonus) and how to check it; or that every TODO passes."""
    words = view.words
    graded = [todo for task in view.tasks for todo in task.todos if not todo.bonus]
    bonus = [todo for task in view.tasks for todo in task.todos if todo.bonus]
    first = _first_open(graded)
    steps = []
    if first is not None:
        steps.append(words["start"].format(id=first.id, title=first.title))
        known = todo_by_id().get(first.id)
        task_file = _test_file(first.id)
        if task_file:
            steps.append(words["run"].format(file=f"tests/{task_file}"))
        if known is not None and len(known.hints(view.lang)) > 1:
            steps.append(words["more"].format(id=first.id, total=len(known.hints(view.lang))))
        steps.append(words["check"])
        return steps
    if all(todo.status == "pass" for todo in graded):
        steps.append(words["done"].format(n=len(graded)))
    opened = _first_open(bonus)
    if opened is not None:
        steps.append(words["then_bonus"].format(id=opened.id, title=opened.title))
    elif bonus and all(todo.status == "pass" for todo in bonus):
        steps.append(words["bonus_too"])
    return steps


def _test_file(todo_id: str) -> str:
    known = todo_by_id().get(todo_id)
    if known is None:
        return ""
    task = next((task for task in load_tasks() if task.number == known.task), None)
    return task.test_file if task else ""


# -- the page ---------------------------------------------------------------------------


def render_page(results: ClassResults, sub: SubmissionResult, lang: str = "en") -> str:
    """``sub``'s feedback page: one self-contained HTML document (inline CSS pinned by the
    CSP, no script, nothing fetched)."""
    view = feedback_view(results, sub, lang)
    css = asset("feedback.css")
    return environment().get_template("feedback.html.j2").render(v=view, t=view.words, css=css, csp=csp(css))


# -- the summary ------------------------------------------------------------------------


def summary(results: ClassResults, sub: SubmissionResult, lang: str = "en") -> str:
    """One short paragraph of plain text for a platform's comment field, in ``lang``:
    the score and which TODOs do not pass yet (or, for a broken submission, that there is
    no grade and why), beginning with ``SUMMARY_MARK``. It holds no failure message: those
    quote student text, and they are on the page and in ``kata check``."""
    view = feedback_view(results, sub, lang)
    words = view.words
    if not view.graded:
        reason = " ".join(sub.message.split())
        reason += "" if reason.endswith((".", "!", "?")) else "."
        parts = [words["summary_broken"].format(reason=reason), words["summary_again"]]
        return " ".join([SUMMARY_MARK, *parts])
    graded = [todo for task in view.tasks for todo in task.todos if not todo.bonus]
    parts = [words["summary_points"].format(score=view.score, total=view.max_score)]
    open_ids = [todo.id for todo in graded if todo.status != "pass" and not todo.not_attempted]
    if open_ids:
        parts.append(words["summary_open"].format(ids=", ".join(open_ids)))
    files = not_started_files(view)
    if files:
        parts.append(words["summary_not_started"].format(files=", ".join(files)))
    if any(todo.status != "pass" for todo in graded):
        first = _first_open(graded)
        if first is not None:
            parts.append(words["summary_start"].format(id=first.id, title=first.title))
    else:
        parts.append(words["done"].format(n=len(graded)))
    if view.bonus_total:
        parts.append(f"{words['bonus']}: {view.bonus_passed}/{view.bonus_total}.")
    parts.append(words["check"])
    return " ".join([SUMMARY_MARK, *parts])


def started_not_all(results: ClassResults, sub: SubmissionResult) -> bool:
    """Whether a TODO of ``sub`` is "not attempted" (a task it handed in as the stub)."""
    return any(not_attempted(sub, todo) for todo in results.todos)


def not_started_files(view: FeedbackView) -> list[str]:
    """The task files of the tasks the student did not start (a TODO of theirs is "not
    attempted"), in the lab's order: ``exercises/task3_compare.py``, …"""
    todos = [todo for task in view.tasks for todo in task.todos]
    return list(dict.fromkeys(f"exercises/{todo.module}.py" for todo in todos if todo.not_attempted and todo.module))


# -- kata feedback ----------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    """Another file per student beside their page (the JUnit XML of
    ``grader.platforms.junit``): named as the page with ``suffix`` instead of ``.html``,
    listed in ``feedback.csv``'s ``column``; ``render(results, sub, lang)`` its text."""

    column: str
    suffix: str
    render: Callable[[ClassResults, SubmissionResult, str], str]


@dataclass
class Written:
    """What ``write_feedback`` wrote."""

    folder: Path
    pages: int
    broken: int  # pages of broken submissions (what was wrong, no grade)
    summaries: Path
    not_started: int = 0  # students with a task not started (a TODO "not attempted")


def write_feedback(
    results: ClassResults, out_dir: str | Path, lang: str = "en", attachments: Sequence[Attachment] = ()
) -> Written:
    """One page per submission (``page_names``) in ``out_dir``, each ``attachments``' file
    beside it, and ``feedback.csv`` (one row per submission: id, status, score, max_score,
    page, each attachment's file, summary; a broken submission's score is empty, never 0).
    Every text is built before the first file is written."""
    out = Path(out_dir)
    names = page_names([sub.id for sub in results.submissions])
    files: dict[str, str] = {}
    rows: list[list[object]] = [["id", "status", "score", "max_score", "page", *(a.column for a in attachments)]]
    rows[0].append("summary")
    for sub in results.submissions:
        page = names[sub.id]
        files[page] = render_page(results, sub, lang)
        extra = [page.removesuffix(".html") + attachment.suffix for attachment in attachments]
        for name, attachment in zip(extra, attachments):
            files[name] = attachment.render(results, sub, lang)
        earned, available = score(sub.todos, results.todos)
        graded = sub.status != "error"
        rows.append(
            [
                csv_safe(sub.id),
                sub.status,
                earned if graded else "",
                available if graded else "",
                page,
                *extra,
                csv_safe(summary(results, sub, lang)),
            ]
        )
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        write_atomic(out / name, text)
    summaries = write_atomic(out / SUMMARY_FILE, csv_text(rows), encoding="utf-8-sig")
    broken = sum(1 for sub in results.submissions if sub.status == "error")
    idle = sum(1 for sub in results.submissions if started_not_all(results, sub))
    return Written(out, len(results.submissions), broken, summaries, idle)
