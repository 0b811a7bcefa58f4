"""What comes after green tasks: the one line that says what to do next, shared by a
student's own ``pytest tests/test_taskN.py`` (the judge plugin's terminal summary) and
``kata check``, in the current language (``grader.core.i18n``).

After a task, the next one in the lab's order and its command; after the last graded task,
the bonus (not counted); after the bonus, or when every task is green, ``kata check``.
"""

from __future__ import annotations

from collections.abc import Iterable

from grader.core.i18n import _, ngettext
from grader.lab.todos import Task, load_tasks


def task_after(number: int) -> Task | None:
    """The task after task ``number`` in the lab's order; None after the last."""
    tasks = list(load_tasks())
    numbers = [task.number for task in tasks]
    position = numbers.index(number)
    return tasks[position + 1] if position + 1 < len(tasks) else None


def green_head(green: Iterable[int]) -> str:
    """``✓ Task 1 is green.``: the tasks ``green`` (task numbers, at least one) in the
    lab's order."""
    chosen = set(green)
    tasks = [task for task in load_tasks() if task.number in chosen]
    if not tasks:
        raise ValueError(f"no task among {sorted(chosen)}")
    if len(tasks) == len(load_tasks()):
        return _("✓ Every task is green, the bonus too.")
    names = ", ".join(task.name for task in tasks)
    return ngettext("✓ Task {tasks} is green.", "✓ Tasks {tasks} are green.", len(tasks)).format(tasks=names)


def what_next(number: int) -> str:
    """What to do once task ``number`` is green: the next task's command, the bonus's
    after the last graded task, ``kata check`` after the last task."""
    following = task_after(number)
    if following is None:
        return _("`kata check` shows every TODO and your score.")
    if following.bonus:
        return _("Next, the bonus (not counted): pytest tests/{file}").format(file=following.test_file)
    return _("Next: task {task}, pytest tests/{file}").format(task=following.name, file=following.test_file)


def next_step(green: Iterable[int]) -> str:
    """The line for a run that proved the tasks ``green`` green: that they are, then what
    comes after the last of them."""
    chosen = set(green)
    last = [task.number for task in load_tasks() if task.number in chosen][-1:]
    return f"{green_head(chosen)} {what_next(last[0]) if last else ''}".rstrip()
