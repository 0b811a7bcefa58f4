"""``kata export FORMAT``: grades for a course platform, one subcommand per format
(canvas, moodle, junit: from a results.json; gradescope: the autograder bundle). An
instructor's verb: a student kit, without ``grader.reports``, does not offer it."""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter

from grader.cli.options import (
    add_allow_unconfined,
    add_out,
    add_seed,
    add_timeout,
    instructor_verb,
    languages,
    refused,
    seconds,
)
from grader.core.defaults import GRADESCOPE_BUDGET_S
from grader.core.i18n import _

VERB_MODULES = {"export": "grader.platforms"}  # the verb and the wing it needs
VERBS = tuple(VERB_MODULES)
RESULTS_HELP = "a results.json that `kata grade` wrote"


def add_export(verbs: argparse._SubParsersAction) -> None:
    export = instructor_verb(
        verbs,
        "export",
        VERB_MODULES["export"],
        help=_("export grades for a course platform (one subcommand per format)"),
    )
    # Each format is one subcommand: formats.add_parser(NAME, ...) with its own handler.
    formats = export.add_subparsers(dest="format", required=True, metavar="FORMAT")
    add_export_formats(formats)
    add_gradescope_export(formats)


# -- the gradebooks: canvas, moodle, junit -----------------------------------------------------


