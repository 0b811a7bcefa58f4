"""A synthetic class whose journals are made by really running the kata (issue 23).

Each student gets a lab folder (``submissions/<id>/exercises/``, the kit's stub files)
and works through the chosen tasks in a seeded sequence of edits. A task's file starts
either as the stubs or as the reference solution with one slip of the mistake matrix
(``grader/authoring/mistakes.toml``: realistic one-line mistakes, each declared with the
TODOs it must fail). From the stubs the student writes every TODO (or every TODO but
one, then that one), sometimes with a slip. While a slip is in the file they rerun
without a change, fix it wrongly (trading it for another slip that fails the same TODO)
or fix it; once green, now and then they break a green TODO again with a new slip. Some
students give up before the last fix. Every state is one whose verdicts the kit
guarantees (see ``State``).

After each edit the kata REALLY runs: ``pytest tests/test_taskN.py --exercises …`` with
the kit's plugin, which judges the student's file and appends the run's line to
``exercises/.kata/journal.jsonl`` (real verdicts, real message ids). Every run's
journaled verdicts are checked against what the sequence implies (a TODO fails while it
is a stub or while a slip declared to fail it is in the file, and passes otherwise); a
difference stops the script with both. Runs take seconds, so each run is given a
simulated student time instead (a seeded think time since the run before): the new
line's ``t``, and nothing else, is rewritten after the run.

It writes, in ``OUT``:

- ``submissions/<id>/exercises/``: what each student hands in (the five task files as
  the sequence left them, and ``.kata/journal.jsonl``): ``kata grade OUT/submissions``;
- ``expected.json``: per student the sequence (each run's edit, time and verdicts) and
  what it implies per TODO (the summary ``grader.results.journal.summarise`` should
  give: attempts up to the first green, seconds from the first red run to the first green
  run, how often it broke again, the message ids shown before green with their run
  counts), and the class figures (``class``: per TODO how many students judged it and
  went green, the median and 90th percentile of attempts and of seconds to green over
  the students who went green, the share who broke it again, the messages by runs
  before green), all computed here from the record of the runs, never by the journal's
  own code.

Runs: ``--runner warm`` (default) runs each as the student types it, a ``pytest``
process answered by a warm judge started in a private runtime folder and stopped at the
end; ``--runner inprocess`` runs ``pytest.main`` in this process (what the kit test
uses: no process per run).

Usage: ``python benchmarks/synthetic_class.py OUT [--seed 7] [--students 12] [--tasks 1 2] [--max-runs 12]
[--paces 1] [--runner warm|inprocess]``. OUT must not exist or be empty. Prints the time it took and
the class figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from grader.authoring.mistakes import load_mistakes
from grader.authoring.stubgen import render
from grader.core.paths import EXERCISES_DIR, KIT_ROOT, PYTEST_INI, SOLUTIONS_DIR, TESTS_DIR
from grader.lab.todos import TASK_MODULES, TASK_TEST_FILES, load_todos

START = 1_793_955_600  # Monday 2026-11-02 09:00 UTC: the lab session the class starts in
JOURNAL = Path(".kata") / "journal.jsonl"
LINE_KEYS = ("v", "t", "kit", "verb", "tasks", "todos")
TIMELINE_MAX = 120  # a summary's timeline: the newest runs up to this many


# -- slips: the mistake matrix's mistakes --------------------------------------------------


@dataclass(frozen=True)
class Slip:
    """One mistake of the matrix: an edit of its task's solution file and the TODOs it
    is declared to fail."""

    name: str
    task: int
    find: str
    replace: str
    expected: frozenset[str]


def task_todos(task: int) -> list[str]:
    return [todo.id for todo in load_todos() if todo.task == task]


def solution(task: int) -> str:
    return (SOLUTIONS_DIR / f"{TASK_MODULES[task]}.py").read_text(encoding="utf-8")


def slips_of(task: int) -> list[Slip]:
    """The matrix's mistakes of ``task``'s file, in the matrix's order."""
    return [
        Slip(mistake.name, task, mistake.find, mistake.replace, frozenset(mistake.expected))
        for mistake in load_mistakes()
        if mistake.task == task
    ]


# -- a task file's state: the stubs, or the solution with at most one slip ---------------


