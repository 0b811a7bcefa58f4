"""Generate the student files in ``exercises/`` from the reference ``solutions/``.

One source, two versions (as in otter-grader/nbgrader). In a solution file every TODO
is a marked region::

    # BEGIN TODO 1.2
    with mlflow.start_run(run_name="baseline") as run:
    # STUB: with nullcontext():
    # END TODO 1.2

The student version replaces the region with the TODO's instructions (English and
Spanish, from ``todos.toml``) followed by the ``# STUB:`` lines as code, or by ``pass``
where the region has none (so blocks stay valid Python): the stub must
do nothing and must not abort the function, so that the other TODOs of the same
function can still be earned. The same renderer can revert a single TODO of the
reference, which is how ``kata validate`` builds its isolation matrix.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Collection
from pathlib import Path

from grader.lab.todos import todo_by_id

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN TODO (?P<id>\S+)\s*$")
END = re.compile(r"^\s*# END TODO (?P<id>\S+)\s*$")
STUB = re.compile(r"^(?P<indent>\s*)# STUB: (?P<code>.*)$")
WIDTH = 88
ALL = None  # stub every TODO


class MarkerError(ValueError):
    """A solution file's TODO markers are malformed."""


def todo_comment(todo_id: str, indent: str, first: bool) -> list[str]:
    """The instructions a stubbed region shows, wrapped to the line width."""
    if not first:
        return [f"{indent}# TODO {todo_id} (continued / continuación)"]
    todo = todo_by_id()[todo_id]
    lines = []
    for label, text in (("TODO", todo.todo_en), ("     ES", todo.todo_es)):
        prefix = f"{indent}# {label} {todo_id}: " if label == "TODO" else f"{indent}#   ES: "
        lines += textwrap.wrap(
            text,
            WIDTH,
            initial_indent=prefix,
            subsequent_indent=f"{indent}#     ",
            break_on_hyphens=False,
        )
    return lines


def render(source: str, stub_ids: Collection[str] | None = ALL, filename: str = "?", comments: bool = False) -> str:
    """Return ``source`` with the TODOs in ``stub_ids`` stubbed and the others solved.

    Solved regions keep their code and lose their markers; ``stub_ids=None`` stubs all.
    ``comments``: solved regions keep their TODO's comment above their code, as a student's
    finished file does (the comments open the TODO regions a raise is attributed to:
    ``grader.judge.regions``).
    """
    out: list[str] = []
    seen: set[str] = set()
    region: str | None = None
    region_stubbed = False
    region_indent, region_stub_lines = "", 0
    for number, line in enumerate(source.splitlines(), start=1):
        begin, end, stub = BEGIN.match(line), END.match(line), STUB.match(line)
        where = f"{filename}:{number}"
        if begin:
            if region:
                raise MarkerError(f"{where}: TODO {begin['id']} begins inside TODO {region}")
            region = begin["id"]
            if region not in todo_by_id():
                raise MarkerError(f"{where}: TODO {region} is not in todos.toml")
            region_stubbed = stub_ids is ALL or region in stub_ids
            region_indent, region_stub_lines = begin["indent"], 0
            if region_stubbed or comments:
                out += todo_comment(region, begin["indent"], first=region not in seen)
            seen.add(region)
        elif end:
            if end["id"] != region:
                raise MarkerError(f"{where}: END TODO {end['id']} does not close TODO {region}")
            if region_stubbed and not region_stub_lines:
                out.append(f"{region_indent}pass")
            region = None
        elif region is None:
            if stub:
                raise MarkerError(f"{where}: STUB line outside a TODO region")
            out.append(line)
        elif stub:
            if region_stubbed:
                out.append(stub["indent"] + stub["code"])
                region_stub_lines += 1
        elif not region_stubbed:
            out.append(line)
    if region:
        raise MarkerError(f"{filename}: TODO {region} is never closed")
    return "\n".join(out) + "\n"


def todo_ids_in(source: str) -> list[str]:
    """The TODO ids a solution file marks, in order of first appearance."""
    ids: list[str] = []
    for line in source.splitlines():
        begin = BEGIN.match(line)
        if begin and begin["id"] not in ids:
            ids.append(begin["id"])
    return ids


def expected_exercises(solutions_dir: Path) -> dict[str, str]:
    """File name -> the student version every solution file should generate."""
    return {
        path.name: render(path.read_text(encoding="utf-8"), ALL, path.name)
        for path in sorted(solutions_dir.glob("*.py"))
    }


def write_exercises(solutions_dir: Path, exercises_dir: Path) -> list[Path]:
    """(Re)generate every student file; return the paths written."""
    exercises_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in expected_exercises(solutions_dir).items():
        target = exercises_dir / name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def stale_exercises(solutions_dir: Path, exercises_dir: Path) -> list[str]:
    """Names of student files that are missing or differ from what the solutions generate."""
    return [
        name
        for name, text in expected_exercises(solutions_dir).items()
        if not (exercises_dir / name).is_file() or (exercises_dir / name).read_text(encoding="utf-8") != text
    ]
