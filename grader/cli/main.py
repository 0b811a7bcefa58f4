"""``kata``: the command line of the lab and its autograder, a thin frame. The verbs live
with their audience: ``grader.cli.student`` (check, run, hint, watch, progress, stop: what a
student kit offers), ``grader.cli.instructor`` (validate, grade, stubs, release),
``grader.cli.feedback`` (kata feedback) and ``grader.cli.export`` (kata export's formats);
the options they share are declared once in ``grader.cli.options``. A verb whose wing is
absent (a student kit) is not offered, and asking for it there is one line saying it is
the instructor's."""

from __future__ import annotations

import argparse
import sys

from grader.cli import export, feedback, instructor, student
from grader.cli.options import kit_has, speaking
from grader.core import i18n
from grader.core.i18n import _
from grader.core.quiet import silence_mlflow

# Every verb, in the order ``kata --help`` lists them.
VERBS = (
    instructor.add_validate,
    instructor.add_grade,
    student.add_check,
    student.add_run,
    student.add_hint,
    student.add_watch,
    student.add_progress,
    student.add_stop,
    instructor.add_stubs,
    instructor.add_release,
    feedback.add_feedback,
    export.add_export,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kata", description=_("MLflow kata: lab and autograder."))
    verbs = parser.add_subparsers(dest="verb", required=True)
    for add_verb in VERBS:
        add_verb(verbs)
    return parser


# Every instructor's verb and the module it needs (``kit_has``: absent from a student kit).
INSTRUCTOR_VERBS = {**instructor.VERB_MODULES, **export.VERB_MODULES, **feedback.VERB_MODULES}


def verb_of(argv: list[str]) -> str | None:
    return next((word for word in argv if not word.startswith("-")), None)


def not_in_this_kit(verb: str | None) -> bool:
    """Whether ``verb`` is an instructor's verb this kit (a student kit) does not offer."""
    return verb in INSTRUCTOR_VERBS and not kit_has(INSTRUCTOR_VERBS[verb])


def parsing_language(argv: list[str]) -> str:
    """The language ``kata`` parses ``argv`` in (its usage, help and errors): a student
    verb's (``--lang``, else ``$KATA_LANG``, else the locale: ``grader.core.i18n.choose``),
    also for ``kata`` alone, a verb that does not exist and an instructor's verb in a
    student kit; English for an instructor's verb in the instructor's kit, whose help is
    not translated (``kata grade`` reports in English by default)."""
    verb = verb_of(argv)
    if verb in INSTRUCTOR_VERBS and not not_in_this_kit(verb):
        return i18n.SOURCE
    explicit = None
    for index, word in enumerate(argv):
        if word == "--lang" and index + 1 < len(argv):
            explicit = argv[index + 1]
        elif word.startswith("--lang="):
            explicit = word.partition("=")[2]
    if explicit not in i18n.languages():  # argparse refuses it, in the language chosen without it
        explicit = None
    return i18n.choose(explicit) or i18n.SOURCE


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """``argv`` parsed, argparse's usage, help and errors in ``parsing_language``."""
    words = sys.argv[1:] if argv is None else argv
    with speaking(parsing_language(words)):
        parser = build_parser()
        verb = verb_of(words)
        if not_in_this_kit(verb):  # a student kit: one line, not argparse's "invalid choice"
            offered = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
            print(
                _("kata {verb} is a verb of the instructor's kit; yours offers {verbs}").format(
                    verb=verb, verbs=", ".join(f"kata {name}" for name in offered.choices)
                ),
                file=sys.stderr,
            )
            raise SystemExit(2)
        return parser.parse_args(words)


def main(argv: list[str] | None = None) -> int:
    silence_mlflow()
    args = parse(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
