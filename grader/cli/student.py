"""The student's verbs: ``kata check``, ``run``, ``hint``, ``watch``, ``progress`` and ``stop`` (what a student
kit made by ``kata release`` offers). Each handler imports its wing when it runs, so
``kata --help`` stays quick; none reaches an instructor wing (the import contract)."""

from __future__ import annotations

import argparse
from pathlib import Path

from grader.cli.options import (
    add_exercises,
    add_lang,
    add_seed,
    add_task_name,
    add_task_numbers,
    add_timeout,
    task_missing,
)
from grader.core.defaults import CALL_TIMEOUT_S
from grader.core.i18n import _


def add_check(verbs: argparse._SubParsersAction) -> None:
    check = verbs.add_parser("check", help=_("grade your own exercises/: every TODO and your score"))
    add_exercises(check)
    add_task_numbers(check)
    check.add_argument(
        "--all",
        dest="full",
        action="store_true",
        help=_(
            "the full table: every TODO with its whole first message (default: one line per task, "
            "and the first message of each TODO that does not pass)"
        ),
    )
    add_lang(check)
    check.add_argument(
        "--format",
        choices=["text", "json", "classroom", "classroom-json"],
        default="text",
        help=_(
            "text (default); json; classroom: the base64 results GitHub Classroom's "
            "grading reporter reads (classroom-json: the same, readable)"
        ),
    )
    check.add_argument("--json", dest="format", action="store_const", const="json", help=_("the same as --format json"))
    add_seed(check, _("seed of the tests' varied inputs (default: the public one pytest uses)"), checked=True)
    add_timeout(
        check,
        _("seconds one call of your code may take (default: {seconds})").format(seconds=f"{CALL_TIMEOUT_S:g}"),
        default=None,
    )
    check.set_defaults(handler=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    from grader.student.check import check, default_lang

    tasks = sorted(set(args.task)) if args.task else None
    return check(
        Path(args.exercises), tasks, args.lang or default_lang(), args.format, args.timeout, args.seed, args.full
    )


def add_run(verbs: argparse._SubParsersAction) -> None:
    run = verbs.add_parser("run", help=_("run your task once against ./mlflow.db, to see it in the MLflow UI"))
    add_task_name(run, _("which task"))
    add_exercises(run)
    add_lang(run)
    run.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from grader.core import i18n
    from grader.student.check import default_lang
    from grader.student.run import main_for

    lang = args.lang or default_lang()
    if args.task is None:
        with i18n.use(lang):
            return task_missing("run")
    return main_for(args.task, args.exercises, lang)


def add_hint(verbs: argparse._SubParsersAction) -> None:
    hint = verbs.add_parser(
        "hint",
        help=_("the next hint of a TODO, one level more each time (a nudge, the MLflow call, nearly the code)"),
    )
    hint.add_argument("todo", nargs="?", metavar="TODO", help=_("the TODO, e.g. 1.3 or B.1"))
    hint.add_argument(
        "--reset",
        action="store_true",
        help=_("start this TODO's hints (without TODO: every TODO's) again at level 1"),
    )
    add_exercises(hint, _("folder with your task files, whose hints are remembered (default: %(default)s)"))
    add_lang(hint)
    hint.set_defaults(handler=cmd_hint)


def cmd_hint(args: argparse.Namespace) -> int:
    from grader.core import i18n
    from grader.student.check import default_lang
    from grader.student.hints import main_for

    lang = args.lang or default_lang()
    with i18n.use(lang):  # the TODO's title too, not only the hint
        return main_for(args.todo, args.exercises, lang, args.reset)


def add_watch(verbs: argparse._SubParsersAction) -> None:
    watch = verbs.add_parser(
        "watch",
        help=_("rerun your task's tests each time you save a file in exercises/; on to the next task when it is green"),
    )
    add_task_name(watch, _("the task to start with (default: 1)"))
    add_exercises(watch)
    add_lang(watch)
    watch.set_defaults(handler=cmd_watch)


def cmd_watch(args: argparse.Namespace) -> int:
    from grader.core import i18n
    from grader.student.check import default_lang
    from grader.student.watch import watch

    lang = args.lang or default_lang()
    with i18n.use(lang):  # the task and TODO titles too, not only the messages
        return watch(Path(args.exercises), args.task, lang)


def add_progress(verbs: argparse._SubParsersAction) -> None:
    progress = verbs.add_parser(
        "progress",
        help=_("your own path so far, from your journal: tries and time to green per TODO, the ones you broke again"),
    )
    add_exercises(progress, _("folder with your task files, whose journal is read (default: %(default)s)"))
    add_lang(progress)
    progress.set_defaults(handler=cmd_progress)


def cmd_progress(args: argparse.Namespace) -> int:
    from grader.student.check import default_lang
    from grader.student.progress import progress

    return progress(Path(args.exercises), args.lang or default_lang())


def add_stop(verbs: argparse._SubParsersAction) -> None:
    stop = verbs.add_parser(
        "stop",
        help=_("stop now what the kata runs in the background for you (its judge, the bonus's model server)"),
    )
    add_lang(stop)
    stop.set_defaults(handler=cmd_stop)


def cmd_stop(args: argparse.Namespace) -> int:
    from grader.student.check import default_lang
    from grader.student.stop import stop_background

    return stop_background(args.lang or default_lang())
