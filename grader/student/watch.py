"""``kata watch [TASK]``: the red-green loop without typing. Runs the current task's
tests, shows its TODOs (what each mark means under them), the first failing TODO's
message and its hint (at the level ``kata hint`` has reached), then waits.

Saving a ``.py`` file in ``exercises/`` reruns the task of that file, whatever the current
task, and every task whose file imports it from ``exercises/`` (directly or through another
of the student's files; the kata tests of a task never run another task's code otherwise);
a saved file no task imports reruns the current task. A task that goes green moves the
watch on to the next one not green yet (after the last task, back to the first); a saved
task that is red becomes the current one. "Every task is green" is said only when every
task passed in its last run. Ctrl-C stops it (exit 130).

The tests run here, in this process, through the same machinery as ``kata check``
(``run_kata``), so the sandbox's warm zygote (and the bonus's model server) started by
the first run serve every rerun. Saves are noticed by ``watchfiles``: from the kernel's
file events, or by its own polling where those are missing (``Changes``).
"""

from __future__ import annotations

import ast
import os
import queue
import re
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from grader.core import i18n
from grader.core.i18n import _
from grader.lab.todos import Task, Todo, find_task, load_tasks, load_todos
from grader.results.model import KataRun, Status
from grader.student.marks import legend, mark

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
            "last_run": _("The last run of task {task} (none of its files changed since):"),
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


# -- what a save reruns, and where the watch goes next --------------------------------


def local_module(path: str | Path, exercises: Path) -> str | None:
    """The name ``path`` is imported by from ``exercises/`` (``task1_baseline`` for
    ``exercises/task1_baseline.py``, ``utils`` for ``exercises/utils/io.py``); None for a
    file outside it."""
    try:
        parts = Path(path).resolve().relative_to(exercises.resolve()).parts
    except (OSError, ValueError):
        return None
    if not parts:
        return None
    return parts[0].removesuffix(".py") if len(parts) > 1 or parts[0].endswith(".py") else None


def imported_names(source: Path) -> set[str]:
    """The top-level names the Python files at ``source`` (a file, or a package folder)
    import; nothing for a file that does not parse (its own task's run says why)."""
    files = [source] if source.is_file() else [p for p in source.rglob("*.py") if "__pycache__" not in p.parts]
    names: set[str] = set()
    for file in files:
        try:
            tree = ast.parse(file.read_bytes(), str(file))
        except (OSError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.partition(".")[0])
    return names


def task_users(exercises: Path, tasks: Iterable[Task] | None = None) -> dict[str, set[int]]:
    """``{module: the tasks that run it}`` for the student's modules in ``exercises``: a
    task runs its own module and every module of the folder that one imports, directly
    or through another."""
    modules: dict[str, Path] = {}
    for entry in exercises.iterdir() if exercises.is_dir() else ():
        if entry.is_file() and entry.suffix == ".py":
            modules[entry.stem] = entry
        elif (
            entry.is_dir()
            and entry.name != "__pycache__"
            and not entry.name.startswith(".")
            and any(entry.glob("*.py"))
        ):
            modules[entry.name] = entry
    imports = {name: imported_names(path) & set(modules) for name, path in modules.items()}
    users: dict[str, set[int]] = {}
    for task in load_tasks() if tasks is None else tasks:
        reached, todo = set(), [task.module]
        while todo:
            name = todo.pop()
            if name not in reached:
                reached.add(name)
                todo.extend(imports.get(name, ()))
        for name in reached:
            users.setdefault(name, set()).add(task.number)
    return users


def to_rerun(changed: Iterable[str], exercises: Path, current: int) -> list[int]:
    """The tasks a save of the files ``changed`` reruns, in the lab's order: every task
    that runs one of them (``task_users``), whatever the current task; the current task
    when no task does (a new file nothing imports yet, a file elsewhere)."""
    users = task_users(exercises)
    names = {local_module(path, exercises) for path in changed}
    chosen = set().union(*(users.get(name, set()) for name in names if name is not None))
    return [task.number for task in load_tasks() if task.number in (chosen or {current})]


