"""``kata watch [TASK]``: the red-green loop without typing. Runs the current task's
tests, shows its TODOs, the first failing TODO's message and its hint (at the level
``kata hint`` has reached), then waits; saving a ``.py`` file in ``exercises/`` reruns
the task. A green task moves on to the next one. Ctrl-C stops it (exit 130).

The tests run here, in this process, through the same machinery as ``kata check``
(``run_kata``), so the sandbox's warm zygote (and the bonus's model server) started by
the first run serve every rerun. Saves are noticed by ``watchfiles``: from the kernel's
file events, or by its own polling where those are missing (``Changes``).
"""

from __future__ import annotations

import os
import queue
import re
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from grader.core import i18n
from grader.core.i18n import _
from grader.lab.todos import Task, Todo, load_tasks, load_todos
from grader.results.model import KataRun, Status

POLL_S = 0.5  # where file events are missing: how often watchfiles looks at the files
DEBOUNCE_MS = 300  # an editor's save may be several writes: wait for quiet first
TICK_MS = 200  # the watcher thread wakes this often (to say it is ready, to see a stop)
READY_S = 10.0  # at most this long for the watcher to be set up before a run starts


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
            "polling": _("(no file events here: looking for changes every {poll} s)"),
            "cannot_watch": _("kata watch: cannot watch {folder}: {error}"),
            "problem": _("problem: {problem}"),
        }


SYMBOLS = {
    Status.PASS: "[green]✓[/green]",
    Status.FAIL: "[red]✗[/red]",
    Status.ERROR: "[red]![/red]",
    Status.TIMEOUT: "[yellow]⏱[/yellow]",
}


# -- noticing a save ------------------------------------------------------------------

FORCE_POLLING_ENV = "WATCHFILES_FORCE_POLLING"  # watchfiles' own switch, read as it reads it
# File systems that raise no file event here for a change made elsewhere (the host of a VM
# or container, another machine): network shares, folders shared from a host, FUSE.
EVENTLESS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ncpfs",
        "9p",
        "virtiofs",
        "vboxsf",
        "vmhgfs",
        "prl_fs",
        "drvfs",
        "afs",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "fuse",
    }
)
MOUNTINFO = Path("/proc/self/mountinfo")


def is_source(path: str) -> bool:
    """A file whose change reruns the task: a ``.py`` file, not a cache."""
    return path.endswith(".py") and "__pycache__" not in Path(path).parts


def file_system(folder: Path, mountinfo: str | None = None) -> str:
    """The type of the file system ``folder`` is on, from ``/proc/self/mountinfo`` (the
    innermost mount holding it, the last one mounted there); "" when it cannot be told."""
    if mountinfo is None:
        try:
            mountinfo = MOUNTINFO.read_text(encoding="utf-8")
        except OSError:  # not Linux
            return ""
    target = os.path.realpath(folder)
    longest, kind = -1, ""
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields[6:] or len(fields) < 5:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda code: chr(int(code[1], 8)), fields[4])  # \040: a space
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= longest:
            longest, kind = len(point), fields[fields.index("-", 6) + 1]
    return kind


def needs_polling(folder: Path, environ=os.environ, mountinfo: str | None = None) -> bool:
    """Whether saves in ``folder`` must be looked for by polling: ``$WATCHFILES_FORCE_POLLING``
    says so, or the folder is on a file system whose changes made elsewhere raise no event
    here (``EVENTLESS``; a FUSE file system such as sshfs is ``fuse.NAME``)."""
    forced = environ.get(FORCE_POLLING_ENV)
    if forced:
        return forced.lower() not in {"false", "disable", "disabled"}
    kind = file_system(folder, mountinfo)
    return kind in EVENTLESS or kind.startswith("fuse.")


