"""``kata check``: the student's own verdict, from the same machinery as grading.

It runs the tests with their public default seed, as the student's own ``pytest`` does
(``kata grade`` uses a seed of its own per grading run; ``--seed`` picks another).

Formats: a table (``text``), ``KataRun``'s JSON (``json``), and GitHub Classroom's
autograding results (``classroom``: the base64 of one runner's JSON, as the grading
reporter ``classroom-resources/autograding-grading-reporter`` reads it from
``<RUNNER>_RESULTS``; ``classroom-json``: the same JSON, readable).
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

from grader.core import i18n
from grader.core.i18n import _, ngettext
from grader.judge.runner import run_kata
from grader.lab.progress import green_head, next_step, what_next
from grader.lab.todos import TASK_TEST_FILES, load_tasks, load_todos, todo_by_id
from grader.results.model import KataRun, Status, TodoResult, score
from grader.student.marks import legend, mark, worst

FORMATS = ("text", "json", "classroom", "classroom-json")


def texts(lang: str) -> dict[str, str]:
    """Every line ``kata check`` prints, in ``lang``."""
    with i18n.use(lang):
        return {
            "title": _("MLflow kata — your TODOs"),
            "todo": "TODO",
            "what": _("what"),
            "status": "",
            "message": _("first message"),
            "task": _("Task {task}"),
            "score": _("Score"),
            "bonus_score": _("Bonus (not counted)"),
            "next": _("Next: fix TODO {id} — {hint}"),
            "broken": _("Next: your code for TODO {id} does not run — fix this first: {message}"),
            "run": _("Run `pytest {file}` to see every detail."),
            "done": _("All {n} TODOs pass. Well done!"),
            "bonus_too": _("The bonus passes too."),
            "bonus": _("bonus, not counted"),
            "hint": _("hint"),
            "all": _("Every TODO and its first message: kata check --all"),
        }


def default_lang() -> str:
    """The language of ``kata``'s verbs without ``--lang``: ``$KATA_LANG``, else the
    locale's, else English (``grader.core.i18n``)."""
    return i18n.choose() or i18n.SOURCE


def without_id(message: str, todo_id: str) -> str:
    """A failure message without its leading ``TODO x.y:`` (shown beside it already)."""
    prefix = f"TODO {todo_id}:"
    return message[len(prefix) :].lstrip() if message.startswith(prefix) else message


def full_table(run: KataRun, text: dict[str, str]):
    """``--all``: every TODO run, its mark, title and whole first message."""
    from rich.table import Table

    table = Table(title=text["title"], show_lines=False)
    for column in (text["todo"], text["status"], text["what"], text["message"]):
        table.add_column(column, overflow="fold")
    todos = todo_by_id()
    for todo_id, result in run.todos.items():
        todo = todos[todo_id]
        title = todo.shown_title + (f" ({text['bonus']})" if todo.bonus else "")
        table.add_row(todo_id, mark(result.status), escape(title), escape(result.message))
    return table


# Below this many columns a failing TODO's line shows its message without its title: the
# message says what was expected and what MLflow holds; the title is in the TODO comment.
TITLED_WIDTH = 100
GAP = "  "


def cut(text, width: int):
    """``text`` (a rich ``Text``) cut to ``width`` cells, with an ellipsis."""
    text.truncate(max(1, width), overflow="ellipsis")
    return text


