"""``kata export moodle``: the Moodle assignment's "offline grading worksheet" (the
roster), every row and column kept, with the grade column filled in. Which row is a
submission's: ``grader.platforms.roster``.

The grade is out of the assignment's maximum grade, which Moodle writes in the column
right after the grade (``Maximum grade``, in the site's language): Moodle's importer
skips a grade above it without a word, so the export scales every score to it and never
writes more."""

from __future__ import annotations

import math
import re
from pathlib import Path

from grader.core.files import csv_text
from grader.platforms.roster import (
    Export,
    GitHubRoster,
    RosterError,
    RosterRow,
    fill_grades,
    id_keys,
    match,
    name_key,
    number_text,
    read_roster,
)
from grader.results.model import ClassResults

MOODLE_DOWNLOAD = re.compile(r"^(?P<name>.+?)_(?P<number>\d+)_assign(?:submission|feedback)_", re.I)
MOODLE_IDENTIFIER = re.compile(r"(\d+)\s*$")  # "Participant 123" in any language
MOODLE_NUMBER = re.compile(r"^\d+(?:[.,]\d+)?$")  # "10.00", or "10,00" on a site that writes decimal commas


def worksheet_maximum(header: list[str], body: list[list[str]], grade_at: int, path: str | Path) -> float | None:
    """The assignment's maximum grade: the column after the grade, the same number on
    every row (None when the worksheet has no such column or it is empty). A scale-graded
    assignment (that column lists the scale's items) or a maximum that differs between
    rows is refused: no number of points would import as meant."""
    at = grade_at + 1
    if at >= len(header):
        return None
    values = {row[at].strip() for row in body if at < len(row) and row[at].strip()}
    if not values:
        return None
    column = header[at]
    for value in sorted(values):
        if not MOODLE_NUMBER.match(value):
            shown = value.replace("\n", ", ")
            raise RosterError(
                f"{path}: the column after the grade, {column!r}, holds {shown!r} where Moodle writes the "
                "assignment's maximum grade (an assignment graded on a scale takes no points: grade it in points)"
            )
    numbers = sorted({float(value.replace(",", ".")) for value in values})
    if len(numbers) > 1:
        raise RosterError(f"{path}: {column!r} differs between rows ({', '.join(map(number_text, numbers))})")
    if numbers[0] <= 0:
        raise RosterError(f"{path}: {column!r} is {number_text(numbers[0])}: the assignment takes no points")
    return numbers[0]


def moodle_export(
    results: ClassResults,
    worksheet_path: str | Path,
    grade_column: str = "Grade",
    points: float | None = None,
    broken_as_zero: bool = False,
    github: GitHubRoster | None = None,
) -> Export:
    """The assignment's offline grading worksheet with its grade column filled in.

    Moodle's importer finds its columns by their names in the site's language (an English
    site: ``Identifier``, ``Grade``, ``Last modified (grade)``) and every other cell is
    kept as downloaded, so the file imports on the site it came from. The identifier is
    the first column (``Participant 123``), the full name the second. Grades are out of
    the worksheet's maximum grade (``worksheet_maximum``); ``points`` must agree with it."""
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
    maximum = worksheet_maximum(header, body, grade_at, worksheet_path)
    available = results.max_score
    if maximum is None:
        out_of = points if points is not None else available
        notes = [f"grades out of {number_text(out_of)}: the worksheet has no maximum grade after {grade_column!r}"]
    else:
        if points is not None and not math.isclose(points, maximum):
            raise RosterError(
                f"--points {number_text(points)} disagrees with the worksheet's maximum grade "
                f"{number_text(maximum)} ({header[grade_at + 1]!r}); leave --points out, or change the "
                "assignment's maximum grade in Moodle and download the worksheet again"
            )
        out_of = maximum
        notes = [
            f"grades out of {number_text(maximum)}, the worksheet's maximum grade"
            + (f" (scores out of {available} scaled to it)" if not math.isclose(maximum, available) else "")
        ]
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
    matching = match(results.submissions, roster, MOODLE_DOWNLOAD, github)
    filled = fill_grades(results, matching, {row.index: row.label for row in roster}, out_of, broken_as_zero)
    for index, grade in filled.cells.items():
        if float(grade) > out_of:  # rounding to 2 decimals never gets there; never write it if it did
            raise RosterError(f"{roster[index].label}: grade {grade} is above the maximum {number_text(out_of)}")
        row = body[index]
        row.extend([""] * (grade_at + 1 - len(row)))
        row[grade_at] = grade
    return Export(
        csv_text([header, *body]),
        len(filled.cells),
        filled.listed,
        notes + filled.notes,
        "utf-8-sig" if bom else "utf-8",
    )
