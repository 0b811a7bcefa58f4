"""Copy detection at class scale: wall time of ``find_similar`` and ``write_similarity``,
and whether the planted copies (and only they) are found.

Two synthetic classes per size, both made from the kit's files:

* ``own``: every student is the reference solution plus 3-7 statements of their own per
  file (six shapes, random names and numbers: after normalising, two students' statements
  of one shape differ only in their numbers, a harsh case) in the task functions; 5 % of them copy another
  student's work with the comments changed and the lines reflowed. The usual case: most
  of a class's code is the expected answer, which does not count.
* ``shared``: every task file is one of the sample students' versions
  (``kit_tests/similarity_samples``: ana, ben, carla, dan) plus the same own statements:
  a quarter of the class holds each file, the most sharing there can be, so the most
  pairs to compare (a timing case; in a small class those files are pairs to look at).

Usage: ``python benchmarks/bench_similarity.py [--sizes 40 300] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(KIT_ROOT))

from grader.classroom.similarity import DEFAULT_THRESHOLD, find_similar  # noqa: E402
from grader.classroom.similarity_pages import write_similarity  # noqa: E402
from grader.classroom.task_files import STUDENT_FILES  # noqa: E402

SAMPLES = KIT_ROOT / "kit_tests" / "similarity_samples"
WORDS = ["check", "debug", "value", "done", "rows", "best", "step", "note", "ok", "tmp"]


def own_statement(rng: random.Random, indent: str) -> str:
    """A statement a student might add, with its own shape and numbers."""
    name, other = rng.sample(["extra", "count", "limit", "seen", "total", "item", "flag"], 2)
    n, m = rng.randint(2, 999), rng.randint(2, 99)
    word = rng.choice(WORDS)
    shapes = [
        f'{name} = round({n} / {m}, {rng.randint(1, 6)})',
        f'print("{word}", {n}, [{other} for {other} in range({m})][:{rng.randint(1, 9)}])',
        f'if {n} > {m}:\n{indent}    {name} = [{n}, {m}, {rng.randint(0, 9)}]',
        f'for {name} in range({n} % {m}):\n{indent}    {other} = {name} * {rng.randint(2, 50)}',
        f'{name} = {{"{word}": {n}, "{rng.choice(WORDS)}": {m}}}.get("{word}", {rng.randint(0, 9)})',
        f'assert {n} != {m} - {rng.randint(100, 999)}, "{word}"',
    ]
    return indent + rng.choice(shapes)


def personalise(text: str, rng: random.Random, count: int) -> str:
    """``text`` with ``count`` own statements after random statement lines of its functions."""
    lines = text.split("\n")
    spots = [i for i, line in enumerate(lines) if line.startswith("    ") and line.strip()
             and not line.rstrip().endswith((":", ",", "(", "[", "{", '"""'))
             and not line.lstrip().startswith(("#", '"', "return", ")", "]", "}"))
             and i + 1 < len(lines) and not lines[i + 1].startswith(" " * (len(line) - len(line.lstrip()) + 1))]
    for spot in sorted(rng.sample(spots, min(count, len(spots))), reverse=True):
        indent = lines[spot][: len(lines[spot]) - len(lines[spot].lstrip())]
        lines.insert(spot + 1, own_statement(rng, indent))
    return "\n".join(lines)


def disguise(text: str, rng: random.Random) -> str:
    """A copy's cosmetics: comments changed, blank lines and spacing moved."""
    text = re.sub(r"#[^\n]*", lambda _: "# " + rng.choice(WORDS), text)
    text = text.replace(", ", ",  ").replace("\n\n", "\n")
    return text + f"\n# {rng.choice(WORDS)}\n"


def make_class(root: Path, size: int, kind: str, seed: int) -> tuple[dict[str, Path], set[tuple[str, str]]]:
    """The class's folders, and the pairs that share a source (a copy and its original,
    two copies of one original)."""
    rng = random.Random(seed)
    sources = ["ana", "ben", "carla", "dan"]
    folders: dict[str, Path] = {}
    origin: dict[str, str] = {}
    for number in range(size):
        sid = f"s{number:04d}"
        folder = root / kind / sid
        folder.mkdir(parents=True)
        copied = folders and rng.random() < 0.05
        original = rng.choice(sorted(folders)) if copied else None
        for name in STUDENT_FILES:
            if original:
                text = disguise((folders[original] / name).read_text(encoding="utf-8"), rng)
            else:
                base = (KIT_ROOT / "solutions" / name) if kind == "own" else SAMPLES / rng.choice(sources) / name
                text = personalise(base.read_text(encoding="utf-8"), rng, rng.randint(3, 7))
            (folder / name).write_text(text, encoding="utf-8")
        origin[sid] = origin[original] if original else sid
        folders[sid] = folder
    planted = {(a, b) for a in folders for b in folders if a < b and origin[a] == origin[b]}
    return folders, planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[40, 300])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    find_similar({})  # imports copydetect (and matplotlib) outside the timings
    print(f"{'class':>6} {'kind':>7} {'find_similar':>13} {'write':>7} {'pairs':>6} "
          f"{'copies found':>13} {'other pairs':>12} {'best other':>11} {'worst copy':>11}")
    for size in args.sizes:
        for kind in ("own", "shared"):
            with tempfile.TemporaryDirectory(prefix="bench-similarity-") as temp:
                folders, planted = make_class(Path(temp), size, kind, args.seed)
                start = time.perf_counter()
                every = find_similar(folders, threshold=0.0)  # the same work as at any threshold
                found_s = time.perf_counter() - start
                pairs = [pair for pair in every if pair.score >= DEFAULT_THRESHOLD]
                start = time.perf_counter()
                write_similarity(pairs, folders, Path(temp) / "out")
                write_s = time.perf_counter() - start
                found = {(p.first, p.second) for p in pairs}
                other = max((p.score for p in every if (p.first, p.second) not in planted), default=0)
                scores = {(p.first, p.second): p.score for p in every}
                worst = min((scores.get(pair, 0.0) for pair in planted), default=1)
                print(f"{size:>6} {kind:>7} {found_s:>12.2f}s {write_s:>6.2f}s {len(pairs):>6} "
                      f"{len(found & planted):>5} of {len(planted):<5} {len(found - planted):>12} "
                      f"{other:>11.2f} {worst:>11.2f}")


if __name__ == "__main__":
    main()