def task_table(run: KataRun, text: dict[str, str], width: int = 80) -> list:
    """The default view, one screen (``width`` columns at most, no trailing spaces), as
    rich ``Text`` lines: the title, then one line per task run
    (its mark, name, title and TODOs passed), and under a task that does not pass, one line
    per TODO that does not (its mark, id and the first line of its message, cut to the
    width; its title too from ``TITLED_WIDTH`` columns, in at most a third of them). A run
    of one task (``--task N``) opens every TODO of it."""
    from rich.cells import cell_len
    from rich.text import Text

    usable = max(40, width)  # ``screen``'s width: one column narrower than the terminal
    tasks = [
        task for task in load_tasks() if any(todo.task == task.number for todo in load_todos() if todo.id in run.todos)
    ]
    rows = []  # (mark, label, title, rest, is_task)
    for task in tasks:
        todos = [todo for todo in load_todos() if todo.task == task.number and todo.id in run.todos]
        results = [run.todos[todo.id] for todo in todos]
        passed = sum(result.passed for result in results)
        title = task.shown_title + (f" ({text['bonus']})" if task.bonus else "")
        rows.append((worst(results), text["task"].format(task=task.name), title, f"{passed}/{len(todos)}", True))
        for todo, result in zip(todos, results):
            if not result.passed or len(tasks) == 1:
                message = "" if result.passed else without_id(result.message, todo.id)
                first = message.splitlines()[0] if message else ""
                rows.append((result.status, todo.id, todo.shown_title, first, False))
    # the label column: a task's name, or two spaces, a TODO's mark and its id
    label_width = max(
        (cell_len(label) if is_task else 4 + cell_len(label) for _, label, _, _, is_task in rows), default=0
    )
    counts = max((cell_len(rest) for _, _, _, rest, is_task in rows if is_task), default=0)
    task_titles = max((cell_len(title) for _, _, title, _, is_task in rows if is_task), default=0)
    lead = 1 + len(GAP) + label_width + len(GAP)
    task_title_width = max(8, min(task_titles, usable - lead - len(GAP) - counts))
    todo_titles = max((cell_len(title) for _, _, title, _, is_task in rows if not is_task), default=0)
    todo_title_width = min(todo_titles, width // 3) if width >= TITLED_WIDTH else 0
    lines = [cut(Text(text["title"], style="bold"), usable)]
    for status, label, title, rest, is_task in rows:
        line = Text.from_markup(mark(status))
        if is_task:
            line.append(GAP + label.ljust(label_width) + GAP, style="bold")
            line.append(cut(Text(title), task_title_width).plain.ljust(task_title_width), style="bold")
            line.append(GAP + rest)
        else:
            line = Text(" " + GAP + " ") + Text.from_markup(mark(status)) + Text(" " + label + GAP)
            if todo_title_width:  # titled: the TODOs' titles and messages in columns
                line.append(" " * (lead - cell_len(line.plain)))
                line.append(cut(Text(title), todo_title_width).plain.ljust(todo_title_width) + GAP)
            line.append(Text(rest, style="dim"))
        line.rstrip()
        lines.append(cut(line, usable))
    return lines


def show(run: KataRun, lang: str, exercises: Path | None = None, full: bool = False) -> None:
    """The verdict on the screen: the table (one line per task and its failing TODOs; every
    TODO with ``full``), what its marks mean, the score, and what to do next."""
    with i18n.use(lang):  # the titles and the lines of other modules too
        _show(screen(), run, texts(lang), lang, exercises, full)


def screen(**options):
    """A console one column narrower than the terminal: a line that fills the terminal's
    last column wraps (or leaves a blank line) in some terminals."""
    from rich.console import Console

    return Console(width=max(40, Console().width - 1), **options)


def _show(console, run: KataRun, text: dict[str, str], lang: str, exercises: Path | None, full: bool) -> None:
    if full:
        console.print(full_table(run, text))
    else:
        for line in task_table(run, text, console.width):
            console.print(line, no_wrap=True, overflow="ellipsis", highlight=False)
    marks = legend(result.status for result in run.todos.values())
    if marks:
        console.print(marks, highlight=False)
    graded = [t.id for t in load_todos() if not t.bonus and t.id in run.todos]
    bonus = [t.id for t in load_todos() if t.bonus and t.id in run.todos]
    if graded:
        earned, available = score(run.todos, within=run.todos)
        console.print(f"[bold]{text['score']}: {earned}/{available}[/bold]")
    if bonus:
        passed = sum(run.todos[todo_id].passed for todo_id in bonus)
        console.print(f"{text['bonus_score']}: {passed}/{len(bonus)}", highlight=False)
    # The graded TODOs first; the bonus once they pass.
    graded_next = run.next_to_fix(graded)
    bonus_next = run.next_to_fix(bonus) if graded_next is None else None
    next_id = graded_next or bonus_next
    if next_id is not None:
        if bonus_next is not None and graded:  # what the graded TODOs came to, first
            console.print(done_line(run, text, graded), highlight=False, markup=False)
        show_next(console, run, next_id, text, lang, exercises)
        if not full:
            console.print(text["all"], style="dim", highlight=False, markup=False)
    elif run.todos:
        console.print(done_line(run, text, graded + bonus), highlight=False, markup=False)
    for problem in run.problems:
        console.print(f"[red]{escape(problem)}[/red]")


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def show_next(console, run: KataRun, next_id: str, text: dict[str, str], lang: str, exercises: Path | None) -> None:
    """The TODO to fix next: its hint at the level ``kata hint`` has reached for this
    exercises folder (or, when the code does not run, its message), and its test file."""
    from grader.student.hints import hint_line, more_line

    first = todo_by_id()[next_id]
    result = run.todos[first.id]
    if result.status in (Status.ERROR, Status.TIMEOUT):
        message = without_id(result.message, first.id)  # "TODO x.y:" is said already
        console.print(text["broken"].format(id=first.id, message=message), highlight=False, markup=False)
    else:
        folder = exercises if exercises is not None else Path("exercises")
        console.print(
            text["next"].format(id=first.id, hint=hint_line(first, folder, lang)), highlight=False, markup=False
        )
        more = more_line(first, folder, lang)
        if more:
            console.print(more, highlight=False, markup=False)
    console.print(text["run"].format(file=f"tests/{TASK_TEST_FILES[first.task]}"), highlight=False, markup=False)


def done_line(run: KataRun, text: dict[str, str], passing: list[str]) -> str:
    """The line for the TODOs ``passing`` (of ``run``, every one passes): the score out of
    15 when they are every graded TODO, with the bonus's real state (passes too, or next);
    else which tasks are green and what comes after them."""
    graded = [todo for todo in load_todos() if not todo.bonus]
    tasks = {todo.task for todo in load_todos() if todo.id in passing}
    if any(todo.id not in passing for todo in graded):
        return next_step(tasks) if set(passing) == set(run.todos) else green_head(tasks)
    line = text["done"].format(n=len(graded))
    bonus = [todo for todo in load_todos() if todo.bonus]
    if any(todo.id in passing for todo in bonus):
        return f"{line} {text['bonus_too']}"
    if any(todo.id in run.todos for todo in bonus):  # the bonus's own next step follows
        return line
    return f"{line} {what_next([task for task in load_tasks() if not task.bonus][-1].number)}"


# GitHub Classroom's grading reporter knows three test statuses; a call that ran out of
# time did not complete, as an error did not.
CLASSROOM_STATUS = {Status.PASS: "pass", Status.FAIL: "fail", Status.ERROR: "error", Status.TIMEOUT: "error"}
CLASSROOM_MESSAGE_CHARS = 2000  # GitHub caps a job's outputs at 1 MB in all


def classroom_results(run: KataRun) -> dict:
    """One runner's results for GitHub Classroom's grading reporter: ``version``,
    ``status``, ``max_score``, and ``tests``, one per TODO (``name``, ``status``,
    ``score``, ``message``, ``test_code``, ``filename``, ``line_no``, ``duration`` in ms).

    A TODO's score is its points (``todos.toml``) when it passes; a bonus TODO is shown
    with 0 points and does not count in ``max_score`` (the points of the graded TODOs
    run). ``status`` is ``error`` when the run itself had problems, else ``fail`` when a
    graded TODO did not pass (a failing bonus does not fail the run), else ``pass``."""
    todos = todo_by_id()
    tests = []
    for todo_id, result in run.todos.items():
        todo = todos[todo_id]
        points = 0 if todo.bonus else todo.points
        label = (
            _("bonus, 0 points")
            if todo.bonus
            else ngettext("{points} point", "{points} points", points).format(points=points)
        )
        test_file = f"tests/{TASK_TEST_FILES[todo.task]}"
        tests.append(
            {
                "name": f"TODO {todo_id}: {todo.shown_title} ({label})",
                "status": CLASSROOM_STATUS[result.status],
                "score": points if result.passed else 0,
                "message": result.message[:CLASSROOM_MESSAGE_CHARS],
                "test_code": f"pytest {test_file}",
                "filename": test_file,
                "line_no": 0,
                "duration": round((result.duration_s or 0) * 1000),
            }
        )
    graded = [todo_id for todo_id in run.todos if not todos[todo_id].bonus]
    if run.problems or not run.todos:
        status = "error"
    else:
        status = "pass" if all(run.todos[todo_id].passed for todo_id in graded) else "fail"
    results = {"version": 1, "status": status, "max_score": score(run.todos, within=run.todos)[1], "tests": tests}
    if run.problems:
        results["message"] = "; ".join(run.problems)[:CLASSROOM_MESSAGE_CHARS]
    return results


def classroom_payload(run: KataRun) -> str:
    """What a runner step outputs as ``result``: the base64 of its results' JSON."""
    text = json.dumps(classroom_results(run), ensure_ascii=False)
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def failed_run(tasks: list[int] | None, error: BaseException) -> KataRun:
    """A run the kit could not make: every TODO asked for is the kit's error."""
    message = f"kit error: kata check failed: {type(error).__name__}: {error}"
    return KataRun(
        {todo.id: TodoResult(Status.ERROR, message) for todo in load_todos() if tasks is None or todo.task in tasks},
        0.0,
        [message],
    )


def check(
    exercises: Path,
    tasks: list[int] | None,
    lang: str,
    fmt: str = "text",
    timeout_s: float | None = None,
    seed: str | None = None,
    full: bool = False,
) -> int:
    """Run the kata on ``exercises`` and print the verdict in ``fmt`` (``FORMATS``; the
    text's table is every TODO with ``full``, else one line per task). Exit code 0 when
    every graded TODO run passes (a run of the bonus alone: every bonus TODO), else 1.
    The classroom formats always print results (a run the kit could not make is
    reported as errors) so that the reporter has something to read."""
    extra = [f"--kata-lang={lang}"] + (["--kata-timeout", str(timeout_s)] if timeout_s else [])
    if seed is not None:
        extra += ["--kata-seed", seed]
    with i18n.use(lang):
        if not exercises.is_dir() and not fmt.startswith("classroom"):  # not from inside a kit
            print(
                _("kata check: no folder {folder}: run it in your kit's folder, or use --exercises DIR.").format(
                    folder=exercises
                ),
                file=sys.stderr,
            )
            return 2
        return _check(exercises, tasks, lang, fmt, extra, full)


def _check(exercises: Path, tasks: list[int] | None, lang: str, fmt: str, extra: list[str], full: bool = False) -> int:
    try:
        run = run_kata(exercises, tasks, extra, warm=True, journal=None if fmt.startswith("classroom") else "check")
    except Exception as error:
        if not fmt.startswith("classroom"):
            raise
        run = failed_run(tasks, error)
    if fmt == "json":
        print(json.dumps(run.to_json(), indent=2))
    elif fmt == "classroom":
        print(classroom_payload(run))
    elif fmt == "classroom-json":
        print(json.dumps(classroom_results(run), indent=2, ensure_ascii=False))
    else:
        show(run, lang, exercises, full)
        show_background(lang)
    return exit_code(run)


def show_background(lang: str) -> None:
    """One line on what the kata runs in the background after this run (the warm judge,
    the bonus's model server) and its memory; nothing when nothing runs."""
    from grader.judge.footprint import background_line, judges

    with i18n.use(lang):
        line = background_line(judges(), lang)
    if line:
        screen().print(line, style="dim", highlight=False, markup=False)


def exit_code(run: KataRun) -> int:
    """0 when every graded TODO of the run passes; for a run of the bonus alone (``--task
    bonus``), when every bonus TODO does; else 1 (and 1 for a run of no TODO at all)."""
    graded = [t.id for t in load_todos() if not t.bonus and t.id in run.todos]
    counted = graded or [t.id for t in load_todos() if t.bonus and t.id in run.todos]
    return 0 if counted and all(run.todos[t].passed for t in counted) else 1