@dataclass(frozen=True)
class State:
    """What a task file holds: the TODOs still stubs, and the slip in the code written.

    Only states whose verdicts the kit guarantees are used: every TODO a stub (all fail),
    one TODO a stub (it alone fails: the kit's isolation matrix), or the solution with one
    slip of the matrix (the TODOs it declares fail, the others pass). Two slips at once,
    or several stubs left, may fail more than each alone would (two new runs where the
    tests look for one, a TODO waiting for the run another TODO starts): not what the
    matrix declares."""

    task: int
    stubbed: frozenset[str] = frozenset()
    slip: Slip | None = None

    def source(self) -> str:
        """The student's file in this state (a written TODO keeps its instructions)."""
        text = solution(self.task)
        if self.slip is not None:
            text = text.replace(self.slip.find, self.slip.replace, 1)
        return render(text, self.stubbed, f"{TASK_MODULES[self.task]}.py", comments=True)

    def implied(self) -> dict[str, bool]:
        """TODO id -> whether it passes: it fails while a stub or while the slip in the
        file is declared to fail it."""
        failing = set(self.stubbed) | (self.slip.expected if self.slip else set())
        return {todo: todo not in failing for todo in task_todos(self.task)}


@dataclass
class Edit:
    what: str
    state: State
    think_s: int  # simulated seconds since the run before


def think(rng: random.Random, low: int, typical: int, high: int) -> int:
    """Seconds a student spends before the next run: log-normal around ``typical``."""
    return int(min(high, max(low, rng.lognormvariate(math.log(typical), 0.7))))


def plan(rng: random.Random, task: int, max_runs: int = 12) -> list[Edit]:
    """A seeded sequence of edits of ``task``'s file, one run after each (the first run is
    the file as the student starts it): from the stubs, every TODO written (or every TODO
    but one, then that one), maybe with a slip; or the solution with a slip. Then, while a
    slip is in the file: a rerun without a change, a wrong fix (the slip traded for
    another slip failing a TODO it fails) or the fix; once green, maybe a green TODO broken
    again by a new slip (at most twice). Some students give up with a slip still in the file."""
    todos = task_todos(task)
    slips = slips_of(task)
    if rng.random() < 0.4:
        edits = [Edit("start from the stubs", State(task, stubbed=frozenset(todos)), think(rng, 60, 300, 1200))]
        last = "write every TODO"
        if rng.random() < 0.5:
            left = rng.choice(todos)
            edits.append(
                Edit(f"write every TODO but {left}", State(task, stubbed=frozenset({left})), think(rng, 120, 600, 2400))
            )
            last = f"write TODO {left}"
        slip = rng.choice(slips) if rng.random() < 0.6 else None
        state = State(task, slip=slip)
        edits.append(Edit(last + (f" with {slip.name}" if slip else ""), state, think(rng, 60, 400, 2400)))
    else:
        state = State(task, slip=rng.choice(slips))
        assert state.slip is not None
        edits = [Edit(f"start from the solution with {state.slip.name}", state, think(rng, 300, 900, 2400))]
    breaks = 0
    gives_up = rng.random() < 0.15
    while len(edits) < max_runs and state.slip is not None:
        slip = state.slip
        wrong = [other for other in slips if other != slip and other.expected & slip.expected]
        draw = rng.random()
        if draw < 0.15:
            edits.append(Edit("rerun without a change", state, think(rng, 5, 20, 120)))
        elif draw < 0.4 and wrong:
            state = State(task, slip=rng.choice(wrong))
            edits.append(Edit(f"a wrong fix of {slip.name}: {state.slip.name}", state, think(rng, 20, 150, 1800)))
        elif gives_up:
            break
        else:
            state = State(task)
            edits.append(Edit(f"fix {slip.name}", state, think(rng, 20, 180, 2400)))
            if breaks < 2 and len(edits) < max_runs and rng.random() < 0.4:
                state = State(task, slip=rng.choice([other for other in slips if other != slip]))
                edits.append(Edit(f"break a green TODO again: {state.slip.name}", state, think(rng, 60, 300, 1800)))
                breaks += 1
    return edits[:max_runs]


# -- running the kata ---------------------------------------------------------------------


