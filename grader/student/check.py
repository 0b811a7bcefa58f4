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
from grader.lab.todos import TASK_TEST_FILES, load_todos, todo_by_id
from grader.results.model import KataRun, Status, TodoResult, score

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
            "score": _("Score"),
            "next": _("Next: fix TODO {id} — {hint}"),
            "broken": _("Next: your code for TODO {id} does not run — fix this first: {message}"),
            "run": _("Run `pytest {file}` to see every detail."),
            "done": _("All {n} TODOs pass. Well done! Try the bonus: pytest tests/test_bonus.py"),
            "bonus": _("bonus, not counted"),
            "hint": _("hint"),
        }


SYMBOLS = {"pass": "[green]✓[/green]", "fail": "[red]✗[/red]", "error": "[red]![/red]", "timeout": "[yellow]⏱[/yellow]"}


def default_lang() -> str:
    """The language of ``kata``'s verbs without ``--lang``: ``$KATA_LANG``, else the
    locale's, else English (``grader.core.i18n``)."""
    return i18n.choose() or i18n.SOURCE


def show(run: KataRun, lang: str, exercises: Path | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    from grader.student.hints import hint_line, more_line

    text = texts(lang)
    console = Console()
    table = Table(title=text["title"], show_lines=False)
    for column in (text["todo"], text["status"], text["what"], text["message"]):
        table.add_column(column, overflow="fold")
    todos = {todo.id: todo for todo in load_todos()}
    for todo_id, result in run.todos.items():
        todo = todos[todo_id]
        title = todo.shown_title + (f" ({text['bonus']})" if todo.bonus else "")
        table.add_row(todo_id, SYMBOLS.get(result.status, result.status), title, result.message)
    console.print(table)
    graded = [t for t in load_todos() if not t.bonus and t.id in run.todos]
    earned, available = score(run.todos, within=run.todos)
    console.print(f"[bold]{text['score']}: {earned}/{available}[/bold]")
    next_id = run.next_to_fix([t.id for t in graded])
    if next_id is not None:
        first = todos[next_id]
        result = run.todos[first.id]
        if result.status in (Status.ERROR, Status.TIMEOUT):
            console.print(text["broken"].format(id=first.id, message=result.message), highlight=False)
        else:
            # The hint at the level `kata hint` has reached for this exercises folder.
            folder = exercises if exercises is not None else Path("exercises")
            console.print(
                text["next"].format(id=first.id, hint=hint_line(first, folder, lang)), highlight=False, markup=False
            )
            more = more_line(first, folder, lang)
            if more:
                console.print(more, highlight=False, markup=False)
        console.print(text["run"].format(file=f"tests/{TASK_TEST_FILES[first.task]}"))
    elif graded:
        console.print(text["done"].format(n=len(graded)))
    for problem in run.problems:
        console.print(f"[red]{problem}[/red]")


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
) -> int:
    """Run the kata on ``exercises`` and print the verdict in ``fmt`` (``FORMATS``).
    Exit code 0 when every graded TODO run passes, else 1. The classroom formats always
    print results (a run the kit could not make is reported as errors) so that the
    reporter has something to read."""
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
        return _check(exercises, tasks, lang, fmt, extra)


def _check(exercises: Path, tasks: list[int] | None, lang: str, fmt: str, extra: list[str]) -> int:
    try:
        run = run_kata(exercises, tasks, extra, warm=True)
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
        show(run, lang, exercises)
    graded = [t.id for t in load_todos() if not t.bonus and t.id in run.todos]
    all_pass = bool(graded) and all(run.todos[t].passed for t in graded)
    return 0 if all_pass else 1
