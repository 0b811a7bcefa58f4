"""The files ``kata grade`` leaves in ``OUT``: ``results.json``, ``grades.csv``, ``index.html``.

Every file is written atomically (``grader.core.files.write_atomic``), and all three texts
are built before the first write. ``results.json`` is the one codec's text
(``grader.results.codec``: the typed model, checked against ``results.schema.json``).

``grades.csv`` is written as UTF-8 *with* a byte-order mark: Excel only detects UTF-8
(for ids such as ``zoë``) when the BOM is there; LibreOffice, pandas and Python's csv
module (``encoding="utf-8-sig"``) read it fine. Lines end in CRLF (RFC 4180).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from grader.core.files import csv_safe, csv_text, write_atomic
from grader.results import codec
from grader.results.model import ClassResults

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence

    from grader.reports.report import SimilarPairLike


def _folder(out_dir: str | os.PathLike) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_results_json(results: ClassResults, out_dir: str | os.PathLike) -> Path:
    """``out_dir/results.json`` (``grader/results/results.schema.json``), UTF-8, indent 2."""
    return write_atomic(_folder(out_dir) / "results.json", codec.dumps(results))


def grades_csv_text(results: ClassResults) -> str:
    """One row per submission: 0/1 per TODO and the score; a submission that could not be
    graded (status ``error``) has them blank, never a 0 a gradebook would take for a grade
    (its reason is in results.json and the report)."""
    todo_ids = [todo.id for todo in results.todos]
    rows: list[list[object]] = [["id", "status", "score", "max_score", *todo_ids]]
    for sub in results.submissions:
        if sub.status == "error":
            rows.append([csv_safe(sub.id), sub.status, "", sub.max_score, *([""] * len(todo_ids))])
            continue
        passed = [1 if sub.todos.get(todo_id) and sub.todos[todo_id].status == "pass" else 0 for todo_id in todo_ids]
        rows.append([csv_safe(sub.id), sub.status, sub.score, sub.max_score, *passed])
    return csv_text(rows)


def write_grades_csv(results: ClassResults, out_dir: str | os.PathLike) -> Path:
    """``out_dir/grades.csv``: one row per submission, one 0/1 column per TODO (bonus too)."""
    return write_atomic(_folder(out_dir) / "grades.csv", grades_csv_text(results), encoding="utf-8-sig")


def write_all(
    results: ClassResults,
    out_dir: str | os.PathLike,
    logs: dict[str, str] | None = None,
    similar_pairs: Sequence[SimilarPairLike] | None = None,
    untouched: Mapping[str, Collection[int]] | None = None,
) -> list[Path]:
    """Write ``results.json``, ``grades.csv`` and ``index.html`` into ``out_dir``.

    All three texts are built before the first write, so a rendering bug can't leave
    a fresh ``results.json`` next to last run's ``index.html``. ``logs`` maps
    submission ids to per-student log files, relative to ``out_dir``; ``similar_pairs``
    goes to the report's "Similar submissions" section (``grader.reports.report.render_report``);
    ``untouched`` (submission id -> the tasks it did not start) to its failure clusters.
    """
    from grader.reports.report import render_report

    out = _folder(out_dir)
    texts = [
        ("results.json", codec.dumps(results), "utf-8"),
        ("grades.csv", grades_csv_text(results), "utf-8-sig"),
        ("index.html", render_report(results, logs=logs, similar_pairs=similar_pairs, untouched=untouched), "utf-8"),
    ]
    return [write_atomic(out / name, text, encoding=encoding) for name, text, encoding in texts]