class InProcess:
    """Runs ``pytest.main`` in this process (the kit's plugin journals it as ``pytest``)."""

    def __enter__(self) -> InProcess:
        return self

    def __exit__(self, *_) -> None:
        return None

    def run(self, exercises: Path, task: int) -> int:
        import pytest

        saved = {name: os.environ.get(name) for name in ("KATA_WARM", "KATA_JOURNAL")}
        os.environ.update(KATA_WARM="0", KATA_JOURNAL="1")
        try:
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                return int(
                    pytest.main(
                        [
                            str(TESTS_DIR / TASK_TEST_FILES[task]),
                            "--exercises",
                            str(exercises),
                            "-q",
                            "-p",
                            "no:cacheprovider",
                            "--rootdir",
                            str(KIT_ROOT),
                            "-c",
                            str(PYTEST_INI),
                        ]
                    )
                )
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


class Warm:
    """Runs each as a student types it (``pytest tests/test_taskN.py``), answered by a warm
    judge in a private runtime folder; stops that judge when done."""

    def __enter__(self) -> Warm:
        self.runtime = Path(tempfile.mkdtemp(prefix="synthetic-class-runtime-"))
        self.runtime.chmod(0o700)
        self.env = {
            **os.environ,
            "KATA_WARM": "1",
            "KATA_JOURNAL": "1",
            "XDG_RUNTIME_DIR": str(self.runtime),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(KIT_ROOT), os.environ.get("PYTHONPATH")])),
        }
        return self

    def __exit__(self, *_) -> None:
        sys.path.insert(0, str(Path(__file__).parent))
        from first_run import stop_judges  # every judge started in this runtime folder

        stop_judges(self.runtime)
        shutil.rmtree(self.runtime, ignore_errors=True)

    def run(self, exercises: Path, task: int) -> int:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                f"tests/{TASK_TEST_FILES[task]}",
                "--exercises",
                str(exercises),
                "-q",
                "-p",
                "no:cacheprovider",
            ],
            cwd=KIT_ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ).returncode


RUNNERS = {"warm": Warm, "inprocess": InProcess}


def retime(path: Path, before: int, t: int) -> dict:
    """The line the run appended to the journal at ``path`` (it had ``before`` lines),
    with its ``t`` rewritten to ``t``: the only byte that changes is the time's."""
    lines = path.read_bytes().splitlines(keepends=True)
    if len(lines) != before + 1:
        raise SystemExit(f"{path}: the run appended {len(lines) - before} lines, not one")
    line = json.loads(lines[-1])
    if tuple(line) != LINE_KEYS or (json.dumps(line, separators=(",", ":")) + "\n").encode() != lines[-1]:
        raise SystemExit(f"{path}: the run's line is not a journal line as written: {lines[-1]!r}")
    line["t"] = t
    lines[-1] = (json.dumps(line, separators=(",", ":")) + "\n").encode()
    path.write_bytes(b"".join(lines))
    return line


# -- what a sequence implies (computed here, never by grader.results.journal) -------------


def implied_summary(runs: list[dict]) -> dict:
    """What a student's runs imply, as the journal's summary: per TODO judged, attempts
    (runs up to the first green, or all), seconds from the first red run to the first
    green run (0 when green at its first run, None when never green), how many times it
    went from green to not green after its first green, and each message id shown
    before green with the number of runs it was shown in."""
    todos: dict[str, dict] = {}
    order = {todo.id: number for number, todo in enumerate(load_todos())}
    for todo in sorted({todo for run in runs for todo in run["todos"]}, key=order.__getitem__):
        seen = [(run["t"], *run["todos"][todo]) for run in runs if todo in run["todos"]]
        first_green = next((index for index, (_t, status, _id) in enumerate(seen) if status == "pass"), None)
        before = seen if first_green is None else seen[:first_green]
        messages: dict[str, int] = {}
        for _t, _status, shown in before:
            if shown is not None:
                messages[shown] = messages.get(shown, 0) + 1
        if first_green is None:
            seconds = None
        else:
            seconds = seen[first_green][0] - before[0][0] if before else 0
        after = [] if first_green is None else [status == "pass" for _t, status, _id in seen[first_green:]]
        todos[todo] = {
            "attempts": len(seen) if first_green is None else first_green + 1,
            "green": first_green is not None,
            "seconds_to_green": seconds,
            "broke_again": sum(1 for was, now in zip(after, after[1:]) if was and not now),
            "messages": messages,
        }
    summary: dict = {"status": "read", "runs": len(runs), "skipped_lines": 0, "todos": todos}
    # per run, oldest first, how many TODOs it judged not passing (the newest TIMELINE_MAX)
    summary["timeline"] = [sum(1 for status, _id in run["todos"].values() if status != "pass") for run in runs][
        -TIMELINE_MAX:
    ]
    if runs:
        summary["first"] = min(run["t"] for run in runs)
        summary["last"] = max(run["t"] for run in runs)
    graded = [todo.id for todo in load_todos() if not todo.bonus]
    if runs and all(todo in todos and todos[todo]["attempts"] == 1 and todos[todo]["green"] for todo in graded):
        summary["flags"] = ["all-green-first-run"]
    return summary