class Changes:
    """Waits for the next save in ``folder``, noticed by ``watchfiles`` in a thread of its
    own: by the kernel's file events, or by watchfiles' own polling (``force_polling``)
    where those are missing: a folder ``needs_polling``, or no file event to be had (the
    inotify watch limit reached: the watcher falls back when it cannot start). Saves made
    while the tests run count: the thread starts before the first run."""

    def __init__(self, folder: Path, poll_s: float = POLL_S, polling: bool | None = None):
        self.folder = folder
        self.poll_s = poll_s
        self.polling = needs_polling(folder) if polling is None else polling
        self._queue: queue.Queue[set[str] | Exception] = queue.Queue()
        self._stop = threading.Event()
        self._ready = threading.Event()  # the watcher is set up: a save from now on is seen
        self._thread: threading.Thread | None = None

    def mark(self) -> None:
        """From now on, a change counts: returns once the watcher is set up (its file
        events registered, or its polling's first scan taken), so a save right after is
        never part of what the watcher starts from."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="kata-watch", daemon=True)
            self._thread.start()
        self._ready.wait(READY_S)

    def _watch(self) -> None:
        try:
            self._follow()
        except (OSError, RuntimeError) as error:  # no file events here (watchfiles' own words)
            if self.polling:
                self._queue.put(error)
                return
            self.polling = True
            try:
                self._follow()
            except (OSError, RuntimeError) as failure:
                self._queue.put(failure)
        finally:
            self._ready.set()  # (nothing to wait for: the failure is on the queue)

    def _follow(self) -> None:
        import watchfiles

        for batch in watchfiles.watch(
            self.folder,
            watch_filter=lambda _change, path: is_source(path),
            debounce=DEBOUNCE_MS,
            stop_event=self._stop,
            raise_interrupt=False,
            force_polling=self.polling,
            poll_delay_ms=round(self.poll_s * 1000),
            rust_timeout=TICK_MS,
            yield_on_timeout=True,  # the first yield, changes or none, says it is set up
        ):
            self._ready.set()
            if batch:
                self._queue.put({path for _change, path in batch})

    def wait(self) -> list[str]:
        """Block until a source file changed since ``mark``; the changed paths. Raises
        ``OSError`` when the folder cannot be watched at all."""
        changed: set[str] = set()
        while True:
            try:
                found = self._queue.get(timeout=self.poll_s)
            except queue.Empty:  # (a timeout, so that Ctrl-C is seen)
                continue
            if isinstance(found, Exception):
                raise OSError(f"{found}") from found
            changed |= found
            if self._queue.empty():  # saves made meanwhile: one rerun for all
                return sorted(changed)

    def close(self) -> None:
        self._stop.set()


# -- one run on the screen ------------------------------------------------------------


def without_id(message: str, todo_id: str) -> str:
    """A failure message without its leading ``TODO x.y:`` (shown beside it already)."""
    prefix = f"TODO {todo_id}:"
    return message[len(prefix) :].lstrip() if message.startswith(prefix) else message


def first_failing(run: KataRun, task: Task) -> Todo | None:
    """The task's TODO to work on next (see ``KataRun.next_to_fix``)."""
    todos = {todo.id: todo for todo in load_todos() if todo.task == task.number}
    next_id = run.next_to_fix(list(todos))
    return todos.get(next_id) if next_id else None


def is_green(run: KataRun, task: Task) -> bool:
    ids = [todo.id for todo in load_todos() if todo.task == task.number]
    return not run.problems and bool(ids) and all(todo_id in run.todos and run.todos[todo_id].passed for todo_id in ids)


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
        table.add_row(
            todo.id,
            SYMBOLS.get(status, escape(str(status))),
            escape(todo.shown_title),
            escape(message.splitlines()[0] if message else ""),
        )
    console.print(table)
    passed = sum(1 for todo in todos if todo.id in run.todos and run.todos[todo.id].passed)
    console.print(words["passing"].format(passed=passed, total=len(todos), task=task.name), highlight=False)
    first = first_failing(run, task)
    if first is not None:
        result = run.todos[first.id]
        console.print()
        if result.status in (Status.ERROR, Status.TIMEOUT):
            console.print(words["broken"].format(id=first.id), style="bold red", highlight=False)
        console.print(
            f"TODO {first.id}: {without_id(result.message, first.id)}", style="bold", markup=False, highlight=False
        )
        console.print(hint_line(first, exercises, lang), markup=False, highlight=False)
        more = more_line(first, exercises, lang)
        if more:
            console.print(more, style="dim", markup=False, highlight=False)
        console.print(
            words["details"].format(file=f"tests/{task.test_file}"), style="dim", markup=False, highlight=False
        )
    for problem in run.problems:
        console.print(words["problem"].format(problem=problem), style="red", markup=False, highlight=False)


# -- the loop ---------------------------------------------------------------------------


def interrupted(run: KataRun) -> bool:
    """pytest turns a Ctrl-C during the run into an INTERRUPTED exit, not an exception."""
    return any("INTERRUPTED" in problem for problem in run.problems)


def watch(
    exercises: Path,
    start: str | None,
    lang: str,
    changes: Changes | None = None,
    run_task: Callable[[Path, list[int]], KataRun] | None = None,
) -> int:
    """Watch ``exercises`` from task ``start`` (a task name; default: the first). Runs
    until Ctrl-C: exit 130 (2 when the folder is missing or cannot be watched)."""
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
            console.rule(escape(words["title"].format(task=task.name, title=task.shown_title, file=file)), style="bold")
            if note:
                console.print(note, style="green")
            console.print(
                words["running"].format(task=task.name, time=datetime.now().strftime("%H:%M:%S")), style="dim"
            )
            sys.stdout.flush()
            try:
                run = run_task(exercises, [task.number])
            except Exception as error:  # noqa: BLE001 - the kit's own failure: say it, keep watching
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
            try:
                changes.wait()
            except OSError as error:  # not even watchfiles' polling can watch the folder
                print(words["cannot_watch"].format(folder=exercises, error=error), file=sys.stderr)
                return 2
    except KeyboardInterrupt:
        console.print()
        console.print(words["stopped"])
        sys.stdout.flush()
        return 130
    finally:
        changes.close()