def add_results(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", metavar="RESULTS_JSON", help=RESULTS_HELP)


def add_roster(parser: argparse.ArgumentParser, metavar: str, help: str) -> None:
    parser.add_argument("--roster", required=True, metavar=metavar, help=help)


def add_points(parser: argparse.ArgumentParser, help: str) -> None:
    """``--points``: checked by the handler (one line, exit 2), not by argparse."""
    parser.add_argument("--points", type=float, metavar="N", help=help)


def add_gradebook_options(parser: argparse.ArgumentParser) -> None:
    """What the Canvas and Moodle exports share beyond the roster: broken submissions and
    GitHub Classroom clones."""
    parser.add_argument(
        "--broken-as-zero",
        action="store_true",
        help="write 0 for a submission with nothing gradable (default: leave its cell empty and list it)",
    )
    parser.add_argument(
        "--github-roster",
        metavar="FILE",
        help="GitHub Classroom's roster CSV (identifier, github_username, …): matches clones named "
        "<assignment>-<GitHub user> to the students their identifiers name",
    )


def add_moodle_feedback(moodle: argparse.ArgumentParser) -> None:
    """Feedback back to students with their grades: the worksheet's comments column and
    the feedback-files zip (``grader.platforms.moodle``)."""
    moodle.add_argument(
        "--feedback",
        action="store_true",
        help="fill the worksheet's 'Feedback comments' column with each student's short summary "
        "(their score, the TODOs that do not pass yet, where to start)",
    )
    moodle.add_argument(
        "--feedback-column",
        metavar="NAME",
        help="that column's name in the site's language (default: 'Feedback comments'); implies --feedback",
    )
    moodle.add_argument(
        "--feedback-zip",
        metavar="FILE.zip",
        help="also write each student's feedback page, as Moodle's 'Upload multiple feedback files in a zip' reads it",
    )
    add_feedback_language(moodle)


def add_feedback_language(parser: argparse.ArgumentParser) -> None:
    """``--lang``: the language of what goes back to students with the grades."""
    parser.add_argument(
        "--lang",
        choices=languages(),
        help="the language of the feedback (default: the language the results were graded in, else English)",
    )


def add_canvas_comments(canvas: argparse.ArgumentParser) -> None:
    """Feedback back to students with their grades: the comments CSV beside the import
    (``grader.platforms.canvas``; Canvas's gradebook import takes no comments)."""
    canvas.add_argument(
        "--comments",
        action="store_true",
        help="also write FILE.comments.csv beside the import: each matched student's identity columns and "
        "short summary (their score, the TODOs not passed yet, where to start), to post as their submission "
        "comment (Canvas's gradebook import takes no comments)",
    )
    add_feedback_language(canvas)


def add_export_formats(formats: argparse._SubParsersAction) -> None:
    """The ``kata export`` gradebook subcommands: canvas, moodle, junit."""
    canvas = formats.add_parser("canvas", help="Canvas gradebook import CSV, from a Canvas gradebook export")
    add_results(canvas)
    add_roster(canvas, "ROSTER.csv", "the course's gradebook as Canvas exports it (Grades → Export)")
    add_out(canvas, "FILE.csv", "the CSV to import into Canvas")
    canvas.add_argument(
        "--assignment",
        default="MLflow kata",
        metavar="NAME",
        help="the assignment column; to update an existing assignment use its header "
        "in the export, e.g. 'MLflow kata (123456)' (default: %(default)s)",
    )
    add_points(canvas, "rescale scores to N points (default: the kata's max score)")
    add_gradebook_options(canvas)
    add_canvas_comments(canvas)
    canvas.set_defaults(handler=cmd_export_gradebook)
    moodle = formats.add_parser("moodle", help="Moodle assignment grading worksheet with the grades filled in")
    add_results(moodle)
    add_roster(
        moodle,
        "WORKSHEET.csv",
        "the assignment's offline grading worksheet (View all submissions → Download grading worksheet)",
    )
    add_out(moodle, "FILE.csv", "the worksheet to upload (Upload grading worksheet)")
    moodle.add_argument(
        "--grade-column",
        default="Grade",
        metavar="NAME",
        help="the worksheet's grade column, in the site's language (default: %(default)s)",
    )
    add_points(
        moodle,
        "the assignment's maximum grade (default: the worksheet's own, after the grade column; "
        "a different N is refused)",
    )
    add_gradebook_options(moodle)
    add_moodle_feedback(moodle)
    moodle.set_defaults(handler=cmd_export_gradebook)
    junit = formats.add_parser("junit", help="JUnit XML: one testsuite per submission, one testcase per TODO")
    add_results(junit)
    add_out(junit, "FILE.xml", "where to write the XML")
    junit.set_defaults(handler=cmd_export_junit)


def cmd_export_gradebook(args: argparse.Namespace) -> int:
    """Exit 0: every submission's grade is in the export (a broken submission another one
    replaced aside); 1: written, but some submission matched no single row or had nothing
    gradable and was left blank (listed on stderr and in the sidecar); 2: nothing written."""
    from pathlib import Path

    from grader.cli.feedback import feedback_language
    from grader.core.files import write_atomic
    from grader.platforms.canvas import CanvasExport, canvas_export, comments_path
    from grader.platforms.moodle import FEEDBACK_COLUMN, MoodleExport, MoodleFeedback, moodle_export
    from grader.platforms.roster import Export, RosterError, read_github_roster, write_export
    from grader.results.codec import ResultsError
    from grader.results.codec import load as load_results

    name = f"kata export {args.format}"
    if args.points is not None and not (math.isfinite(args.points) and args.points > 0):
        print(f"{name}: --points must be a number > 0", file=sys.stderr)
        return 2
    try:
        results = load_results(args.results)
        github = read_github_roster(args.github_roster) if args.github_roster else None
        export: Export
        if args.format == "canvas":
            comments = feedback_language(args.lang, results.kit) if args.comments else None
            export = canvas_export(
                results, args.roster, args.assignment, args.points, args.broken_as_zero, github, comments
            )
        else:
            feedback = None
            if args.feedback or args.feedback_column or args.feedback_zip:
                column = args.feedback_column or (FEEDBACK_COLUMN if args.feedback else None)
                feedback = MoodleFeedback(feedback_language(args.lang, results.kit), column, bool(args.feedback_zip))
            export = moodle_export(
                results, args.roster, args.grade_column, args.points, args.broken_as_zero, github, feedback
            )
        sidecar = write_export(export, args.out, results)
        if isinstance(export, MoodleExport) and export.feedback_zip is not None:
            Path(args.feedback_zip).parent.mkdir(parents=True, exist_ok=True)
            write_atomic(args.feedback_zip, export.feedback_zip)
        if isinstance(export, CanvasExport) and export.comments is not None:
            write_atomic(comments_path(args.out), export.comments, encoding="utf-8-sig")
    except (ResultsError, RosterError, OSError) as reason:
        return refused(name, reason)
    for note in export.notes:
        print(printable(f"{name}: note: {note}"), file=sys.stderr)
    for item in export.listed:
        row = f" ({item.row})" if item.row and item.kind != "not used" else ""
        print(printable(f"{name}: {item.kind}: {item.submission.id!r}{row}: {item.reason}"), file=sys.stderr)
    counts = Counter(item.kind for item in export.listed)
    listed = ", ".join(f"{count} {kind}" for kind, count in counts.items())
    print(
        f"{name}: {export.graded} grade(s) → {args.out}" + (f"; {listed} → {sidecar}" if sidecar else ""),
        file=sys.stderr,
    )
    if isinstance(export, MoodleExport) and export.feedback_zip is not None:
        print(
            f"{name}: feedback pages of {export.feedback_students} student(s) → {args.feedback_zip}: upload it "
            "with the assignment's 'Upload multiple feedback files in a zip'",
            file=sys.stderr,
        )
    if isinstance(export, CanvasExport) and export.comments is not None:
        idle = f" ({export.not_started} with a task not started: 'not attempted')" if export.not_started else ""
        print(
            f"{name}: the comments of {export.commented} student(s){idle} → {comments_path(args.out)}: post each "
            "as the student's submission comment (the gradebook import takes none)",
            file=sys.stderr,
        )
    return 1 if export.incomplete else 0


def printable(line: str) -> str:
    """Student-chosen ids and names on a terminal: control characters shown escaped."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in line)


def cmd_export_junit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from grader.core.files import write_atomic
    from grader.platforms.junit import junit_xml, not_attempted_count
    from grader.results.codec import ResultsError
    from grader.results.codec import load as load_results

    try:
        results = load_results(args.results)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, junit_xml(results))
    except (ResultsError, OSError) as reason:
        return refused("kata export junit", reason)
    idle = not_attempted_count(results)
    apart = f"; {idle} failure(s) 'not attempted' (a task handed in as the stub)" if idle else ""
    print(f"kata export junit: {len(results.submissions)} testsuite(s) → {args.out}{apart}", file=sys.stderr)
    return 0


# -- gradescope ---------------------------------------------------------------------------


def add_gradescope_export(formats: argparse._SubParsersAction) -> None:
    """``kata export gradescope``: the autograder bundle (see grader.platforms.gradescope)."""
    gradescope = formats.add_parser(
        "gradescope",
        help="the Gradescope autograder bundle (setup.sh, run_autograder, the kit with its hidden tests; no solutions)",
    )
    add_out(gradescope, "BUNDLE.zip", "the zip to upload in Gradescope (Configure Autograder)")
    add_seed(
        gradescope, "grading seed of every submission (default: a fresh random one, fixed in the bundle and printed)"
    )
    add_timeout(gradescope, "seconds one call of student code may take (default: %(default)s)")
    gradescope.add_argument(
        "--budget",
        type=seconds,
        default=GRADESCOPE_BUDGET_S,
        metavar="S",
        help="seconds all calls of one submission's code may take together: the calls left "
        "when it runs out are not run, and their TODOs say so (default: %(default)s, inside "
        "Gradescope's default limit of 600 s)",
    )
    gradescope.add_argument(
        "--visibility",
        default="visible",
        choices=["visible", "after_due_date", "after_published", "hidden"],
        help="when students see their per-TODO results (default: %(default)s)",
    )
    add_allow_unconfined(gradescope, "the bundle grades")
    gradescope.set_defaults(handler=cmd_export_gradescope)


def cmd_export_gradescope(args: argparse.Namespace) -> int:
    from pathlib import Path

    from grader.platforms.gradescope import ExportError, export, requirements_line

    try:
        bundle = export(
            Path(args.out),
            args.seed,
            args.timeout,
            args.visibility,
            allow_unconfined=args.allow_unconfined,
            budget=args.budget,
        )
    except (ExportError, OSError) as reason:
        return refused("kata export gradescope", reason)
    print(
        f"kata export gradescope: {bundle.files} files → {bundle.path}; grading seed "
        f"{bundle.seed}. Upload it in Gradescope: the assignment's Configure Autograder, "
        "zip file upload.",
        file=sys.stderr,
    )
    print(f"kata export gradescope: {requirements_line()}", file=sys.stderr)
    return 0
