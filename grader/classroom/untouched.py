"""Which tasks a submission did not start: its task file is the stub as handed out
(``exercises/``), comments, docstrings, blank lines and layout aside (so a stub of an
earlier release, whose docstrings and TODO comments were worded otherwise, is one too). The report groups those tasks'
failures as one line ("N students did not start task K") instead of letting the stub's
own verdicts, the same for every such student, fill its failure clusters.

Student files are only read (at most ``MAX_FILE_BYTES``) and parsed, never run; a file
that cannot be read or parsed was started (it is not the stub).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from grader.classroom.task_files import MAX_FILE_BYTES
from grader.core.paths import EXERCISES_DIR
from grader.lab.todos import TASK_MODULES


class _NoDocstrings(ast.NodeTransformer):
    """Drops every statement that is a bare string (docstrings and the like)."""

    def visit_Expr(self, node: ast.Expr) -> ast.AST | None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return None
        return node


def _shape(text: str) -> str | None:
    """The code of ``text`` without comments, docstrings and layout (its syntax tree), or
    None when it is not Python."""
    try:
        return ast.dump(_NoDocstrings().visit(ast.parse(text)))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


@cache
def _stub_shape(module: str) -> str | None:
    path = EXERCISES_DIR / f"{module}.py"
    return _shape(path.read_text(encoding="utf-8")) if path.is_file() else None


def is_stub(path: Path, module: str) -> bool:
    """Whether the file at ``path`` is task ``module``'s stub, comments and layout aside."""
    stub = _stub_shape(module)
    try:
        if stub is None or not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_FILE_BYTES:
            return False
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return _shape(text) == stub


def untouched_tasks(folders: Mapping[str, Path]) -> dict[str, tuple[int, ...]]:
    """Submission id -> the numbers of its tasks whose file is the stub (only those with
    one); ``folders`` maps each to its staged task files."""
    untouched = {}
    for submission_id, folder in folders.items():
        numbers = tuple(n for n, module in TASK_MODULES.items() if is_stub(Path(folder) / f"{module}.py", module))
        if numbers:
            untouched[submission_id] = numbers
    return untouched