def median(values: list[float]) -> float | None:
    """The middle value, or the mean of the two middle ones; None for none."""
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def p90(values: list[float]) -> float | None:
    """Nearest rank: the ceil(0.9 n)-th smallest value; None for none."""
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1] if ordered else None


def class_figures(summaries: Mapping[str, dict]) -> dict:
    """The class figures the students' implied summaries give (per TODO, in the lab's
    order, the TODOs some student judged; per student, their runs and timeline)."""
    figures: dict = {
        "journals": len(summaries),
        "ignored": 0,
        "missing": 0,
        "todos": {},
        "students": {
            student: {"runs": summary["runs"], "timeline": summary["timeline"]}
            for student, summary in sorted(summaries.items())
        },
    }
    for todo in [todo.id for todo in load_todos()]:
        paths = {
            student: summary["todos"][todo]
            for student, summary in sorted(summaries.items())
            if todo in summary["todos"]
        }
        if not paths:
            continue
        green = {student: path for student, path in paths.items() if path["green"]}
        broke = sum(1 for path in green.values() if path["broke_again"] > 0)
        runs: dict[str, int] = {}
        who: dict[str, list[str]] = {}
        for student, path in paths.items():
            for shown, count in path["messages"].items():
                runs[shown] = runs.get(shown, 0) + count
                who.setdefault(shown, []).append(student)
        attempts = [path["attempts"] for path in green.values()]
        seconds = [path["seconds_to_green"] for path in green.values()]
        figures["todos"][todo] = {
            "students": len(paths),
            "green": len(green),
            "attempts": {"median": median(attempts), "p90": p90(attempts)},
            "seconds_to_green": {"median": median(seconds), "p90": p90(seconds)},
            "broke_again": broke,
            "broke_again_share": broke / len(green) if green else 0.0,
            "messages": [
                {"id": shown, "runs": runs[shown], "students": sorted(who[shown])}
                for shown in sorted(runs, key=lambda shown: (-runs[shown], shown))
            ],
        }
    return figures


# -- the class ---------------------------------------------------------------------------


def student_ids(size: int) -> list[str]:
    return [f"student-{number:02d}" for number in range(1, size + 1)]


def work(
    student: str, exercises: Path, rng: random.Random, tasks: list[int], runner, max_runs: int, clock: int
) -> Iterator[dict]:
    """Run ``student``'s sequence in ``exercises``: yield each run's record."""
    journal = exercises / JOURNAL
    for task in tasks:
        target = exercises / f"{TASK_MODULES[task]}.py"
        for edit in plan(rng, task, max_runs):
            target.write_text(edit.state.source(), encoding="utf-8")
            before = len(journal.read_bytes().splitlines()) if journal.exists() else 0
            exit_code = runner.run(exercises, task)
            implied = edit.state.implied()
            if exit_code != (0 if all(implied.values()) else 1):
                raise SystemExit(f"{student}, task {task}, after {edit.what!r}: pytest exited {exit_code}")
            clock += edit.think_s
            line = retime(journal, before, clock)
            journaled = {todo: status == "pass" for todo, (status, _id) in line["todos"].items()}
            if journaled != implied:
                raise SystemExit(
                    f"{student}, task {task}, after {edit.what!r}: the journal says "
                    f"{ {todo: 'pass' if passed else line['todos'][todo][0] for todo, passed in journaled.items()} }"
                    f", the slips and stubs imply { {todo: 'pass' if p else 'fail' for todo, p in implied.items()} }"
                )
            yield {
                "edit": edit.what,
                "t": clock,
                "task": task,
                "todos": line["todos"],
                "slip": edit.state.slip.name if edit.state.slip else None,
                "stubbed": sorted(edit.state.stubbed),
            }
        clock += think(rng, 300, 900, 3600)  # a break between tasks


def retimed(runs: list[dict], factor: float, start: int) -> list[dict]:
    """``runs`` made at another pace: from ``start``, each wait ``factor`` times as long."""
    return [{**run, "t": start + round((run["t"] - runs[0]["t"]) * factor)} for run in runs]


