"""The files ``kata grade`` leaves in ``OUT``: ``results.json``, ``grades.csv``, ``index.html``.

Every file is written atomically (temp file in the same folder, fsync, ``os.replace``):
an instructor re-grading into the same ``OUT`` never finds a half-written file, even if
the grader is killed mid-write, and readers (a spreadsheet, a browser) see either the old
file or the new one.

``grades.csv`` is written as UTF-8 *with* a byte-order mark: Excel only detects UTF-8
(for ids such as ``zoë``) when the BOM is there; LibreOffice, pandas and Python's csv
module (``encoding="utf-8-sig"``) read it fine. Lines end in CRLF (RFC 4180).
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from grader.results.model import ClassResults

if TYPE_CHECKING:
    from collections.abc import Sequence

    from grader.reports.report import SimilarPairLike

# A cell starting with one of these is a formula to Excel/LibreOffice/Sheets (OWASP
# "CSV injection"); tab and CR are on OWASP's list too.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def write_atomic(path: str | os.PathLike, text: str, encoding: str = "utf-8",
                 mode: int = 0o644) -> Path:
    """Write ``text`` to ``path`` so that a crash never leaves a half-written file.

    The temp file lives in the same folder (``os.replace`` is only atomic within one
    file system) and is removed if anything fails. ``text`` is written as is (no newline
    translation), so CSV's CRLF survives on every platform.
    """
    path = Path(path)
    handle = tempfile.NamedTemporaryFile(
        "w", encoding=encoding, newline="", dir=path.parent,
        prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, mode)  # mkstemp makes 0600: the report is meant to be shared
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    """Persist the rename itself (POSIX); silently skipped where folders can't be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _folder(out_dir: str | os.PathLike) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def results_json_text(results: ClassResults) -> str:
    return json.dumps(results.to_json(), indent=2, ensure_ascii=False) + "\n"


def write_results_json(results: ClassResults, out_dir: str | os.PathLike) -> Path:
    """``out_dir/results.json`` (``grader/results/results.schema.json``), UTF-8, indent 2."""
    return write_atomic(_folder(out_dir) / "results.json", results_json_text(results))


def csv_safe(value: str) -> str:
    """Defuse spreadsheet formulas: ``=HYPERLINK(...)`` becomes the text ``'=HYPERLINK(...)``."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def grades_csv_text(results: ClassResults) -> str:
    todo_ids = [todo.id for todo in results.todos]
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # QUOTE_MINIMAL, CRLF
    writer.writerow(["id", "status", "score", "max_score", *todo_ids])
    for sub in results.submissions:
        passed = [1 if sub.todos.get(todo_id) and sub.todos[todo_id].status == "pass" else 0
                  for todo_id in todo_ids]
        writer.writerow([csv_safe(sub.id), sub.status, sub.score, sub.max_score, *passed])
    return buffer.getvalue()


def write_grades_csv(results: ClassResults, out_dir: str | os.PathLike) -> Path:
    """``out_dir/grades.csv``: one row per submission, one 0/1 column per TODO (bonus too)."""
    return write_atomic(_folder(out_dir) / "grades.csv", grades_csv_text(results),
                        encoding="utf-8-sig")


def write_all(results: ClassResults, out_dir: str | os.PathLike,
              logs: dict[str, str] | None = None,
              similar_pairs: Sequence[SimilarPairLike] | None = None) -> list[Path]:
    """Write ``results.json``, ``grades.csv`` and ``index.html`` into ``out_dir``.

    All three texts are built before the first write, so a rendering bug can't leave
    a fresh ``results.json`` next to last run's ``index.html``. ``logs`` maps
    submission ids to per-student log files, relative to ``out_dir``; ``similar_pairs``
    goes to the report's "Similar submissions" section (``grader.reports.report.render_report``).
    """
    from grader.reports.report import render_report

    out = _folder(out_dir)
    texts = [("results.json", results_json_text(results), "utf-8"),
             ("grades.csv", grades_csv_text(results), "utf-8-sig"),
             ("index.html", render_report(results, logs=logs, similar_pairs=similar_pairs), "utf-8")]
    return [write_atomic(out / name, text, encoding=encoding) for name, text, encoding in texts]
