"""``kata export canvas``: a Canvas gradebook import CSV built on the course's own
gradebook export (the roster, Grades → Export): ``Student,ID,SIS User ID,SIS Login ID,
Section,<assignment>``, then a ``Points Possible`` row, then one row per roster student.
Which row is a submission's: ``grader.platforms.roster``.

Canvas's gradebook import reads scores, never submission comments. With ``comments``, the
export also gives each matched student's comment (``grader.reports.feedback.summary``:
their score, the TODOs not passed yet, the tasks not started, where to start; for a broken
submission the reason, no grade) in a CSV beside the import (``comments_path``): their five
identity columns (``ID`` is the Canvas user id a submission comment is posted to), the
submission it is from, and the comment."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.core.files import csv_safe, csv_text
from grader.platforms.roster import (
    Export,
    GitHubRoster,
    RosterError,
    RosterRow,
    fill_grades,
    id_keys,
    match,
    name_key,
    points_text,
    read_roster,
)
from grader.reports.feedback import started_not_all, summary
from grader.results.model import ClassResults, SubmissionResult

CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS_ROW = "Points Possible"
DEFAULT_ASSIGNMENT = "MLflow kata"
CANVAS_DOWNLOAD = re.compile(r"^(?P<name>[^_]*)_(?:late_)?(?P<number>\d+)_(?:\d+_)?", re.I)
CANVAS_SKIPPED_ROW = re.compile(r"^\s*(Muted|Manual Posting.*)?\s*$", re.I)  # as Canvas's importer
COMMENT_COLUMNS = ("Submission", "Comment")  # after the identity columns in the comments CSV


@dataclass
class CanvasExport(Export):
    comments: str | None = None  # the comments CSV's text, when asked for
    commented: int = 0  # roster students with a comment
    not_started: int = 0  # of them, those with a task not started (a TODO "not attempted")


def comments_path(out: str | Path) -> Path:
    """``canvas_import.csv`` → ``canvas_import.comments.csv``, beside it."""
    out = Path(out)
    return out.with_name(f"{out.stem}.comments{out.suffix or '.csv'}")


def read_canvas_roster(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the students of a Canvas gradebook export (Grades → Export): their
    five identity columns, in order; the ``Points Possible`` and muted/manual-posting rows
    skipped."""
    rows, _bom = read_roster(path)
    header = [cell.strip() for cell in rows[0]]
    missing = [column for column in CANVAS_IDENTITY if column not in header]
    if missing:
        raise RosterError(
            f"{path}: not a Canvas gradebook export: no column "
            f"{', '.join(missing)} (its header is {', '.join(header[:6])}…)"
        )
    where = {column: header.index(column) for column in CANVAS_IDENTITY}
    students = []
    for row in rows[1:]:
        cells = {column: row[i].strip() if i < len(row) else "" for column, i in where.items()}
        if CANVAS_POINTS_ROW in cells["Student"] or all(CANVAS_SKIPPED_ROW.match(c) for c in row):
            continue
        if not (cells["Student"] or cells["ID"] or cells["SIS User ID"] or cells["SIS Login ID"]):
            continue
        students.append(cells)
    return header, students


ASSIGNMENT_COLUMN = re.compile(r"^(?P<name>.*\S)\s*\((?P<id>\d+)\)$")  # "MLflow kata (123456)"


def assignment_column(header: Sequence[str], assignment: str) -> tuple[str, str | None]:
    """The column the grades go in, and a note when Canvas will make it a new assignment:
    ``assignment`` as the export names it, else the export's one column of that name with
    its Canvas id (``MLflow kata`` → ``MLflow kata (123456)``: the existing assignment)."""
    if assignment in header:
        return assignment, None
    named = [column for column in header if (found := ASSIGNMENT_COLUMN.match(column)) and found["name"] == assignment]
    if len(named) == 1:
        return named[0], None
    existing = [column for column in header if ASSIGNMENT_COLUMN.match(column)]
    example = f", e.g. --assignment {existing[0]!r}" if existing else ""
    return assignment, (
        f"the roster has no assignment column {assignment!r}: Canvas will import it as a new assignment "
        f"(to update an existing one, name its column as the roster does{example})"
    )


def canvas_rows(students: Sequence[Mapping[str, str]]) -> list[RosterRow]:
    """Each student as the matching rules see them: ``Doe, Jane`` is also ``Jane Doe``."""
    roster = []
    for n, student in enumerate(students):
        name = student["Student"]
        names = {name_key(name)}
        if "," in name:
            last, first = name.split(",", 1)
            names.add(name_key(first + last))
        ids = set()
        for column in ("ID", "SIS User ID", "SIS Login ID"):
            ids |= id_keys(student[column])
        number = student["ID"].strip()
        roster.append(
            RosterRow(
                n,
                f"{name or '?'} (ID {number or '?'})",
                frozenset({str(int(number))} if number.isdigit() else ()),
                frozenset(ids),
                frozenset(names - {""}),
            )
        )
    return roster


def canvas_export(
    results: ClassResults,
    roster_path: str | Path,
    assignment: str = DEFAULT_ASSIGNMENT,
    points: float | None = None,
    broken_as_zero: bool = False,
    github: GitHubRoster | None = None,
    comments: str | None = None,
) -> CanvasExport:
    """A Canvas gradebook import: the five identity columns of every roster student and
    one assignment column; a ``Points Possible`` row first. A broken submission's cell
    stays empty unless ``broken_as_zero`` (``grader.platforms.roster``). ``comments``: the
    language of the comments CSV to give too (None: none)."""
    header, students = read_canvas_roster(roster_path)
    assignment, new_column = assignment_column(header, assignment)
    roster = canvas_rows(students)
    matching = match(results.submissions, roster, CANVAS_DOWNLOAD, github)
    filled = fill_grades(results, matching, {row.index: row.label for row in roster}, points, broken_as_zero)
    rows = [[*CANVAS_IDENTITY, assignment], [CANVAS_POINTS_ROW, "", "", "", "", points_text(results.max_score, points)]]
    for n, student in enumerate(students):
        rows.append([*(student[column] for column in CANVAS_IDENTITY), filled.cells.get(n, "")])
    notes = [*filled.notes, *([new_column] if new_column else [])]
    export = CanvasExport(csv_text(rows), len(filled.cells), filled.listed, notes)
    if comments is not None:  # each roster row's submission: the one its grade is from
        chosen = {matching.rows[sub.id]: sub for sub in results.submissions if sub.id in matching.rows}
        export.comments = comments_text(results, students, chosen, comments)
        export.commented = len(chosen)
        export.not_started = sum(1 for sub in chosen.values() if started_not_all(results, sub))
    return export


def comments_text(
    results: ClassResults, students: Sequence[Mapping[str, str]], chosen: Mapping[int, SubmissionResult], lang: str
) -> str:
    """The comments CSV: a row per roster student with a submission, in the roster's
    order: their identity columns, the submission's id and its summary in ``lang``."""
    rows: list[list[str]] = [[*CANVAS_IDENTITY, *COMMENT_COLUMNS]]
    for n, sub in sorted(chosen.items()):
        identity = [students[n][column] for column in CANVAS_IDENTITY]
        rows.append([*identity, csv_safe(sub.id), csv_safe(summary(results, sub, lang))])
    return csv_text(rows)
