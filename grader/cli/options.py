"""Every option ``kata``'s verbs share, declared once (one function each, its value type
beside it), with its default read from ``grader.core.defaults``; and the two things
every verb has in common: how it is offered (``instructor_verb``) and how it refuses
(``refused``).

This module ships to students with ``grader/cli`` (``kata release``): it imports only
the standard library and the kit's core and lab wings."""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from collections.abc import Iterator
from pathlib import Path

import grader
from grader.core import i18n
from grader.core.defaults import CALL_TIMEOUT_S, SEED_PATTERN
from grader.core.i18n import N_, _
from grader.lab.todos import find_task, load_tasks

LANG_HELP = N_("language (default: $KATA_LANG, else the locale's, else English)")
EXERCISES_HELP = N_("folder with your task files (default: %(default)s)")

# argparse's own sentences a student can meet (its usage, help and errors; Python 3.11 to
# 3.13 word them alike), for the catalog: ``speaking`` has argparse say them through it.
ARGPARSE_TEXTS = (
    N_("usage: "),
    N_("options"),
    N_("positional arguments"),
    N_("show this help message and exit"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("ignored explicit argument %r"),
)


@contextlib.contextmanager
def speaking(lang: str | None) -> Iterator[None]:
    """Inside the block ``lang`` is current and argparse says its usage, help and errors
    through the kit's catalog (``ARGPARSE_TEXTS``): build the parser and parse in it.
    argparse looks its sentences up through its module's ``_`` and ``ngettext`` when
    it says them, so replacing those two for the block is enough."""
    saved = {name: getattr(argparse, name) for name in ("_", "ngettext")}
    with i18n.use(lang):
        setattr(argparse, "_", i18n._)  # noqa: B010 - a private name of argparse
        setattr(argparse, "ngettext", i18n.ngettext)  # noqa: B010
        try:
            yield
        finally:
            for name, function in saved.items():
                setattr(argparse, name, function)


# The folder of the running ``grader`` package: a kit's verbs are those whose wing is in it.
GRADER_DIR = Path(grader.__file__).resolve().parent


def kit_has(module: str) -> bool:
    """Whether ``module`` (``grader.authoring.validate``) is part of the running kit: a
    file (or package) in this ``grader`` folder. A student kit made by ``kata release``
    ships the student wings alone; it is told apart by what its own ``grader/`` holds,
    never by what an import could find elsewhere (an instructor kit installed in the same
    virtualenv would lend it its wings)."""
    relative = Path(*module.split(".")[1:])
    return (GRADER_DIR / relative.with_suffix(".py")).is_file() or (GRADER_DIR / relative / "__init__.py").is_file()


def instructor_verb(verbs: argparse._SubParsersAction, name: str, module: str, **kwargs):
    """The parser of an instructor's verb; when its module is not in this kit (a student
    kit made by `kata release`), a detached parser: the verb is not offered and cannot
    run (``grader.cli.main`` says it is the instructor's in one line)."""
    if not kit_has(module):
        return argparse.ArgumentParser(prog=f"kata {name}", add_help=False)
    return verbs.add_parser(name, **kwargs)


def refused(verb: str, reason: Exception) -> int:
    """The one line a verb prints when it cannot do its job; its exit code (2)."""
    said = f"{reason.strerror or reason}: {reason.filename or ''}" if isinstance(reason, OSError) else reason
    print(f"{verb}: {said}", file=sys.stderr)
    return 2


# -- value types ----------------------------------------------------------------------


def seed_value(text: str) -> str:
    """``--seed`` checked by argparse (``kata check``)."""
    if not SEED_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(_("a seed is 1-64 of A-Z a-z 0-9 . _ -, not {text!r}").format(text=text))
    return text


def worker_count(text: str) -> int:
    """``--jobs``: a whole number of at least 1 (0 is not "the default")."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a number of parallel jobs is a whole number of at least 1, not {text!r}")
    return value


def seconds(text: str) -> float:
    """``--timeout``: a finite number of seconds above 0 (0 would time every call out)."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(_("a timeout is a number of seconds above 0, not {text!r}").format(text=text))
    return value


def languages() -> list[str]:
    from grader.core.i18n import languages

    return list(languages())


# -- the options --------------------------------------------------------------------------


def add_lang(parser, help: str = LANG_HELP, default: str | None = None) -> None:
    """``--lang``: a student verb's default is chosen at run time (``default_lang``);
    ``kata grade``'s is English, whoever runs it."""
    parser.add_argument("--lang", choices=languages(), default=default, help=_(help))


def add_exercises(parser, help: str = EXERCISES_HELP) -> None:
    parser.add_argument("--exercises", default="exercises", metavar="DIR", help=_(help))


def add_timeout(parser, help: str, default: float | None = CALL_TIMEOUT_S) -> None:
    """``--timeout``: seconds one sandboxed call of student code may take."""
    parser.add_argument("--timeout", type=seconds, default=default, metavar="S", help=help)


def add_seed(parser, help: str, checked: bool = False) -> None:
    """``--seed``: the tests' varied inputs. ``checked``: argparse refuses a malformed
    one; otherwise the verb does, in its own one line (``kata grade``, ``kata export
    gradescope``)."""
    parser.add_argument("--seed", type=seed_value if checked else None, metavar="S", help=help)


def add_jobs(parser, help: str) -> None:
    parser.add_argument("--jobs", type=worker_count, metavar="N", help=help)


def task_names() -> str:
    """``1, 2, 3, 4, bonus``: the tasks as the student names them."""
    return ", ".join(task.name for task in load_tasks())


def no_such_task(text: str) -> str:
    """The one line for a task that does not exist, listing those that do."""
    return _("no task {text}: the tasks are {names}; B and 5 name the bonus too").format(
        text=repr(text), names=task_names()
    )


class TaskArgument(argparse.Action):
    """A task as the student names it (``grader.lab.todos.find_task``: ``bonus``, ``B``,
    ``5`` and any case alike), kept as its CLI name or, with ``number``, its number
    (appended, for ``--task``). A task that does not exist is one line in the student's
    language listing the tasks (not argparse's usage and "invalid choice"), exit 2."""

    def __init__(self, *args, number: bool = False, **kwargs):
        self.number = number
        super().__init__(*args, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if values is None:  # an optional positional left out: its default, unless --task said
            if getattr(namespace, self.dest, None) is None:
                setattr(namespace, self.dest, self.default)
            return
        try:
            task = find_task(str(values))
        except KeyError:
            parser.exit(2, f"{parser.prog}: {no_such_task(str(values))}\n")
        if self.number:
            setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), task.number])
        else:
            setattr(namespace, self.dest, task.name)


