"""A student's first ``pytest tests/test_task1.py`` and its reruns, against the same kata
written the plain way (``benchmarks/plain_kata``: the student's module imported in the
pytest process, a copied pre-migrated SQLite store per test, no sandbox, no judge).

Each round runs, side by side, the plain suite and the kit's suite in a fresh home
(``HOME`` and ``XDG_RUNTIME_DIR`` new and empty: no store template cached, no judge, so
the first run starts a warm judge) followed by ``--reruns`` reruns (the judge is warm),
then stops that judge: plain, kit, plain, kit … alternate, so a busy machine weighs on
both alike. Each run is timed in wall seconds and in CPU
seconds: the pytest process's (``getrusage(RUSAGE_CHILDREN)``) plus what the warm judge's
process tree spent meanwhile (``/proc``: the judge, its zygote and the calls it reaped).
Prints each round, then the median ratio to the plain suite of the same round with its
spread (min-max). Targets (issue 21): first <= 1.0x the plain suite, reruns <= 0.35x.

Usage: ``python benchmarks/first_run.py [--rounds 5] [--reruns 2] [--exercises solutions]``.
Every judge it started is stopped when it ends.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from timing import KIT_ROOT

from grader.judge.footprint import children_by_parent

PLAIN = ["-c", "benchmarks/plain_kata/pytest.ini", "benchmarks/plain_kata"]
KIT = ["tests/test_task1.py"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
FIRST_TARGET, RERUN_TARGET = 1.0, 0.35


@dataclass
class Timed:
    wall: float
    cpu: float


def tree(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children = children_by_parent()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def cpu_of(pids: list[int]) -> float:
    """CPU seconds these processes spent, with their reaped children's."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / CLOCK_TICKS


def judge_pids(runtime: Path) -> list[int]:
    """The warm judges started in this fresh ``XDG_RUNTIME_DIR`` (their logs say)."""
    pids = []
    for log in runtime.glob("*/judge-*.log"):
        pids += [int(pid) for pid in re.findall(r"warm judge (\d+) ready", log.read_text())]
    return pids


def judges_cpu(runtime: Path) -> float:
    return sum(cpu_of(tree(pid)) for pid in judge_pids(runtime))


def timed(args: list[str], env: dict[str, str], runtime: Path | None, log: Path) -> Timed:
    """Run ``python -m pytest ARGS`` (it must pass); its wall and CPU seconds."""
    judges_before = judges_cpu(runtime) if runtime else 0.0
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(log, "ab") as output:
        status = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
            cwd=KIT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        ).returncode
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if runtime:
        cpu += judges_cpu(runtime) - judges_before
    if status != 0:
        raise SystemExit(f"pytest {' '.join(args)} exited {status}: see {log}")
    return Timed(wall, cpu)


def stop_judges(runtime: Path) -> None:
    """Stop the judges of this run (SIGTERM, as ``kata stop``), then whatever of their
    trees is left."""
    pids = [pid for judge in judge_pids(runtime) for pid in tree(judge)]
    for pid in judge_pids(runtime):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
        time.sleep(0.1)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def fresh_env(home: Path, runtime: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KATA_WARM", "XDG_CACHE_HOME", "KATA_EXERCISES")}
    return {**env, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime), "KATA_WARM_IDLE_S": "300"}


def kit_round(exercises: str, reruns: int, scratch: Path, log: Path) -> tuple[Timed, list[Timed]]:
    home, runtime = scratch / "home", scratch / "run"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    env = fresh_env(home, runtime)
    try:
        first = timed([*KIT, "--exercises", exercises], env, runtime, log)
        again = [timed([*KIT, "--exercises", exercises], env, runtime, log) for _ in range(reruns)]
    finally:
        stop_judges(runtime)
    return first, again


def plain_round(exercises: str, scratch: Path, log: Path) -> Timed:
    home, runtime = scratch / "plain-home", scratch / "plain-run"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    return timed([*PLAIN, "--exercises", exercises], fresh_env(home, runtime), None, log)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):5.2f}x ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of plain + first + reruns")
    parser.add_argument("--reruns", type=int, default=2, help="warm reruns after each first run")
    parser.add_argument("--exercises", default="solutions", help="the student files (default: %(default)s)")
    args = parser.parse_args()
    # SIGTERM (and SIGINT, which a background job ignores) unwind: every judge started is stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    exercises = str((KIT_ROOT / args.exercises).resolve())
    log = Path(tempfile.gettempdir()) / f"first-run-{os.getpid()}.log"
    rows = []
    print(f"{'round':<6} {'plain s':>8} {'cpu':>6} {'first s':>8} {'cpu':>6} {'rerun s':>8} {'cpu':>6}")
    for number in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="kata-first-run-") as scratch:
            plain = plain_round(exercises, Path(scratch), log)
            first, again = kit_round(exercises, args.reruns, Path(scratch), log)
        rows.append((plain, first, again))
        rerun = Timed(statistics.median(t.wall for t in again), statistics.median(t.cpu for t in again))
        print(
            f"{number + 1:<6} {plain.wall:8.2f} {plain.cpu:6.2f} {first.wall:8.2f} {first.cpu:6.2f} "
            f"{rerun.wall:8.2f} {rerun.cpu:6.2f}",
            flush=True,
        )
    first_wall = [first.wall / plain.wall for plain, first, _ in rows]
    first_cpu = [first.cpu / plain.cpu for plain, first, _ in rows]
    rerun_wall = [t.wall / plain.wall for plain, _, again in rows for t in again]
    rerun_cpu = [t.cpu / plain.cpu for plain, _, again in rows for t in again]
    print(f"\nratios to the plain suite of the same round: median (min-max) over {args.rounds} rounds")
    print(f"first run / plain:  wall {spread(first_wall)}  cpu {spread(first_cpu)}  target wall <= {FIRST_TARGET}x")
    print(f"rerun / plain:      wall {spread(rerun_wall)}  cpu {spread(rerun_cpu)}  target wall <= {RERUN_TARGET}x")
    plain_cpu = statistics.median(plain.cpu for plain, _, _ in rows)
    print(f"plain suite:        wall {statistics.median(p.wall for p, _, _ in rows):.2f} s, cpu {plain_cpu:.2f} s")
    log.unlink(missing_ok=True)  # kept only when a run failed (its output is there)


if __name__ == "__main__":
    main()
