"""Grading throughput: a class of N copies of a perfect submission, ``--jobs 2``.

Prints the amortized wall seconds per submission, its ratio to the import floor
(``python -c "import mlflow, sklearn.ensemble, pandas"``, measured in the same run)
and its speed-up over the naive way (a fresh ``pytest`` process per submission, one
after the other; measured on a few submissions and averaged). Targets:
amortized <= 0.75x the floor, >= 4x faster than naive.

Usage: ``python benchmarks/bench_grade.py [--size 40] [--naive-samples 3]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from timing import KIT_ROOT, import_floor, wall

sys.path.insert(0, str(KIT_ROOT))

from grader.authoring.stubgen import render  # noqa: E402

def perfect_class(root: Path, size: int) -> Path:
    for number in range(size):
        exercises = root / f"student{number:03d}" / "exercises"
        exercises.mkdir(parents=True)
        for path in (KIT_ROOT / "solutions").glob("*.py"):
            (exercises / path.name).write_text(render(path.read_text(), stub_ids=()))
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=40, help="submissions in the class")
    parser.add_argument("--naive-samples", type=int, default=3, help="naive runs to average")
    args = parser.parse_args()
    floor = import_floor()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        submissions = perfect_class(scratch / "class", args.size)
        total = wall([sys.executable, "-m", "grader", "grade", str(submissions), "--out",
                      str(scratch / "out"), "--jobs", "2"])
        graded = json.loads((scratch / "out" / "results.json").read_text())["submissions"]
        full = sum(s["score"] == s["max_score"] for s in graded)
        naive = statistics.mean(
            wall([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests",
                  "--exercises", str(submissions / f"student{n:03d}" / "exercises")])
            for n in range(args.naive_samples))
    amortized = total / args.size
    print(f"import floor:            {floor:6.2f} s")
    print(f"class of {args.size}, --jobs 2:   {total:6.1f} s")
    print(f"amortized / submission:  {amortized:6.2f} s = {amortized / floor:.2f}x floor (target <= 0.75x)")
    print(f"naive / submission:      {naive:6.2f} s")
    print(f"speed-up over naive:     {naive / amortized:6.2f}x (target >= 4x)")
    print(f"full scores:             {full}/{args.size} (every copy is the reference solution)")
    if full != args.size:
        raise SystemExit("some perfect copies lost points: run `kata validate`")


if __name__ == "__main__":
    main()