def add_task_name(parser, help: str) -> None:
    """The ``TASK`` positional (``kata run``, ``kata watch``): a task's CLI name (``5``
    and ``B`` name the bonus too), or ``--task TASK`` as ``kata check`` takes it. Left
    out, None: the verb says what it needs (``task_missing``) or takes its default."""
    parser.add_argument(
        "task",
        nargs="?",
        action=TaskArgument,
        metavar="{" + task_names().replace(", ", ",") + "}",
        help=_("{what}: {tasks}; B and 5 name the bonus too").format(what=help, tasks=task_names()),
    )
    parser.add_argument(
        "--task", dest="task", action=TaskArgument, metavar="TASK", help=_("the same, as kata check takes it")
    )


def task_missing(verb: str) -> int:
    """The one line for a verb that needs a task and got none; its exit code (2)."""
    print(
        f"kata {verb}: "
        + _("which task? The tasks are {names}; B and 5 name the bonus too").format(names=task_names()),
        file=sys.stderr,
    )
    return 2


def add_task_numbers(parser) -> None:
    """``--task TASK`` (``kata check``), repeatable: the tasks' numbers."""
    parser.add_argument(
        "--task",
        action=TaskArgument,
        number=True,
        metavar="TASK",
        help=_("only this task ({tasks}; B and 5 name the bonus too); repeatable").format(tasks=task_names()),
    )


def add_allow_unconfined(parser: argparse.ArgumentParser, who: str = "grade") -> None:
    """``--allow-unconfined``, declared once for every verb that runs student code as
    the instructor (``grader.classroom.errors.refuse_below_floor`` is what it lifts)."""
    parser.add_argument(
        "--allow-unconfined",
        action="store_true",
        help=f"{who} even where student code would run as root with no file-system "
        "confinement (no namespaces, no Landlock, no uid of its own); refused "
        "without it; recorded in results.json",
    )


def add_out(parser, metavar: str, help: str) -> None:
    """``--out``: where a verb writes (required)."""
    parser.add_argument("--out", required=True, metavar=metavar, help=help)
