"""Which TODO's code raised, found in the sandboxed child; and the call replayed without it.

A raise costs only the TODO whose code raised (issue 21). In the child, after the student's
function (or their module's import) raised, ``note_raise`` finds the TODO region
(``grader.judge.regions``) of the student's file that holds the raising line — the deepest
frame in the called module's file that lies in a region, so a helper of theirs called from a
TODO counts for that TODO — and notes it (``NOTES[RAISED_IN]``): the TODO, the line, its
code, and how a replay should leave the statement out. The judge (``grader.judge.raises``)
then judges the call's other TODOs on a replay of the call with that statement left out:
``rewrite`` compiles the student's module without it (``REWRITES``), inside this child only.

One exception is not the raising line's doing: "Run … is already active" raised by a
``start_run`` (often the skeleton's ``with mlflow.start_run()``, a line no TODO holds) when
a run started earlier was never ended — a logging call dedented out of the ``with`` block
starts one for itself. The kit's one record of run starts
(``grader.judge.mlflow_errors.watch_run_starts``, a guard of ``grader.judge.probes``) says
which student lines started that run and whether a logging call started it implicitly
(``mlflow_errors.started_by``); the statement that started the active run is then the one
noted, and the replay skips it (``SKIP``) rather than swallowing the raise (``SWALLOW``).

Notes are plain strings (``grader.sandbox.zygote.plain_notes``); the judge checks them: the
student's code runs here too and could write them, which only misleads its own verdicts.
Everything here is imported when the zygote preloads: the child cannot import kit modules.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from grader.judge import mlflow_errors, regions
from grader.sandbox.probes import NOTES, StudentImportError

RAISED_IN = "raised_in"  # the note: which TODO's code raised (see ``note_raise``)
ACTIVE_RUN_CAUSE = "active_run"  # the note's ``cause`` when a run left active made a start_run raise
MAX_SOURCE_BYTES = 1 << 20  # a student file larger than this is not read for regions
MAX_SKIPPED = 8  # statements a replay may leave out


def module_path(request: dict) -> Path | None:
    if not isinstance(request.get("exercises"), str) or not isinstance(request.get("module"), str):
        return None
    return Path(request["exercises"]) / f"{request['module']}.py"


def same_file(code_file: str, path: Path) -> bool:
    return os.path.abspath(code_file) == os.path.abspath(path)


def read_source(path: Path) -> str | None:
    try:
        data = path.read_bytes()[: MAX_SOURCE_BYTES + 1]
    except OSError:
        return None
    return None if len(data) > MAX_SOURCE_BYTES else data.decode("utf-8", "replace")


def parsed(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


# -- which TODO raised -------------------------------------------------------------------


def traceback_lines(error: BaseException, path: Path) -> list[int]:
    """The lines of ``error``'s traceback frames in ``path``, deepest first."""
    lines = []
    trace = error.__traceback__
    while trace is not None:
        if same_file(trace.tb_frame.f_code.co_filename, path):
            lines.append(trace.tb_lineno)
        trace = trace.tb_next
    return lines[::-1]


def first_in_region(found: list[regions.Region], lines: list[int]) -> tuple[int, str] | None:
    for line in lines:
        todo = regions.region_of(found, line)
        if todo is not None:
            return line, todo
    return None


def note_raise(request: dict, error: BaseException) -> None:
    """An ``ON_RAISE`` hook: note (``RAISED_IN``) the TODO whose code raised ``error``, if
    the called module's file has a region holding the line (of a TODO of the request's
    ``todos``, the module's, when it names them): ``todo``, ``line``, ``code``
    (that line), ``file``, ``how`` a replay leaves the statement out, ``returns`` when it is
    a ``return`` (no replay), and, for a run left active, ``cause`` and ``at`` (the line that
    raised)."""
    path = module_path(request)
    source = read_source(path) if path is not None else None
    if path is None or source is None:
        return
    tree = parsed(source)
    todos = request.get("todos")
    known = todos if isinstance(todos, list) and all(isinstance(todo, str) for todo in todos) else None
    found = regions.find_regions(source, tree, known)
    if not found:
        return
    note = {"file": path.name}
    if isinstance(error, StudentImportError):
        line = ((getattr(error, "words", None) or {}).get("params") or {}).get("line", "")
        if error.__cause__ is not None:  # a crash at import: its frames
            place = first_in_region(found, traceback_lines(error.__cause__, path))
        elif line.isdigit() and regions.region_of(found, int(line)):  # a syntax error: its line
            place = int(line), str(regions.region_of(found, int(line)))
        else:
            place = None
        if place is not None:
            NOTES[RAISED_IN] = {**note, "todo": place[1], "line": str(place[0]), "code": "", "how": ""}
        return
    raised = first_in_region(found, traceback_lines(error, path))
    started = mlflow_errors.started_by(error)
    if started is not None:
        culprit = first_in_region(found, [line for file, line in started.frames if same_file(file, path)])
        if culprit is not None and (started.implicit or raised is None):
            at = traceback_lines(error, path)
            NOTES[RAISED_IN] = {
                **note,
                "todo": culprit[1],
                "line": str(culprit[0]),
                "code": regions.code_at(source, culprit[0]),
                "how": regions.SKIP,
                "cause": ACTIVE_RUN_CAUSE,
                "at": str(at[0]) if at else "",
            }
            return
    if raised is not None:
        statement = regions.innermost_statement(tree, raised[0]) if tree is not None else None
        NOTES[RAISED_IN] = {
            **note,
            "todo": raised[1],
            "line": str(raised[0]),
            "code": regions.code_at(source, raised[0]),
            "how": regions.SWALLOW,
            # a replay without a return statement cannot give the value back: none is made
            "returns": "yes" if isinstance(statement, ast.Return) else "",
        }


# -- the replay ----------------------------------------------------------------------------


def rewrite(request: dict, path: Path):
    """A ``REWRITES`` entry: for a request with ``skip`` (``[{"line": N, "how": …}]``, the
    judge's), the student's module compiled without those statements; else None."""
    skip = request.get("skip")
    if not skip or not isinstance(skip, list):
        return None
    statements = {}
    for entry in skip[:MAX_SKIPPED]:
        if isinstance(entry, dict) and isinstance(entry.get("line"), int):
            how = entry.get("how")
            statements[entry["line"]] = how if how in (regions.SKIP, regions.SWALLOW) else regions.SWALLOW
    source = read_source(path)
    tree = parsed(source) if source is not None else None
    if tree is None or not statements:
        return None  # imported as it is: its own syntax error says why
    return compile(regions.without(tree, statements), str(path), "exec")
