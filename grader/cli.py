"""``kata``: the instructor's and student's command line (thin wrappers)."""

from __future__ import annotations

import argparse
import json
import sys

from grader.quiet import silence_mlflow


def cmd_validate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from grader.validate import validate

    console = Console(stderr=args.json)
    result = validate(progress=lambda message: console.print(f"[dim]… {message}[/dim]"))
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
    for label, ok in (("solutions pass every test", result.solutions_pass),
                      ("stubs fail every TODO by its own assertion", result.stubs_fail),
                      ("each TODO is judged by its own tests only", result.isolated)):
        console.print(f"{'✓' if ok else '✗'} {label}")
    for run, name in ((result.solutions, "solutions"), (result.stubs, "stubs")):
        for todo_id, todo in run.todos.items():
            wrong = todo.status != "pass" if name == "solutions" else todo.status != "fail"
            if wrong:
                console.print(f"  {name}: TODO {todo_id} {todo.status}: {todo.message}")
        for problem in run.problems:
            console.print(f"  {name}: {problem}")
    return 0 if result.ok else 1


def cmd_stubs(args: argparse.Namespace) -> int:
    from grader.stubgen import stale_exercises, write_exercises
    from grader.validate import KIT_ROOT, SOLUTIONS

    exercises = KIT_ROOT / "exercises"
    if args.check:
        stale = stale_exercises(SOLUTIONS, exercises)
        for name in stale:
            print(f"exercises/{name} is out of sync with solutions/{name}: run `kata stubs`")
        return 1 if stale else 0
    for path in write_exercises(SOLUTIONS, exercises):
        print(f"wrote {path.relative_to(KIT_ROOT)}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from grader.check import check, default_lang

    return check(Path(args.exercises), args.task or None, args.lang or default_lang(), args.json,
                 args.timeout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kata", description="MLflow kata: lab and autograder.")
    verbs = parser.add_subparsers(dest="verb", required=True)
    validate = verbs.add_parser("validate", help="check that the kit judges every TODO correctly")
    validate.add_argument("--json", action="store_true", help="print the verdict as JSON")
    validate.set_defaults(handler=cmd_validate)
    check = verbs.add_parser("check", help="grade your own exercises/: the 15 TODOs and your score")
    check.add_argument("--exercises", default="exercises", metavar="DIR",
                       help="folder with your task files (default: %(default)s)")
    check.add_argument("--task", type=int, action="append", choices=range(1, 6), metavar="N",
                       help="only this task (1-4, 5 = bonus); repeatable")
    check.add_argument("--lang", choices=["en", "es"], help="language (default: from the locale)")
    check.add_argument("--json", action="store_true", help="print the results as JSON")
    check.add_argument("--timeout", type=float, metavar="S",
                       help="seconds one call of your code may take (default: 60)")
    check.set_defaults(handler=cmd_check)
    stubs = verbs.add_parser("stubs", help="(kit maintainers) regenerate exercises/ from solutions/")
    stubs.add_argument("--check", action="store_true", help="only report files out of sync")
    stubs.set_defaults(handler=cmd_stubs)
    return parser


def main(argv: list[str] | None = None) -> int:
    silence_mlflow()
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
