"""``kata check``: the student's own verdict, from the same machinery as grading.

It runs the tests with their public default seed, as the student's own ``pytest`` does
(``kata grade`` uses a seed of its own per grading run).
"""

from __future__ import annotations

import json
import locale
import os
from pathlib import Path

from grader.results import KataRun, Status, score
from grader.runner import run_kata
from grader.todos import load_todos

TEXT = {
    "en": {"title": "MLflow kata — your TODOs", "todo": "TODO", "what": "what", "status": "",
           "message": "first message", "score": "Score", "next": "Next: fix TODO {id} — {hint}",
           "broken": "Next: your code for TODO {id} does not run — fix this first: {message}",
           "run": "Run `pytest {file}` to see every detail.", "done": "All {n} TODOs pass. Well done! Try the bonus: pytest tests/test_bonus.py",
           "bonus": "bonus, not counted", "hint": "hint"},
    "es": {"title": "Kata de MLflow — tus TODOs", "todo": "TODO", "what": "qué", "status": "",
           "message": "primer mensaje", "score": "Puntuación", "next": "Siguiente: arregla el TODO {id} — {hint}",
           "broken": "Siguiente: tu código del TODO {id} no se ejecuta — arregla esto primero: {message}",
           "run": "Ejecuta `pytest {file}` para ver todos los detalles.",
           "done": "Los {n} TODOs pasan. ¡Enhorabuena! Prueba el bonus: pytest tests/test_bonus.py", "bonus": "bonus, no cuenta",
           "hint": "pista"},
}
SYMBOLS = {"pass": "[green]✓[/green]", "fail": "[red]✗[/red]", "error": "[red]![/red]",
           "timeout": "[yellow]⏱[/yellow]"}


def default_lang() -> str:
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        if value:
            return "es" if value.lower().startswith("es") else "en"
    current = locale.getlocale()[0] or ""
    return "es" if current.lower().startswith("es") else "en"


def show(run: KataRun, lang: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from grader.todos import TASK_TEST_FILES

    text = TEXT[lang]
    console = Console()
    table = Table(title=text["title"], show_lines=False)
    for column in (text["todo"], text["status"], text["what"], text["message"]):
        table.add_column(column, overflow="fold")
    todos = {todo.id: todo for todo in load_todos()}
    for todo_id, result in run.todos.items():
        todo = todos[todo_id]
        title = todo.title + (f" ({text['bonus']})" if todo.bonus else "")
        table.add_row(todo_id, SYMBOLS.get(result.status, result.status), title, result.message)
    console.print(table)
    graded = [t for t in load_todos() if not t.bonus and t.id in run.todos]
    earned, available = score(run.todos, within=run.todos)
    console.print(f"[bold]{text['score']}: {earned}/{available}[/bold]")
    missing = [t for t in graded if not run.todos[t.id].passed]
    if missing:
        first = missing[0]
        result = run.todos[first.id]
        if result.status in (Status.ERROR, Status.TIMEOUT):
            console.print(text["broken"].format(id=first.id, message=result.message), highlight=False)
        else:
            console.print(text["next"].format(id=first.id, hint=first.hint(lang)), highlight=False)
        console.print(text["run"].format(file=f"tests/{TASK_TEST_FILES[first.task]}"))
    elif graded:
        console.print(text["done"].format(n=len(graded)))
    for problem in run.problems:
        console.print(f"[red]{problem}[/red]")


def check(exercises: Path, tasks: list[int] | None, lang: str, as_json: bool,
          timeout_s: float | None = None) -> int:
    extra = ["--kata-timeout", str(timeout_s)] if timeout_s else []
    run = run_kata(exercises, tasks, extra)
    if as_json:
        print(json.dumps(run.to_json(), indent=2))
    else:
        show(run, lang)
    graded = [t.id for t in load_todos() if not t.bonus and t.id in run.todos]
    all_pass = bool(graded) and all(run.todos[t].passed for t in graded)
    return 0 if all_pass else 1
