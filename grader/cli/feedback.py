"""``kata feedback OUT --out DIR``: one feedback page per student, from a grading's
``results.json`` (``grader.reports.feedback``), each with the student's own JUnit XML
beside it (``grader.platforms.junit``), and ``DIR/feedback.csv`` with each one's files and
short summary. An instructor's verb: a student kit, without ``grader.reports``,
does not offer it. The handler imports its wing only when it runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader.cli.options import add_out, instructor_verb, languages, refused
from grader.core.i18n import _

VERB_MODULES = {"feedback": "grader.platforms"}  # the verb and the wings it needs (platforms, reports below it)
VERBS = tuple(VERB_MODULES)


def add_feedback(verbs: argparse._SubParsersAction) -> None:
    feedback = instructor_verb(
        verbs,
        "feedback",
        VERB_MODULES["feedback"],
        help=_("write one feedback page per student (their TODOs, messages and hints) to return to them"),
    )
    feedback.add_argument("results", metavar="OUT", help="a folder `kata grade` wrote (or its results.json)")
    add_out(feedback, "DIR", "where the pages, their JUnit files and feedback.csv go (created if missing)")
    feedback.add_argument(
        "--lang",
        choices=languages(),
        help="the students' language (default: the language the results were graded in, else English)",
    )
    feedback.set_defaults(handler=cmd_feedback)


def results_file(given: str) -> Path:
    """``OUT/results.json`` for a folder, the file itself otherwise."""
    path = Path(given)
    return path / "results.json" if path.is_dir() else path


def feedback_language(explicit: str | None, kit: dict) -> str:
    """``--lang``, else the language ``kata grade`` recorded (``kit.lang``) when the kit
    speaks it, else English."""
    if explicit:
        return explicit
    recorded = kit.get("lang")
    return recorded if isinstance(recorded, str) and recorded in languages() else "en"


def cmd_feedback(args: argparse.Namespace) -> int:
    """Exit 0: a page for every submission; 2: nothing written, with a one-line reason."""
    from grader.platforms.junit import student_junit_xml
    from grader.reports.feedback import SUMMARY_FILE, Attachment, write_feedback
    from grader.results.codec import ResultsError
    from grader.results.codec import load as load_results

    junit = Attachment("junit", ".xml", student_junit_xml)
    try:
        results = load_results(results_file(args.results))
        lang = feedback_language(args.lang, results.kit)
        written = write_feedback(results, Path(args.out), lang, [junit])
    except (ResultsError, OSError) as reason:
        return refused("kata feedback", reason)
    broken = f" ({written.broken} for a broken submission: what was wrong, no grade)" if written.broken else ""
    idle = (
        f"; {written.not_started} student(s) did not start a task: its TODOs say 'not attempted'"
        if written.not_started
        else ""
    )
    print(
        f"kata feedback: {written.pages} page(s) in {lang}{broken}, each with its JUnit XML, → {written.folder}"
        f"{idle}; each student's files and summary in {written.folder / SUMMARY_FILE}. Return each student's "
        "files to them only.",
        file=sys.stderr,
    )
    return 0