def next_focus(current: int, ran: Sequence[int], green: Mapping[int, bool]) -> int | None:
    """The task the watch shows next, after the tasks ``ran`` just ran (``green``: each
    task's last verdict, green or not; a task never run has none): the current task when
    it is among the red ones just run, else the first red one just run (the student is on
    it); else the current task while it is not green; else the first task after it (in the
    lab's order, then from the first) not green in its last run or never run. None when
    every task is green in its last run."""
    red = [number for number in ran if not green.get(number)]
    if red:
        return current if current in red else red[0]
    if not green.get(current):
        return current
    order = [task.number for task in load_tasks()]
    position = order.index(current)
    return next((number for number in order[position + 1 :] + order[:position] if not green.get(number)), None)


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
    shown: set[Status] = set()  # the marks on the screen, explained under the table
    for todo in todos:
        result = run.todos.get(todo.id)
        status = result.status if result else Status.ERROR
        message = "" if result is None or result.passed else without_id(result.message, todo.id)
        table.add_row(
            todo.id,
            mark(status),
            escape(todo.shown_title),
            escape(message.splitlines()[0] if message else ""),
        )
        shown.add(status)
    console.print(table)
    if shown:
        console.print(legend(shown), style="dim", highlight=False)
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
    """Watch ``exercises`` from task ``start`` (a task's name or number; default: the
    first). Runs until Ctrl-C: exit 130 (2 when the folder is missing or cannot be
    watched). What a save reruns and where the watch goes next: ``to_rerun`` and
    ``next_focus``."""
    from rich.markup import escape

    from grader.student.check import screen

    words = texts(lang)
    console = screen(highlight=False)  # one column narrower than the terminal, as kata check's
    if not exercises.is_dir():
        print(words["no_folder"].format(folder=exercises), file=sys.stderr)
        return 2
    if run_task is None:
        from grader.judge.runner import run_kata

        def run_task(folder: Path, tasks: list[int]) -> KataRun:
            return run_kata(folder, tasks, [f"--kata-lang={lang}"], journal="watch")

    tasks = {task.number: task for task in load_tasks()}
    current = find_task(start).number if start else next(iter(tasks))
    pending = [current]  # the tasks to run now, in the lab's order
    runs: dict[int, KataRun] = {}  # each task's last run …
    green: dict[int, bool] = {}  # … and whether it was green
    note = ""  # said once, under the next task's title

    def title(task: Task) -> None:
        file = exercises / f"{task.module}.py"
        console.rule(escape(words["title"].format(task=task.name, title=task.shown_title, file=file)), style="bold")

    changes = changes or Changes(exercises)
    with i18n.use(lang):  # the titles and the marks' words too
        try:
            while True:
                changes.mark()
                if console.is_terminal:
                    console.clear()
                for number in pending:
                    task = tasks[number]
                    title(task)
                    if note:
                        console.print(note, style="bold green")
                        note = ""
                    console.print(
                        words["running"].format(task=task.name, time=datetime.now().strftime("%H:%M:%S")), style="dim"
                    )
                    sys.stdout.flush()
                    try:
                        run = run_task(exercises, [number])
                    except Exception as error:  # noqa: BLE001 - the kit's own failure: say it, keep watching
                        run = KataRun({}, 0.0, [f"kit error: {type(error).__name__}: {error}"])
                    if interrupted(run):
                        raise KeyboardInterrupt
                    render(console, run, task, exercises, lang)
                    runs[number], green[number] = run, is_green(run, task)
                focus = next_focus(current, pending, green)
                if focus is not None and focus not in runs:  # on to a task not run yet
                    note = words["moving"].format(task=tasks[current].name, next=tasks[focus].name)
                    current, pending = focus, [focus]
                    continue
                if focus is None:
                    console.print(words["all_green"], style="bold green")
                elif focus != pending[-1]:  # its last run still holds: nothing it runs changed
                    title(tasks[focus])
                    if green.get(current) and focus != current:
                        console.print(
                            words["moving"].format(task=tasks[current].name, next=tasks[focus].name), style="bold green"
                        )
                    console.print(words["last_run"].format(task=tasks[focus].name), style="dim")
                    render(console, runs[focus], tasks[focus], exercises, lang)
                current = focus if focus is not None else current
                if changes.polling:
                    console.print(words["polling"].format(poll=changes.poll_s), style="dim")
                console.print(words["waiting"].format(folder=exercises), style="dim")
                sys.stdout.flush()
                try:
                    changed = changes.wait()
                except OSError as error:  # not even watchfiles' polling can watch the folder
                    print(words["cannot_watch"].format(folder=exercises, error=error), file=sys.stderr)
                    return 2
                pending = to_rerun(changed, exercises, current)
        except KeyboardInterrupt:
            console.print()
            console.print(words["stopped"])
            sys.stdout.flush()
            return 130
        finally:
            changes.close()
