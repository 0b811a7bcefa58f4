"""``kata``: the command line of the lab and its autograder, a thin frame. The verbs live
with their audience: ``grader.cli.student`` (check, run, hint, watch: what a student kit
offers), ``grader.cli.instructor`` (validate, grade, stubs, release) and
``grader.cli.export`` (kata export's formats); the options they share are declared once
in ``grader.cli.options``. A verb whose wing is absent (a student kit) is not offered."""

from __future__ import annotations

import argparse
import sys

from grader.cli import export, instructor, student
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
    export.add_export,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kata", description="MLflow kata: lab and autograder.")
    verbs = parser.add_subparsers(dest="verb", required=True)
    for add_verb in VERBS:
        add_verb(verbs)
    return parser


def main(argv: list[str] | None = None) -> int:
    silence_mlflow()
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
