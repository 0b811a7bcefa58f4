"""``kata``: the instructor's and student's command line (thin wrappers)."""

from __future__ import annotations

import argparse
import json
import sys

from grader.core.quiet import silence_mlflow
from grader.lab.todos import load_tasks, task_by_number


def cmd_validate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from grader.classroom.errors import GradingError
    from grader.authoring.mistakes import MistakeError
    from grader.authoring.validate import validate

    console = Console(stderr=args.json)
    try:
        result = validate(progress=lambda message: console.print(f"[dim]… {escape(message)}[/dim]"),
                          workers=args.jobs, allow_unconfined=args.allow_unconfined)
    except (MistakeError, GradingError) as error:
        print(f"kata validate: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0 if result.ok else 1
    table = Table(title="Isolation: TODO reverted → TODOs that failed")
    table.add_column("reverted")
    table.add_column("failed")
    table.add_column("")
    for todo_id, failed in result.isolation.items():
        table.add_row(todo_id, ", ".join(failed) or "(none)", "✓" if failed == [todo_id] else "✗")
    console.print(table)
    mistakes = Table(title="Mistakes: one mistake made → TODOs that failed")
    for column in ("mistake", "task", "expected", "failed", "", "s"):
        mistakes.add_column(column, justify="right" if column == "s" else "left")
    for name, outcome in result.mistakes.items():
        task = outcome.mistake.task
        mistakes.add_row(escape(name), "bonus" if task == 5 else str(task),
                         ", ".join(outcome.mistake.expected),
                         ", ".join(outcome.failed) or "(none)", "✓" if outcome.ok else "✗",
                         f"{outcome.duration_s:.0f}")
    console.print(mistakes)
    for label, ok in (("solutions pass every test", result.solutions_pass),
                      ("stubs fail every TODO by its own assertion", result.stubs_fail),
                      ("each TODO is judged by its own tests only", result.isolated),
                      ("each mistake costs exactly the TODOs it declares", result.mistakes_caught)):
        console.print(f"{'✓' if ok else '✗'} {label}")
    for run, name in ((result.solutions, "solutions"), (result.stubs, "stubs")):
        for todo_id, todo in run.todos.items():
            wrong = todo.status != "pass" if name == "solutions" else todo.status != "fail"
            if wrong:
                console.print(f"  {name}: TODO {todo_id} {todo.status}: {todo.message}", markup=False)
        for problem in run.problems:
            console.print(f"  {name}: {problem}", markup=False)
    for name, outcome in result.mistakes.items():
        if outcome.ok:
            continue
        console.print(f"  mistake {name!r} ({outcome.mistake.what}) costs "
                      f"{', '.join(outcome.failed) or 'nothing'}, expected "
                      f"{', '.join(outcome.mistake.expected)}", markup=False)
        for todo_id, message in outcome.messages.items():
            console.print(f"    {todo_id}: {message}", markup=False)
    return 0 if result.ok else 1


def refused(verb: str, reason: Exception) -> int:
    """The one line a verb prints when it cannot do its job; its exit code (2)."""
    if isinstance(reason, OSError):
        reason = f"{reason.strerror or reason}: {reason.filename or ''}"
    print(f"{verb}: {reason}", file=sys.stderr)
    return 2


def cmd_stubs(args: argparse.Namespace) -> int:
    from grader.core.paths import EXERCISES_DIR as exercises
    from grader.core.paths import KIT_ROOT, SOLUTIONS_DIR
    from grader.authoring.stubgen import stale_exercises, write_exercises

    if args.check:
        stale = stale_exercises(SOLUTIONS_DIR, exercises)
        for name in stale:
            print(f"exercises/{name} is out of sync with solutions/{name}: run `kata stubs`")
        return 1 if stale else 0
    for path in write_exercises(SOLUTIONS_DIR, exercises):
        print(f"wrote {path.relative_to(KIT_ROOT)}")
    return 0


INTERRUPTED = ("kata grade: interrupted; nothing was written to {out} except saved "
               "per-submission progress (use --resume)")


def cmd_grade(args: argparse.Namespace) -> int:
    """Grade a class. SIGINT/SIGTERM/SIGHUP stop it in order (workers, model server and
    temp files gone): one line on stderr and exit 128 + the signal's number."""
    import signal

    from grader.classroom.interrupts import Interrupted, interrupts

    try:
        with interrupts():
            return _grade(args)
    except Interrupted as stop:
        print(INTERRUPTED.format(out=args.out), file=sys.stderr)
        return 128 + stop.signum
    except KeyboardInterrupt:  # before the handlers were installed
        print(INTERRUPTED.format(out=args.out), file=sys.stderr)
        return 128 + signal.SIGINT


def _grade(args: argparse.Namespace) -> int:
    import os
    import statistics
    import time
    from pathlib import Path

    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from grader.classroom.errors import GradingError
    from grader.classroom.grade import GradeOptions, grade

    console = Console(stderr=True)
    options = GradeOptions(Path(args.submissions), Path(args.out), args.jobs or os.cpu_count() or 1,
                           args.timeout, args.resume, require_isolation=args.require_isolation,
                           allow_unconfined=args.allow_unconfined,
                           seed=args.seed, lang=args.lang, scheduler=args.scheduler,
                           similarity_threshold=args.similarity_threshold,
                           tls_ca_file=args.tls_ca_file, tls_cert=args.tls_cert, tls_key=args.tls_key,
                           insecure_scheduler=args.insecure_scheduler)
    started = time.monotonic()
    with Progress(TextColumn("[bold]grading[/bold]"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.description}"), console=console,
                  transient=True) as bar:
        task = bar.add_task("", total=None)

        def progress(event, **data):
            if event == "start":
                bar.update(task, total=data["total"])
            elif event == "isolation" and data["missing"]:
                bar.console.print(f"kata grade: isolation {data['level']}; missing: "
                                  f"{'; '.join(data['missing'])}", soft_wrap=True, markup=False, highlight=False)
            elif event == "begin":
                bar.update(task, description=data["id"])
            elif event == "similarity" and data["pairs"] is None:
                bar.console.print(f"similar pairs: not compared (the comparison failed or took over "
                                  f"{data['deadline_s']} s); the grades are written", markup=False, highlight=False)
            elif event == "similarity":
                bar.console.print(f"similar pairs (score ≥ {data['threshold']:g}): {data['pairs']}",
                                  markup=False, highlight=False)
            elif event == "done":
                result = data["result"]
                bar.advance(task)
                note = "resumed" if data["resumed"] else f"{result.duration_s:.0f} s"
                verdict = (f"{result.score}/{result.max_score}" if result.status == "graded"
                           else f"[red]broken: {escape(result.message)}[/red]")
                bar.console.print(f"  {escape(result.id)}: {verdict} [dim]({note})[/dim]",
                                  soft_wrap=True, markup=True, highlight=False)  # one line, for logs and grep

        try:
            results = grade(options, progress)
        except (GradingError, OSError) as reason:
            return refused("kata grade", reason)
    graded = [s for s in results.submissions if s.status == "graded"]
    broken = len(results.submissions) - len(graded)
    mean = statistics.mean(s.score for s in graded) if graded else 0.0
    console.print(f"graded {len(graded)} submission(s), {broken} broken, in "
                  f"{time.monotonic() - started:.0f} s; mean {mean:.1f}/{results.max_score}; "
                  f"seed {results.kit['seed']} → " + ", ".join(
                      str(options.out / name) for name in ("index.html", "results.json", "grades.csv",
                                                           "similarity.json")),
                  soft_wrap=True, markup=False, highlight=False)
    kit_errors = results.kit_errors()
    if kit_errors:
        console.print(f"warning: {kit_errors} TODO verdict(s) are kit errors, not the students' — "
                      "see the report; rerun `kata validate`", soft_wrap=True, markup=False,
                      highlight=False)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from grader.student.check import check, default_lang

    return check(Path(args.exercises), args.task or None, args.lang or default_lang(), args.format,
                 args.timeout, args.seed)


def cmd_run(args: argparse.Namespace) -> int:
    from grader.student.check import default_lang
    from grader.student.run import main_for

    return main_for(args.task, args.exercises, args.lang or default_lang())


def cmd_hint(args: argparse.Namespace) -> int:
    from grader.student.check import default_lang
    from grader.student.hints import main_for

    from grader.core import i18n

    lang = args.lang or default_lang()
    with i18n.use(lang):  # the TODO's title too, not only the hint
        return main_for(args.todo, args.exercises, lang, args.reset)


def cmd_watch(args: argparse.Namespace) -> int:
    from pathlib import Path

    from grader.student.check import default_lang
    from grader.student.watch import watch

    from grader.core import i18n

    lang = args.lang or default_lang()
    with i18n.use(lang):  # the task and TODO titles too, not only the messages
        return watch(Path(args.exercises), args.task, lang)


def cmd_release(args: argparse.Namespace) -> int:
    from pathlib import Path

    from grader.authoring.release import ReleaseError, release

    out = Path(args.out)
    try:
        written = release(out, force=args.force)
    except (ReleaseError, OSError) as reason:
        return refused("kata release", reason)
    print(f"kata release: {len(written.files)} files → {out}; no solution in it (looked for the "
          f"code of {len(written.checked)} TODOs; spelled out by their own hint: {len(written.told)}; "
          f"too short to tell from common MLflow code: {len(written.short)}). Push it to a "
          "GitHub template repository for GitHub Classroom.", file=sys.stderr)
    return 0


def instructor_verb(verbs: argparse._SubParsersAction, name: str, module: str, **kwargs):
    """The parser of an instructor's verb; when its module is absent (a student kit made
    by `kata release`), a detached parser: the verb is not offered and cannot run."""
    from importlib.util import find_spec

    try:
        absent = find_spec(module) is None
    except ModuleNotFoundError:  # its wing (e.g. grader.authoring) is not there either
        absent = True
    if absent:
        return argparse.ArgumentParser(prog=f"kata {name}", add_help=False)
    return verbs.add_parser(name, **kwargs)


SEED_PATTERN = r"[A-Za-z0-9._-]{1,64}"


def seed_value(text: str) -> str:
    import re

    if not re.fullmatch(SEED_PATTERN, text):
        raise argparse.ArgumentTypeError(f"a seed is 1-64 of A-Z a-z 0-9 . _ -, not {text!r}")
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
    import math

    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"a timeout is a number of seconds above 0, not {text!r}")
    return value


