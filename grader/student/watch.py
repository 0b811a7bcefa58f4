"""``kata watch [TASK]``: the red-green loop without typing. Runs the current task's
tests, shows its TODOs, the first failing TODO's message and its hint (at the level
``kata hint`` has reached), then waits; saving a ``.py`` file in ``exercises/`` reruns
the task. A green task moves on to the next one. Ctrl-C stops it (exit 130).

The tests run here, in this process, through the same machinery as ``kata check``
(``run_kata``), so the sandbox's warm zygote (and the bonus's model server) started by
the first run serve every rerun. Changes are noticed with ``watchfiles`` when it is
installed, else by polling the files' modification times and sizes.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Callable

from grader.core import i18n
from grader.core.i18n import _
from grader.results.model import KataRun, Status
from grader.lab.todos import Task, Todo, load_tasks, load_todos

POLL_S = 0.5  # polling fallback: how often the files are looked at
DEBOUNCE_MS = 300  # an editor's save may be several writes: wait for quiet first


def texts(lang: str) -> dict[str, str]:
    """Every line ``kata watch`` prints, in ``lang`` (``grader/core/i18n.py``)."""
    with i18n.use(lang):
        return {
            "title": _("kata watch — task {task}: {title} ({file})"),
            "running": _("running the tests of task {task} … ({time})"),
            "moving": _("✓ Task {task} is green — on to task {next}."),
            "all_green": _("✓ Every task is green. Well done!"),
            "broken": _("Your code for TODO {id} does not run — fix this first."),
            "passing": _("{passed}/{total} TODOs of task {task} pass"),
            "details": _("Every detail: pytest {file}"),
            "waiting": _("Watching {folder} — save a file to rerun; Ctrl-C to stop."),
            "stopped": _("kata watch: stopped."),
            "no_folder": _("kata watch: no folder {folder} (use --exercises DIR)."),
            "polling": _("(watchfiles is not installed: looking for changes every {poll} s)"),
            "problem": _("problem: {problem}"),
        }


SYMBOLS = {Status.PASS: "[green]✓[/green]", Status.FAIL: "[red]✗[/red]",
           Status.ERROR: "[red]![/red]", Status.TIMEOUT: "[yellow]⏱[/yellow]"}


# -- noticing a save ------------------------------------------------------------------

def is_source(path: str) -> bool:
    """A file whose change reruns the task: a ``.py`` file, not a cache."""
    return path.endswith(".py") and "__pycache__" not in Path(path).parts


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """``{path: (mtime_ns, size)}`` of the folder's source files (polling fallback)."""
    found = {}
    for path in folder.rglob("*.py"):
        try:
            stat = path.stat()
        except OSError:  # removed while we looked
            continue
        if is_source(str(path)):
            found[str(path)] = (stat.st_mtime_ns, stat.st_size)
    return found


class Changes:
    """Waits for the next save in ``folder``. Saves made while the tests run count: the
    watcher (a ``watchfiles`` thread, or the polling snapshot) starts before each run."""

    def __init__(self, folder: Path, poll_s: float = POLL_S, polling: bool | None = None):
        self.folder = folder
        self.poll_s = poll_s
        self._queue: queue.Queue[set[str]] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._before: dict[str, tuple[int, int]] = {}
        if polling is None:
            from importlib.util import find_spec

            polling = find_spec("watchfiles") is None
        self.polling = polling

    def mark(self) -> None:
        """From now on, a change counts."""
        if self.polling:
            self._before = snapshot(self.folder)
        elif self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="kata-watch", daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        import watchfiles

        for batch in watchfiles.watch(self.folder, watch_filter=lambda _change, path: is_source(path),
                                      debounce=DEBOUNCE_MS, stop_event=self._stop,
                                      raise_interrupt=False):
            self._queue.put({path for _change, path in batch})

    def wait(self, sleep: Callable[[float], None] = time.sleep) -> list[str]:
        """Block until a source file changed since ``mark``; the changed paths."""
        if not self.polling:
            while True:
                try:
                    changed = self._queue.get(timeout=self.poll_s)
                    break
                except queue.Empty:
                    continue
            while not self._queue.empty():  # saves made meanwhile: one rerun for all
                changed |= self._queue.get_nowait()
            return sorted(changed)
        while True:
            now = snapshot(self.folder)
            if now != self._before:
                changed = set(now.items()) ^ set(self._before.items())
                self._before = now
                return sorted({path for path, _ in changed})
            sleep(self.poll_s)

    def close(self) -> None:
        self._stop.set()


# -- one run on the screen ------------------------------------------------------------

def without_id(message: str, todo_id: str) -> str:
    """A failure message without its leading ``TODO x.y:`` (shown beside it already)."""
    prefix = f"TODO {todo_id}:"
    return message[len(prefix):].lstrip() if message.startswith(prefix) else message


def first_failing(run: KataRun, task: Task) -> Todo | None:
    """The task's TODO to work on next (see ``KataRun.next_to_fix``)."""
    todos = {todo.id: todo for todo in load_todos() if todo.task == task.number}
    next_id = run.next_to_fix(list(todos))
    return todos.get(next_id) if next_id else None


