"""Grading on Dask versus locally: one synthetic class through ``--scheduler local:2``
and through ``--jobs 2``, same seed.

The class: N submissions cycling through the reference solutions, the stubs and mixes
(some task files solved, the others stubs). Prints the wall seconds of each path, the
cluster path's overhead in % of the local one (target <= 10 %), the peak memory (RSS)
of one kata worker (its process tree: the worker, its sandbox's zygote and the calls'
processes; a kata worker grades one submission at a time, so this is also the peak per
submission) and of one Dask worker process without its kata worker, and checks that
both paths gave every TODO the same verdict.

Usage: ``python benchmarks/bench_scale.py [--n 200]`` (needs the cluster extra).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from timing import KIT_ROOT

sys.path.insert(0, str(KIT_ROOT))

from grader.authoring.stubgen import render  # noqa: E402

SEED = "bench-scale"
TASK_FILES = sorted(path.name for path in (KIT_ROOT / "solutions").glob("*.py"))


def synthetic_class(root: Path, size: int) -> Path:
    """``size`` submissions: solutions, stubs, and mixes (solved files chosen by number)."""
    for number in range(size):
        exercises = root / f"student{number:03d}" / "exercises"
        exercises.mkdir(parents=True)
        kind = number % 4
        for index, name in enumerate(TASK_FILES):
            solved = kind == 0 or (kind == 2 and index % 2 == 0) or (kind == 3 and index < 2)
            text = (KIT_ROOT / "solutions" / name).read_text()
            (exercises / name).write_text(render(text, stub_ids=()) if solved else render(text))
    return root


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line), from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        table[int(entry.name)] = (parent, command)
    return table


@dataclass
class MemorySampler:
    """Samples, every ``period_s``, the RSS of each kata worker's process tree and of
    each Dask worker process below ``root`` (the ``kata grade`` process); keeps peaks."""

    root: int
    period_s: float = 0.5
    kata_peaks: dict[int, int] = field(default_factory=dict)
    dask_peaks: dict[int, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.wait(self.period_s):
            table = self.process_table_below()
            kids: dict[int, list[int]] = {}
            for pid, (parent, _) in table.items():
                kids.setdefault(parent, []).append(pid)
            for pid, (_, command) in table.items():
                if "grader.classroom.worker" in command:
                    total = sum(rss_kib(p) for p in self.tree(pid, kids))
                    self.kata_peaks[pid] = max(self.kata_peaks.get(pid, 0), total)
                elif "multiprocessing.spawn" in command or "distributed" in command:
                    self.dask_peaks[pid] = max(self.dask_peaks.get(pid, 0), rss_kib(pid))

    def process_table_below(self) -> dict[int, tuple[int, str]]:
        table = process_table()
        kids: dict[int, list[int]] = {}
        for pid, (parent, _) in table.items():
            kids.setdefault(parent, []).append(pid)
        return {pid: table[pid] for pid in self.tree(self.root, kids) if pid in table and pid != self.root}

    @staticmethod
    def tree(pid: int, kids: dict[int, list[int]]) -> list[int]:
        found, todo = [], [pid]
        while todo:
            current = todo.pop()
            found.append(current)
            todo.extend(kids.get(current, []))
        return found


def grade(submissions: Path, out: Path, where: list[str]) -> tuple[float, MemorySampler, dict]:
    """One ``kata grade`` run: its wall seconds, memory peaks and results.json."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(submissions), "--out", str(out),
                                "--seed", SEED, *where], cwd=KIT_ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    sampler = MemorySampler(process.pid)
    thread = threading.Thread(target=sampler.run, daemon=True)
    thread.start()
    _, stderr = process.communicate()
    seconds = time.perf_counter() - started
    sampler.stop.set()
    thread.join()
    if process.returncode != 0:
        raise SystemExit(f"kata grade {' '.join(where)} failed: {stderr.strip()[-500:]}")
    return seconds, sampler, json.loads((out / "results.json").read_text())


def verdicts(results: dict) -> dict[str, dict[str, str]]:
    return {s["id"]: {todo: r["status"] for todo, r in s["todos"].items()} for s in results["submissions"]}


def mib(kib: int) -> str:
    return f"{kib / 1024:6.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="submissions in the class (default: %(default)s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        submissions = synthetic_class(scratch / "class", args.n)
        local_s, local_memory, local_results = grade(submissions, scratch / "local", ["--jobs", "2"])
        dask_s, dask_memory, dask_results = grade(submissions, scratch / "dask", ["--scheduler", "local:2"])
    overhead = 100 * (dask_s - local_s) / local_s
    kata_peaks = list(dask_memory.kata_peaks.values()) + list(local_memory.kata_peaks.values())
    same = verdicts(dask_results) == verdicts(local_results)
    print(f"class of {args.n} (solutions, stubs and mixes), seed {SEED}, {os.cpu_count()} cores")
    print(f"--jobs 2:             {local_s:7.1f} s  ({local_s / args.n:.2f} s per submission)")
    print(f"--scheduler local:2:  {dask_s:7.1f} s  ({dask_s / args.n:.2f} s per submission)")
    print(f"cluster overhead:     {overhead:+6.1f} %  (target <= 10 %)")
    if kata_peaks:
        print(f"peak RSS per kata worker (= per submission graded): max {mib(max(kata_peaks))}, "
              f"mean {mib(sum(kata_peaks) // len(kata_peaks))} over {len(kata_peaks)} workers")
    if dask_memory.dask_peaks:
        print(f"peak RSS per Dask worker process (without its kata worker): "
              f"{mib(max(dask_memory.dask_peaks.values()))}")
    print(f"same verdict for every TODO on both paths: {'yes' if same else 'NO'}")
    if not same:
        raise SystemExit("the two paths disagree: see kit_tests/test_dask.py")


if __name__ == "__main__":
    main()