def copy_at_pace(submission: Path, copy: Path, runs: list[dict]) -> None:
    """Hand in ``submission`` again as ``copy``, its journal's times those of ``runs``."""
    shutil.copytree(submission, copy)
    path = copy / "exercises" / JOURNAL
    lines = [json.loads(raw) for raw in path.read_bytes().splitlines()]
    if len(lines) != len(runs):
        raise SystemExit(f"{path}: {len(lines)} lines for {len(runs)} runs")
    for line, run in zip(lines, runs):
        line["t"] = run["t"]
    path.write_bytes(b"".join((json.dumps(line, separators=(",", ":")) + "\n").encode() for line in lines))


def build_class(out: Path, seed: int, size: int, tasks: list[int], runner, max_runs: int = 12, paces: int = 1) -> dict:
    """Write the class into ``out`` (``submissions/``, ``expected.json``); return what
    ``expected.json`` holds. ``paces`` > 1: each student's work is handed in again by
    ``paces - 1`` more students (``<id>-pace<k>``) who made the same edits, with the same
    verdicts, at another pace (a seeded factor on every wait): more journals, with their
    times spread, for no more runs."""
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise SystemExit(f"{out} is not empty")
    students: dict[str, dict] = {}
    for number, student in enumerate(student_ids(size)):
        rng = random.Random(f"{seed}/{student}")
        exercises = out / "submissions" / student / "exercises"
        shutil.copytree(EXERCISES_DIR, exercises, ignore=shutil.ignore_patterns("__pycache__", ".kata"))
        arrival = random.Random(f"{seed}/{student}/arrival").randrange(0, 600)
        clock = START + number * 37 + arrival  # arriving over the session's first minutes
        runs = list(work(student, exercises, rng, tasks, runner, max_runs, clock))
        for stray in exercises.rglob("__pycache__"):
            shutil.rmtree(stray)
        students[student] = {"runs": runs, "summary": implied_summary(runs)}
        for pace in range(2, paces + 1):
            draw = random.Random(f"{seed}/{student}/pace{pace}")
            factor = round(draw.uniform(0.4, 2.5), 2)
            copy = f"{student}-pace{pace}"
            copied = retimed(runs, factor, runs[0]["t"] + draw.randrange(-300, 300))
            copy_at_pace(out / "submissions" / student, out / "submissions" / copy, copied)
            students[copy] = {"pace_of": student, "pace": factor, "runs": copied, "summary": implied_summary(copied)}
    expected = {
        "seed": seed,
        "tasks": tasks,
        "students": students,
        "class": class_figures({student: data["summary"] for student, data in students.items()}),
    }
    (out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    return expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the class folder to write (new or empty)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--tasks", type=int, nargs="+", default=[1, 2], choices=sorted(TASK_MODULES))
    parser.add_argument("--max-runs", type=int, default=12, help="at most this many runs per task and student")
    parser.add_argument("--runner", choices=sorted(RUNNERS), default="warm")
    parser.add_argument(
        "--paces",
        type=int,
        default=1,
        help="hand each student's work in this many times, at other paces (see build_class)",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the judge on the way out
    started = time.perf_counter()
    with RUNNERS[args.runner]() as runner:
        expected = build_class(args.out, args.seed, args.students, args.tasks, runner, args.max_runs, args.paces)
    runs = sum(len(student["runs"]) for student in expected["students"].values() if "pace_of" not in student)
    print(
        f"{len(expected['students'])} students, {runs} real runs of the kata in {time.perf_counter() - started:.0f} s: "
        f"{args.out / 'submissions'}, {args.out / 'expected.json'}"
    )
    for todo, figures in expected["class"]["todos"].items():
        top = figures["messages"][0] if figures["messages"] else None
        print(
            f"TODO {todo}: {figures['green']}/{figures['students']} green, attempts median "
            f"{figures['attempts']['median']} p90 {figures['attempts']['p90']}, seconds to green median "
            f"{figures['seconds_to_green']['median']} p90 {figures['seconds_to_green']['p90']}, broke again "
            f"{figures['broke_again']} ({figures['broke_again_share']:.0%})"
            + (f", most seen message {top['id']} ({top['runs']} runs, {len(top['students'])} students)" if top else "")
        )


if __name__ == "__main__":
    main()