def is_green(run: KataRun, task: Task) -> bool:
    ids = [todo.id for todo in load_todos() if todo.task == task.number]
    return not run.problems and bool(ids) and all(
        todo_id in run.todos and run.todos[todo_id].passed for todo_id in ids)


def render(console, run: KataRun, task: Task, exercises: Path, lang: str) -> None:
    """The task's TODO table, then the first failing TODO's message and hint."""
    from rich.markup import escape
    from rich.table import Table

    from grader.student.hints import hint_line, more_line

    words = texts(lang)
    todos = [todo for todo in load_todos() if todo.task == task.number]
    table = Table(show_header=False, box=None, pad_edge=False, expand=True)
    table.add_column(no_wrap=True, min_width=3)
    table.add_column(justify="center", no_wrap=True, min_width=1)
    table.add_column(no_wrap=True, overflow="ellipsis", max_width=36)
    # One line per TODO: the message takes what is left (the full first one is below).
    table.add_column(no_wrap=True, overflow="ellipsis", style="dim", ratio=1)
    for todo in todos:
        result = run.todos.get(todo.id)
        status = result.status if result else Status.ERROR
        message = "" if result is None or result.passed else without_id(result.message, todo.id)
        table.add_row(todo.id, SYMBOLS.get(status, escape(str(status))), escape(todo.shown_title),
                      escape(message.splitlines()[0] if message else ""))
    console.print(table)
    passed = sum(1 for todo in todos if todo.id in run.todos and run.todos[todo.id].passed)
    console.print(words["passing"].format(passed=passed, total=len(todos), task=task.name),
                  highlight=False)
    first = first_failing(run, task)
    if first is not None:
        result = run.todos[first.id]
        console.print()
        if result.status in (Status.ERROR, Status.TIMEOUT):
            console.print(words["broken"].format(id=first.id), style="bold red", highlight=False)
        console.print(f"TODO {first.id}: {without_id(result.message, first.id)}",
                      style="bold", markup=False, highlight=False)
        console.print(hint_line(first, exercises, lang), markup=False, highlight=False)
        more = more_line(first, exercises, lang)
        if more:
            console.print(more, style="dim", markup=False, highlight=False)
        console.print(words["details"].format(file=f"tests/{task.test_file}"), style="dim",
                      markup=False, highlight=False)
    for problem in run.problems:
        console.print(words["problem"].format(problem=problem), style="red", markup=False,
                      highlight=False)


# -- the loop ---------------------------------------------------------------------------

def interrupted(run: KataRun) -> bool:
    """pytest turns a Ctrl-C during the run into an INTERRUPTED exit, not an exception."""
    return any("INTERRUPTED" in problem for problem in run.problems)


def watch(exercises: Path, start: str | None, lang: str, changes: Changes | None = None,
          run_task: Callable[[Path, list[int]], KataRun] | None = None) -> int:
    """Watch ``exercises`` from task ``start`` (a task name; default: the first). Runs
    until Ctrl-C: exit 130 (2 when the folder is missing)."""
    from rich.console import Console
    from rich.markup import escape

    words = texts(lang)
    console = Console(highlight=False)
    if not exercises.is_dir():
        print(words["no_folder"].format(folder=exercises), file=sys.stderr)
        return 2
    if run_task is None:
        from grader.judge.runner import run_kata

        def run_task(folder: Path, tasks: list[int]) -> KataRun:
            return run_kata(folder, tasks, [f"--kata-lang={lang}"])
    tasks = list(load_tasks())
    index = next((i for i, task in enumerate(tasks) if task.name == start), 0)
    changes = changes or Changes(exercises)
    note = ""
    try:
        while True:
            task = tasks[index]
            changes.mark()
            file = exercises / f"{task.module}.py"
            if console.is_terminal:
                console.clear()
            console.rule(escape(words["title"].format(task=task.name, title=task.shown_title, file=file)),
                         style="bold")
            if note:
                console.print(note, style="green")
            console.print(words["running"].format(task=task.name,
                                                  time=datetime.now().strftime("%H:%M:%S")),
                          style="dim")
            sys.stdout.flush()
            try:
                run = run_task(exercises, [task.number])
            except Exception as error:  # the kit's own failure: say it, keep watching
                run = KataRun({}, 0.0, [f"kit error: {type(error).__name__}: {error}"])
            if interrupted(run):
                raise KeyboardInterrupt
            render(console, run, task, exercises, lang)
            note = ""
            if is_green(run, task):
                if index + 1 < len(tasks):
                    note = words["moving"].format(task=task.name, next=tasks[index + 1].name)
                    console.print(note, style="bold green")
                    sys.stdout.flush()
                    index += 1
                    continue
                console.print(words["all_green"], style="bold green")
            if changes.polling:
                console.print(words["polling"].format(poll=changes.poll_s), style="dim")
            console.print(words["waiting"].format(folder=exercises), style="dim")
            sys.stdout.flush()
            changes.wait()
    except KeyboardInterrupt:
        console.print()
        console.print(words["stopped"])
        sys.stdout.flush()
        return 130
    finally:
        changes.close()
