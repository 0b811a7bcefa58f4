"""``kata``: the command line of the lab and its autograder, a thin frame. The verbs live
with their audience: ``grader.cli.student`` (check, run, hint, watch: what a student kit
offers), ``grader.cli.instructor`` (validate, grade, stubs, release),
``grader.cli.feedback`` (kata feedback) and ``grader.cli.export`` (kata export's formats);
the options they share are declared once in ``grader.cli.options``. A verb whose wing is
absent (a student kit) is not offered."""

from __future__ import annotations

import argparse
import sys

from grader.cli import export, feedback, instructor, student
from grader.cli.options import speaking
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


def parsing_language(argv: list[str]) -> str:
    """The language ``kata`` parses ``argv`` in (its usage, help and errors): a student
    verb's (``--lang``, else ``$KATA_LANG``, else the locale: ``grader.core.i18n.choose``),
    also for ``kata`` alone and a verb that does not exist; English for an instructor's
    verb, whose help is not translated (``kata grade`` reports in English by default)."""
    verb = next((word for word in argv if not word.startswith("-")), None)
    if verb in {*instructor.VERBS, *export.VERBS, *feedback.VERBS}:
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
        return build_parser().parse_args(words)


def main(argv: list[str] | None = None) -> int:
    silence_mlflow()
    args = parse(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
