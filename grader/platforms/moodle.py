"""``kata export moodle``: the Moodle assignment's "offline grading worksheet" (the
roster), every row and column kept, with the grade column filled in. Which row is a
submission's: ``grader.platforms.roster``."""

from __future__ import annotations

import re
from pathlib import Path

from grader.core.files import csv_text
from grader.platforms.roster import (
    Export,
    RosterError,
    RosterRow,
    broken_notes,
    id_keys,
    match,
    name_key,
    read_roster,
    submission_grade,
)
from grader.results.model import ClassResults

MOODLE_DOWNLOAD = re.compile(r"^(?P<name>.+?)_(?P<number>\d+)_assign(?:submission|feedback)_", re.I)
MOODLE_IDENTIFIER = re.compile(r"(\d+)\s*$")  # "Participant 123" in any language


def moodle_export(
    results: ClassResults, worksheet_path: str | Path, grade_column: str = "Grade", points: float | None = None
) -> Export:
    """The assignment's offline grading worksheet with its grade column filled in.

    Moodle's importer finds its columns by their names in the site's language (an English
    site: ``Identifier``, ``Grade``, ``Last modified (grade)``) and every other cell is
    kept as downloaded, so the file imports on the site it came from. The identifier is
    the first column (``Participant 123``), the full name the second."""
    rows, bom = read_roster(worksheet_path)
    header = rows[0]
    if grade_column not in header:
        raise RosterError(
            f"{worksheet_path}: no {grade_column!r} column (its header is "
            f"{', '.join(header)}); name the grade column with --grade-column"
        )
    grade_at = header.index(grade_column)
    if grade_at < 2:
        raise RosterError(
            f"{worksheet_path}: not a Moodle grading worksheet: the identifier and "
            f"full name come before {grade_column!r}"
        )
    body = [row for row in rows[1:] if any(cell.strip() for cell in row)]
    roster = []
    for n, row in enumerate(body):
        number = MOODLE_IDENTIFIER.search(row[0]) if row else None
        if not number:
            raise RosterError(
                f"{worksheet_path}: row {n + 2}: {(row[0] if row else '')!r} is not a "
                "Moodle identifier such as 'Participant 123'"
            )
        ids = id_keys(row[0])  # "Participant 123" itself
        for cell in row[2:grade_at]:
            ids |= id_keys(cell)
        full_name = row[1] if len(row) > 1 else ""
        roster.append(
            RosterRow(
                n,
                f"{full_name or '?'} ({row[0]})",
                frozenset({str(int(number[1]))}),
                frozenset(ids),
                frozenset({name_key(full_name)} - {""}),
            )
        )
    matching = match(results.submissions, roster, MOODLE_DOWNLOAD)
    for sub in results.submissions:
        if sub.id in matching.rows:
            row = body[matching.rows[sub.id]]
            row.extend([""] * (grade_at + 1 - len(row)))
            row[grade_at] = submission_grade(results, sub, points)
    return Export(
        csv_text([header, *body]),
        len(matching.rows),
        matching.unmatched,
        broken_notes(results, matching.rows),
        "utf-8-sig" if bom else "utf-8",
    )
