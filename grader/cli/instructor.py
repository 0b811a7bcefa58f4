"""The instructor's verbs: ``kata validate``, ``grade``, ``stubs`` and ``release``
(``kata export`` is ``grader.cli.export``). This module ships to students with
``grader/cli``; there each verb's wing is absent, so ``instructor_verb`` leaves the verb
out. Handlers import their wing only when they run."""

from __future__ import annotations

import argparse
import json
import sys

from grader.cli.options import (
    add_allow_unconfined,
    add_jobs,
    add_lang,
    add_out,
    add_seed,
    add_timeout,
    instructor_verb,
    refused,
)
from grader.core.i18n import _
from grader.lab.todos import task_by_number

# Each verb and the module it needs: a kit without that module (a student kit) offers no verb.
VERB_MODULES = {
    "validate": "grader.authoring.validate",
    "grade": "grader.classroom.grade",
    "stubs": "grader.authoring.stubgen",
    "release": "grader.authoring.release",
}
VERBS = tuple(VERB_MODULES)

# -- kata validate ----------------------------------------------------------------------


def add_validate(verbs: argparse._SubParsersAction) -> None:
    validate = instructor_verb(
        verbs, "validate", VERB_MODULES["validate"], help=_("check that the kit judges every TODO correctly")
    )
    validate.add_argument("--json", action="store_true", help="print the verdict as JSON")
    add_jobs(validate, "kata runs in parallel, each in its own kata worker (default: one per core)")
    add_allow_unconfined(validate)
    validate.set_defaults(handler=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from grader.authoring.mistakes import MistakeError
    from grader.authoring.validate import validate
    from grader.classroom.errors import GradingError

    console = Console(stderr=args.json)
    try:
        result = validate(
            progress=lambda message: console.print(f"[dim]… {escape(message)}[/dim]"),
            workers=args.jobs,
            allow_unconfined=args.allow_unconfined,
        )
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
        task = task_by_number()[outcome.mistake.task]  # the bonus by its flag (todos.toml), not its number
        mistakes.add_row(
            escape(name),
            "bonus" if task.bonus else str(task.number),
            ", ".join(outcome.mistake.expected),
            ", ".join(outcome.failed) or "(none)",
            "✓" if outcome.ok else "✗",
            f"{outcome.duration_s:.0f}",
        )
    console.print(mistakes)
    for label, ok in (
        ("solutions pass every test", result.solutions_pass),
        ("stubs fail every TODO by its own assertion", result.stubs_fail),
        ("each TODO is judged by its own tests only", result.isolated),
        ("each mistake costs exactly the TODOs it declares", result.mistakes_caught),
    ):
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
        console.print(
            f"  mistake {name!r} ({outcome.mistake.what}) costs "
            f"{', '.join(outcome.failed) or 'nothing'}, expected "
            f"{', '.join(outcome.mistake.expected)}",
            markup=False,
        )
        for todo_id, message in outcome.messages.items():
            console.print(f"    {todo_id}: {message}", markup=False)
    return 0 if result.ok else 1


# -- kata grade -------------------------------------------------------------------------


def similarity_threshold(text: str) -> float:
    from grader.classroom.similarity import check_threshold

    try:
        return check_threshold(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a share between 0 and 1, not {text!r}") from None


def add_grade(verbs: argparse._SubParsersAction) -> None:
    grade = instructor_verb(
        verbs, "grade", VERB_MODULES["grade"], help=_("grade a folder of submissions (folders or .zip files)")
    )
    grade.add_argument(
        "submissions", metavar="SUBMISSIONS", help="folder whose every sub-folder or .zip is one student's submission"
    )
    add_out(grade, "OUT", "where to write results.json, grades.csv and index.html")
    where = grade.add_mutually_exclusive_group()
    add_jobs(where, "submissions graded in parallel (default: one per core)")
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS|local:N",
        help="grade on a Dask cluster: a TLS scheduler's address (tls://HOST:8786, with "
        "--tls-*), or local:N for N Dask workers on this machine, over TLS with "
        "credentials of their own (needs the cluster extra)",
    )
    # Named as Dask's own command line names them (dask scheduler/worker --tls-*).
    grade.add_argument(
        "--tls-ca-file",
        metavar="PATH",
        help="with --scheduler ADDRESS: the CA certificate (PEM) the cluster's certificates "
        "are signed by (default: Dask's distributed.comm.tls.ca-file)",
    )
    grade.add_argument(
        "--tls-cert",
        metavar="PATH",
        help="with --scheduler ADDRESS: kata grade's client certificate (PEM), signed by "
        "that CA (default: Dask's distributed.comm.tls.client.cert)",
    )
    grade.add_argument(
        "--tls-key",
        metavar="PATH",
        help="with --scheduler ADDRESS: that certificate's private key (PEM) "
        "(default: Dask's distributed.comm.tls.client.key)",
    )
    grade.add_argument(
        "--insecure-scheduler",
        action="store_true",
        help="accept a --scheduler address without TLS (tcp://): anyone who reaches it "
        "can run code on its workers and change grades; recorded in results.json",
    )
    add_timeout(grade, "seconds one call of student code may take (default: %(default)s)")
    again = grade.add_mutually_exclusive_group()
    again.add_argument(
        "--resume",
        action="store_true",
        help="keep results already in OUT for the same kit, seed and task files; grade only what is "
        "missing or changed (says how many, and why)",
    )
    again.add_argument(
        "--only",
        nargs="+",
        metavar="ID",
        help="regrade just these submissions into the results already in OUT (same seed and "
        "language; everyone else's verdicts kept); rewrites results.json, grades.csv and the report",
    )
    add_seed(
        grade,
        "seed of the tests' varied inputs (default: a fresh random one per run, "
        "recorded in results.json as kit.seed; pass it again to reproduce a grading)",
    )
    add_lang(grade, "language of the verdicts' messages in the report (default: en; with --only, OUT's)")
    grade.add_argument(
        "--similarity-threshold",
        type=similarity_threshold,
        metavar="T",
        help="list pairs of submissions whose own task code is at least this alike, "
        "0..1, in OUT/similarity.json and the report (default: the kit's, "
        "printed with the pairs found)",
    )
    grade.add_argument(
        "--require-isolation",
        action="store_true",
        help="refuse to grade where the sandbox cannot give every guarantee (see README: How student code is isolated)",
    )
    grade.add_argument(
        "--journal-summary",
        metavar="FILE",
        help="also write the class's journals summed per message (runs before green, students "
        "who saw it; no student id) to FILE (JSON), to send to the kit's maintainers",
    )
    add_allow_unconfined(grade)
    grade.set_defaults(handler=cmd_grade)


INTERRUPTED = (
    "kata grade: interrupted; nothing was written to {out} except saved per-submission progress (use --resume)"
)


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


def grade_lang(args: argparse.Namespace) -> str:
    """``kata grade``'s language: ``--lang``; else, with ``--only``, that of the verdicts in
    OUT; else English, whoever runs it (the class report is the instructor's)."""
    if args.lang:
        return args.lang
    if args.only:
        from pathlib import Path

        from grader.classroom.saved_run import out_lang

        return out_lang(Path(args.out)) or "en"
    return "en"


def regrade_line(event: str, data: dict, out) -> str:
    """The one line ``--resume`` (event "resume") or ``--only`` ("only") says before grading:
    how many verdicts are kept, how many graded again, and why."""
    if event == "only":
        names = ", ".join(data["regrading"][:5]) + (", …" if len(data["regrading"]) > 5 else "")
        return (
            f"kata grade --only: regrading {len(data['regrading'])} submission(s) ({names}); "
            f"keeping {data['kept']} verdict(s) from {out}/results.json"
        )
    why = ", ".join(f"{reason}: {count}" for reason, count in sorted(data["regrading"].items(), key=lambda kv: -kv[1]))
    regrading = sum(data["regrading"].values())
    return f"kata grade --resume: kept {data['kept']} saved verdict(s); grading {regrading}" + (
        f" ({why})" if why else ""
    )


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
    options = GradeOptions(
        Path(args.submissions),
        Path(args.out),
        args.jobs or os.cpu_count() or 1,
        args.timeout,
        args.resume,
        require_isolation=args.require_isolation,
        allow_unconfined=args.allow_unconfined,
        seed=args.seed,
        lang=grade_lang(args),
        only=tuple(args.only or ()),
        scheduler=args.scheduler,
        similarity_threshold=args.similarity_threshold,
        tls_ca_file=args.tls_ca_file,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        insecure_scheduler=args.insecure_scheduler,
        journal_summary=Path(args.journal_summary) if args.journal_summary else None,
    )
    started = time.monotonic()
    with Progress(
        TextColumn("[bold]grading[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def progress(event, **data):
            if event == "start":
                bar.update(task, total=data["total"])
            elif event == "isolation" and data["missing"]:
                bar.console.print(
                    f"kata grade: isolation {data['level']}; missing: {'; '.join(data['missing'])}",
                    soft_wrap=True,
                    markup=False,
                    highlight=False,
                )
            elif event == "begin":
                bar.update(task, description=data["id"])
            elif event == "replace":
                bar.console.print(
                    f"kata grade: replacing the grading in {options.out}/results.json ({data['submissions']} "
                    f"submission(s), seed {data['seed']}, language {data['lang']}); --resume keeps what has "
                    "not changed",
                    soft_wrap=True,
                    markup=False,
                    highlight=False,
                )
            elif event in ("resume", "only"):
                bar.console.print(regrade_line(event, data, options.out), soft_wrap=True, markup=False, highlight=False)
            elif event == "similarity" and data["pairs"] is None:
                bar.console.print(
                    f"similar pairs: not compared (the comparison failed or took over "
                    f"{data['deadline_s']} s); the grades are written",
                    markup=False,
                    highlight=False,
                )
            elif event == "similarity":
                bar.console.print(
                    f"similar pairs (score ≥ {data['threshold']:g}): {data['pairs']}", markup=False, highlight=False
                )
            elif event == "done":
                result = data["result"]
                bar.advance(task)
                note = "resumed" if data["resumed"] else f"{result.duration_s:.0f} s"
                verdict = (
                    f"{result.score}/{result.max_score}"
                    if result.status == "graded"
                    else f"[red]broken: {escape(result.message)}[/red]"
                )
                bar.console.print(
                    f"  {escape(result.id)}: {verdict} [dim]({note})[/dim]",
                    soft_wrap=True,
                    markup=True,
                    highlight=False,
                )  # one line, for logs and grep

        try:
            results = grade(options, progress)
        except (GradingError, OSError) as reason:
            return refused("kata grade", reason)
    graded = [s for s in results.submissions if s.status == "graded"]
    broken = len(results.submissions) - len(graded)
    mean = statistics.mean(s.score for s in graded) if graded else 0.0
    console.print(
        f"graded {len(graded)} submission(s), {broken} broken, in "
        f"{time.monotonic() - started:.0f} s; mean {mean:.1f}/{results.max_score}; "
        f"seed {results.kit['seed']} → "
        + ", ".join(
            [
                *(str(options.out / name) for name in ("index.html", "results.json", "grades.csv", "similarity.json")),
                *([str(options.journal_summary)] if options.journal_summary else []),
            ]
        ),
        soft_wrap=True,
        markup=False,
        highlight=False,
    )
    kit_errors = results.kit_errors()
    if kit_errors:
        console.print(
            f"warning: {kit_errors} TODO verdict(s) are kit errors, not the students' — "
            "see the report; rerun `kata validate`",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
    return 0


# -- kata stubs, kata release ---------------------------------------------------------------


def add_stubs(verbs: argparse._SubParsersAction) -> None:
    stubs = instructor_verb(
        verbs, "stubs", VERB_MODULES["stubs"], help=_("(kit maintainers) regenerate exercises/ from solutions/")
    )
    stubs.add_argument("--check", action="store_true", help="only report files out of sync")
    stubs.set_defaults(handler=cmd_stubs)


def cmd_stubs(args: argparse.Namespace) -> int:
    from grader.authoring.stubgen import stale_exercises, write_exercises
    from grader.core.paths import EXERCISES_DIR as exercises
    from grader.core.paths import KIT_ROOT, SOLUTIONS_DIR

    if args.check:
        stale = stale_exercises(SOLUTIONS_DIR, exercises)
        for name in stale:
            print(f"exercises/{name} is out of sync with solutions/{name}: run `kata stubs`")
        return 1 if stale else 0
    for path in write_exercises(SOLUTIONS_DIR, exercises):
        print(f"wrote {path.relative_to(KIT_ROOT)}")
    return 0


def add_release(verbs: argparse._SubParsersAction) -> None:
    release = instructor_verb(
        verbs,
        "release",
        VERB_MODULES["release"],
        help=_(
            "write the student kit (no solutions, no hidden tests), ready as a GitHub Classroom template repository"
        ),
    )
    release.add_argument("out", metavar="OUT", help="an empty or new folder")
    release.add_argument("--force", action="store_true", help="replace a previous release in OUT (its .git is kept)")
    release.add_argument(
        "--no-journal",
        dest="journal",
        action="store_false",
        help="leave the student's journal of runs out of the course (default: on; its README says what it records)",
    )
    release.set_defaults(handler=cmd_release)


def cmd_release(args: argparse.Namespace) -> int:
    from pathlib import Path

    from grader.authoring.release import ReleaseError, release

    out = Path(args.out)
    try:
        written = release(out, force=args.force, journal=args.journal)
    except (ReleaseError, OSError) as reason:
        return refused("kata release", reason)
    print(
        f"kata release: {len(written.files)} files → {out}; no solution in it (looked for the "
        f"code of {len(written.checked)} TODOs; public by design (their instruction, hint or the "
        f"stubs show it): {len(written.told)}; "
        f"too short to tell from common MLflow code: {len(written.short)}). Push it to a "
        "GitHub template repository for GitHub Classroom.",
        file=sys.stderr,
    )
    return 0