def similarity_threshold(text: str) -> float:
    from grader.classroom.similarity import check_threshold

    try:
        return check_threshold(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a share between 0 and 1, not {text!r}") from None


def languages() -> list[str]:
    from grader.core.i18n import languages

    return list(languages())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kata", description="MLflow kata: lab and autograder.")
    verbs = parser.add_subparsers(dest="verb", required=True)
    validate = instructor_verb(verbs, "validate", "grader.authoring.validate",
                               help="check that the kit judges every TODO correctly")
    validate.add_argument("--json", action="store_true", help="print the verdict as JSON")
    validate.add_argument("--jobs", type=worker_count, metavar="N",
                          help="kata runs in parallel, each in its own kata worker (default: one per core)")
    add_allow_unconfined(validate)
    validate.set_defaults(handler=cmd_validate)
    grade = instructor_verb(verbs, "grade", "grader.classroom.grade",
                            help="grade a folder of submissions (folders or .zip files)")
    grade.add_argument("submissions", metavar="SUBMISSIONS",
                       help="folder whose every sub-folder or .zip is one student's submission")
    grade.add_argument("--out", required=True, metavar="OUT",
                       help="where to write results.json, grades.csv and index.html")
    where = grade.add_mutually_exclusive_group()
    where.add_argument("--jobs", type=worker_count, metavar="N", help="submissions graded in parallel (default: one per core)")
    where.add_argument("--scheduler", metavar="ADDRESS|local:N",
                       help="grade on a Dask cluster: a TLS scheduler's address (tls://HOST:8786, with "
                            "--tls-*), or local:N for N Dask workers on this machine, over TLS with "
                            "credentials of their own (needs the cluster extra)")
    # Named as Dask's own command line names them (dask scheduler/worker --tls-*).
    grade.add_argument("--tls-ca-file", metavar="PATH",
                       help="with --scheduler ADDRESS: the CA certificate (PEM) the cluster's certificates "
                            "are signed by (default: Dask's distributed.comm.tls.ca-file)")
    grade.add_argument("--tls-cert", metavar="PATH",
                       help="with --scheduler ADDRESS: kata grade's client certificate (PEM), signed by "
                            "that CA (default: Dask's distributed.comm.tls.client.cert)")
    grade.add_argument("--tls-key", metavar="PATH",
                       help="with --scheduler ADDRESS: that certificate's private key (PEM) "
                            "(default: Dask's distributed.comm.tls.client.key)")
    grade.add_argument("--insecure-scheduler", action="store_true",
                       help="accept a --scheduler address without TLS (tcp://): anyone who reaches it "
                            "can run code on its workers and change grades; recorded in results.json")
    grade.add_argument("--timeout", type=seconds, default=60.0, metavar="S",
                       help="seconds one call of student code may take (default: %(default)s)")
    grade.add_argument("--resume", action="store_true",
                       help="keep results already in OUT for the same kit (and their seed); "
                            "grade only what is missing")
    grade.add_argument("--seed", metavar="S",
                       help="seed of the tests' varied inputs (default: a fresh random one per run, "
                            "recorded in results.json as kit.seed; pass it again to reproduce a grading)")
    grade.add_argument("--lang", choices=languages(), default="en",
                       help="language of the verdicts' messages in the report (default: %(default)s)")
    grade.add_argument("--similarity-threshold", type=similarity_threshold, metavar="T",
                       help="list pairs of submissions whose own task code is at least this alike, "
                            "0..1, in OUT/similarity.json and the report (default: the kit's, "
                            "printed with the pairs found)")
    grade.add_argument("--require-isolation", action="store_true",
                       help="refuse to grade where the sandbox cannot give every guarantee "
                            "(see README: How student code is isolated)")
    add_allow_unconfined(grade)
    grade.set_defaults(handler=cmd_grade)
    check = verbs.add_parser("check", help="grade your own exercises/: every TODO and your score")
    check.add_argument("--exercises", default="exercises", metavar="DIR",
                       help="folder with your task files (default: %(default)s)")
    check.add_argument("--task", type=int, action="append", choices=sorted(task_by_number()), metavar="N",
                       help="only this task (1-4, 5 = bonus); repeatable")
    check.add_argument("--lang", choices=languages(),
                       help="language (default: $KATA_LANG, else the locale's, else English)")
    check.add_argument("--format", choices=["text", "json", "classroom", "classroom-json"],
                       default="text",
                       help="text (default); json; classroom: the base64 results GitHub Classroom's "
                            "grading reporter reads (classroom-json: the same, readable)")
    check.add_argument("--json", dest="format", action="store_const", const="json",
                       help="the same as --format json")
    check.add_argument("--seed", type=seed_value, metavar="S",
                       help="seed of the tests' varied inputs (default: the public one pytest uses)")
    check.add_argument("--timeout", type=seconds, metavar="S",
                       help="seconds one call of your code may take (default: 60)")
    check.set_defaults(handler=cmd_check)
    run = verbs.add_parser("run", help="run your task once against ./mlflow.db, to see it in the MLflow UI")
    run.add_argument("task", choices=[task.name for task in load_tasks()], help="which task")
    run.add_argument("--exercises", default="exercises", metavar="DIR",
                     help="folder with your task files (default: %(default)s)")
    run.add_argument("--lang", choices=languages(),
                     help="language (default: $KATA_LANG, else the locale's, else English)")
    run.set_defaults(handler=cmd_run)
    hint = verbs.add_parser("hint", help="the next hint of a TODO, one level more each time "
                                         "(a nudge, the MLflow call, nearly the code)")
    hint.add_argument("todo", nargs="?", metavar="TODO", help="the TODO, e.g. 1.3 or B.1")
    hint.add_argument("--reset", action="store_true",
                      help="start this TODO's hints (without TODO: every TODO's) again at level 1")
    hint.add_argument("--exercises", default="exercises", metavar="DIR",
                      help="folder with your task files, whose hints are remembered "
                           "(default: %(default)s)")
    hint.add_argument("--lang", choices=languages(),
                      help="language (default: $KATA_LANG, else the locale's, else English)")
    hint.set_defaults(handler=cmd_hint)
    watch = verbs.add_parser("watch", help="rerun your task's tests each time you save a file "
                                           "in exercises/; on to the next task when it is green")
    watch.add_argument("task", nargs="?", choices=[task.name for task in load_tasks()],
                       help="the task to start with (default: 1)")
    watch.add_argument("--exercises", default="exercises", metavar="DIR",
                       help="folder with your task files (default: %(default)s)")
    watch.add_argument("--lang", choices=languages(),
                       help="language (default: $KATA_LANG, else the locale's, else English)")
    watch.set_defaults(handler=cmd_watch)
    stubs = instructor_verb(verbs, "stubs", "grader.authoring.stubgen",
                            help="(kit maintainers) regenerate exercises/ from solutions/")
    stubs.add_argument("--check", action="store_true", help="only report files out of sync")
    stubs.set_defaults(handler=cmd_stubs)
    release = instructor_verb(verbs, "release", "grader.authoring.release",
                              help="write the student kit (no solutions, no hidden tests), ready "
                                   "as a GitHub Classroom template repository")
    release.add_argument("out", metavar="OUT", help="an empty or new folder")
    release.add_argument("--force", action="store_true",
                         help="replace a previous release in OUT (its .git is kept)")
    release.set_defaults(handler=cmd_release)
    export = instructor_verb(verbs, "export", "grader.reports.class_files",
                             help="export grades for a course platform (one subcommand per format)")
    # Each format is one subcommand: formats.add_parser(NAME, ...) with its own handler.
    formats = export.add_subparsers(dest="format", required=True, metavar="FORMAT")
    add_export_formats(formats)
    add_gradescope_export(formats)
    return parser


def add_export_formats(formats: argparse._SubParsersAction) -> None:
    """The ``kata export`` gradebook subcommands: canvas, moodle, junit."""
    results_help = "a results.json that `kata grade` wrote"
    canvas = formats.add_parser("canvas", help="Canvas gradebook import CSV, from a Canvas gradebook export")
    canvas.add_argument("results", metavar="RESULTS_JSON", help=results_help)
    canvas.add_argument("--roster", required=True, metavar="ROSTER.csv",
                        help="the course's gradebook as Canvas exports it (Grades → Export)")
    canvas.add_argument("--out", required=True, metavar="FILE.csv", help="the CSV to import into Canvas")
    canvas.add_argument("--assignment", default="MLflow kata", metavar="NAME",
                        help="the assignment column; to update an existing assignment use its header "
                             "in the export, e.g. 'MLflow kata (123456)' (default: %(default)s)")
    canvas.add_argument("--points", type=float, metavar="N",
                        help="rescale scores to N points (default: the kata's max score)")
    canvas.set_defaults(handler=cmd_export_gradebook)
    moodle = formats.add_parser("moodle", help="Moodle assignment grading worksheet with the grades filled in")
    moodle.add_argument("results", metavar="RESULTS_JSON", help=results_help)
    moodle.add_argument("--roster", required=True, metavar="WORKSHEET.csv",
                        help="the assignment's offline grading worksheet (View all submissions → "
                             "Download grading worksheet)")
    moodle.add_argument("--out", required=True, metavar="FILE.csv",
                        help="the worksheet to upload (Upload grading worksheet)")
    moodle.add_argument("--grade-column", default="Grade", metavar="NAME",
                        help="the worksheet's grade column, in the site's language (default: %(default)s)")
    moodle.add_argument("--points", type=float, metavar="N",
                        help="rescale scores to N, the assignment's maximum grade (default: the kata's max score)")
    moodle.set_defaults(handler=cmd_export_gradebook)
    junit = formats.add_parser("junit", help="JUnit XML: one testsuite per submission, one testcase per TODO")
    junit.add_argument("results", metavar="RESULTS_JSON", help=results_help)
    junit.add_argument("--out", required=True, metavar="FILE.xml", help="where to write the XML")
    junit.set_defaults(handler=cmd_export_junit)


def cmd_export_gradebook(args: argparse.Namespace) -> int:
    """Exit 0: every submission has its roster row; 1: written, but some submissions
    matched no single row (listed on stderr and in the sidecar); 2: nothing written."""
    from grader.platforms.gradebook import (ResultsError, RosterError, canvas_export, load_results,
                                  moodle_export, write_export)

    import math

    name = f"kata export {args.format}"
    if args.points is not None and not (math.isfinite(args.points) and args.points > 0):
        print(f"{name}: --points must be a number > 0", file=sys.stderr)
        return 2
    try:
        results = load_results(args.results)
        if args.format == "canvas":
            export = canvas_export(results, args.roster, args.assignment, args.points)
        else:
            export = moodle_export(results, args.roster, args.grade_column, args.points)
        sidecar = write_export(export, args.out, results)
    except (ResultsError, RosterError, OSError) as reason:
        return refused(name, reason)
    for note in export.notes:
        print(_printable(f"{name}: note: {note}"), file=sys.stderr)
    for submission, reason in export.unmatched:
        print(_printable(f"{name}: unmatched: {submission.id!r}: {reason}"), file=sys.stderr)
    print(f"{name}: {export.graded} grade(s) → {args.out}"
          + (f"; {len(export.unmatched)} submission(s) unmatched → {sidecar}" if sidecar else ""),
          file=sys.stderr)
    return 1 if export.unmatched else 0


def _printable(line: str) -> str:
    """Student-chosen ids and names on a terminal: control characters shown escaped."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in line)


def cmd_export_junit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from grader.reports.class_files import write_atomic
    from grader.platforms.gradebook import ResultsError, junit_xml, load_results

    try:
        results = load_results(args.results)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, junit_xml(results))
    except (ResultsError, OSError) as reason:
        return refused("kata export junit", reason)
    print(f"kata export junit: {len(results.submissions)} testsuite(s) → {args.out}", file=sys.stderr)
    return 0


def add_gradescope_export(formats: argparse._SubParsersAction) -> None:
    """``kata export gradescope``: the autograder bundle (see grader.platforms.gradescope)."""
    gradescope = formats.add_parser(
        "gradescope", help="the Gradescope autograder bundle (setup.sh, run_autograder, the kit "
                           "with its hidden tests; no solutions)")
    gradescope.add_argument("--out", required=True, metavar="BUNDLE.zip",
                            help="the zip to upload in Gradescope (Configure Autograder)")
    gradescope.add_argument("--seed", metavar="S",
                            help="grading seed of every submission (default: a fresh random one, "
                                 "fixed in the bundle and printed)")
    gradescope.add_argument("--timeout", type=seconds, default=60.0, metavar="S",
                            help="seconds one call of student code may take (default: %(default)s)")
    gradescope.add_argument("--visibility", default="visible",
                            choices=["visible", "after_due_date", "after_published", "hidden"],
                            help="when students see their per-TODO results (default: %(default)s)")
    add_allow_unconfined(gradescope, "the bundle grades")
    gradescope.set_defaults(handler=cmd_export_gradescope)


def add_allow_unconfined(parser: argparse.ArgumentParser, who: str = "grade") -> None:
    """``--allow-unconfined``, declared once for every verb that runs student code as
    the instructor (``grader.classroom.errors.refuse_below_floor`` is what it lifts)."""
    parser.add_argument("--allow-unconfined", action="store_true",
                        help=f"{who} even where student code would run as root with no file-system "
                             "confinement (no namespaces, no Landlock, no uid of its own); refused "
                             "without it; recorded in results.json")


def cmd_export_gradescope(args: argparse.Namespace) -> int:
    from pathlib import Path

    from grader.platforms.gradescope import ExportError, export

    try:
        bundle = export(Path(args.out), args.seed, args.timeout, args.visibility,
                        allow_unconfined=args.allow_unconfined)
    except (ExportError, OSError) as reason:
        return refused("kata export gradescope", reason)
    print(f"kata export gradescope: {bundle.files} files → {bundle.path}; grading seed "
          f"{bundle.seed}. Upload it in Gradescope: the assignment's Configure Autograder, "
          "zip file upload.", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    silence_mlflow()
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
