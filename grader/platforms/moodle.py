"""``kata export moodle``: the Moodle assignment's "offline grading worksheet" (the
roster), every row and column kept, with the grade column filled in. Which row is a
submission's: ``grader.platforms.roster``.

The grade is out of the assignment's maximum grade, which Moodle writes in the column
right after the grade (``Maximum grade``, in the site's language): Moodle's importer
skips a grade above it without a word, so the export scales every score to it and never
writes more.

Feedback (``MoodleFeedback``) goes back the two ways Moodle takes it in bulk:

* the worksheet's ``Feedback comments`` column (there when the assignment's "Feedback
  comments" type is on; named in the site's language): each matched student's summary
  (``grader.reports.feedback.summary``). Moodle's importer stores the cell as HTML, so
  the summary is HTML-escaped; it replaces an earlier summary in the cell and keeps
  whatever else the instructor wrote there. The importer reads this column whether or not
  the grade changes, so a broken submission's student gets the reason with no grade.
* ``feedback_zip``: the zip of "Upload multiple feedback files in a zip" (the "Feedback
  files" type): one folder per student, named as Moodle's download names it,
  ``<full name>_<participant number>_assignfeedback_file``, holding their page. Moodle
  finds the student by the number after the first ``_`` (so the name loses its own ``_``,
  as Moodle's download does) and ignores a file it already holds unchanged."""

from __future__ import annotations

import html
import io
import math
import re
import zipfile
from dataclasses import dataclass
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
from grader.reports.feedback import SUMMARY_MARK, render_page, started_not_all, summary
from grader.results.model import ClassResults, SubmissionResult

MOODLE_DOWNLOAD = re.compile(r"^(?P<name>.+?)_(?P<number>\d+)_assign(?:submission|feedback)_", re.I)
MOODLE_IDENTIFIER = re.compile(r"(\d+)\s*$")  # "Participant 123" in any language
MOODLE_NUMBER = re.compile(r"^\d+(?:[.,]\d+)?$")  # "10.00", or "10,00" on a site that writes decimal commas
FEEDBACK_COLUMN = "Feedback comments"  # the comments column of an English site's worksheet
FEEDBACK_PLUGIN = "assignfeedback_file"  # the plugin a feedback zip's folders name
FEEDBACK_PAGE = "mlflow-kata-feedback.html"  # each student's page in the feedback zip
NOT_IN_A_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')  # what no file name on the way may hold
TRAILING_BREAKS = re.compile(r"(?:\s|<br\s*/?>)+$", re.I)  # what ends kept text before a summary
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # every entry's: the same class gives the same zip


@dataclass(frozen=True)
class MoodleFeedback:
    """What the export returns to students besides grades, in ``lang``: each summary in
    the worksheet's ``column`` (None: leave the column as it came), and each page in a
    feedback-files zip (``zip``)."""

    lang: str = "en"
    column: str | None = None
    zip: bool = False


@dataclass
class MoodleExport(Export):
    feedback_zip: bytes | None = None  # when MoodleFeedback.zip asked for it
    feedback_students: int = 0  # roster rows that got feedback


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
    feedback: MoodleFeedback | None = None,
) -> MoodleExport:
    """The assignment's offline grading worksheet with its grade column filled in (and,
    with ``feedback``, its comments column and the feedback-files zip).

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
    comments_at = None
    if feedback is not None and feedback.column is not None:
        if feedback.column not in header:
            raise RosterError(
                f"{worksheet_path}: no {feedback.column!r} column (its header is {', '.join(header)}): turn on "
                "the assignment's 'Feedback comments' feedback type and download the worksheet again, or name "
                "the column with --feedback-column"
            )
        comments_at = header.index(feedback.column)
        if comments_at in (0, 1, grade_at, grade_at + 1):
            raise RosterError(
                f"--feedback-column {feedback.column!r} is the worksheet's identifier, name, grade or maximum "
                "grade, not its comments column"
            )
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
    archive, students = None, {}
    if feedback is not None:  # each roster row's submission: the one its grade is from
        students = {matching.rows[sub.id]: sub for sub in results.submissions if sub.id in matching.rows}
        if comments_at is not None:
            notes.append(fill_comments(results, body, students, comments_at, feedback.lang, feedback.column or ""))
        if feedback.zip:
            archive = feedback_zip(results, body, students, feedback.lang)
    return MoodleExport(
        csv_text([header, *body]),
        len(filled.cells),
        filled.listed,
        notes + filled.notes,
        "utf-8-sig" if bom else "utf-8",
        feedback_zip=archive,
        feedback_students=len(students),
    )


def comment_cell(existing: str, text: str) -> str:
    """The comments cell with ``text`` (a summary, as Moodle stores it: HTML) in it: what
    the instructor wrote there is kept and the summary put after it, on a line of its own
    (``<br>``: Moodle shows the cell as HTML); an earlier summary (a line beginning with
    ``SUMMARY_MARK``) is replaced."""
    kept = "\n".join(line for line in existing.splitlines() if not line.lstrip().startswith(SUMMARY_MARK))
    kept = TRAILING_BREAKS.sub("", kept)
    return f"{kept}<br>\n{text}" if kept else text


def fill_comments(
    results: ClassResults,
    body: list[list[str]],
    students: dict[int, SubmissionResult],
    at: int,
    lang: str,
    column: str,
) -> str:
    """Each matched row's comments cell (``comment_cell``); the note that says so."""
    kept = 0
    for index, sub in sorted(students.items()):
        row = body[index]
        row.extend([""] * (at + 1 - len(row)))
        text = html.escape(summary(results, sub, lang), quote=False)
        row[at] = comment_cell(row[at], text)
        kept += row[at] != text
    also = f" ({kept} after what was already written there)" if kept else ""
    idle = sum(1 for sub in students.values() if started_not_all(results, sub))
    also += f"; {idle} of them with a task not started ('not attempted')" if idle else ""
    return f"{column!r}: the summary of {len(students)} student(s){also}"


def feedback_folder(full_name: str, number: str) -> str:
    """A student's folder in the feedback-files zip, as Moodle's download names it:
    ``<full name>_<participant number>_assignfeedback_file`` (the name without ``_`` and
    without what a file name may not hold)."""
    name = " ".join(NOT_IN_A_NAME.sub("", full_name.replace("_", " ")).split())[:100].strip(" .") or "Participant"
    return f"{name}_{number}_{FEEDBACK_PLUGIN}"


def feedback_zip(
    results: ClassResults, body: list[list[str]], students: dict[int, SubmissionResult], lang: str
) -> bytes:
    """Moodle's "Upload multiple feedback files in a zip": each matched student's page in
    their own folder (``feedback_folder``); nothing for a student without a submission."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, sub in sorted(students.items()):
            row = body[index]
            found = MOODLE_IDENTIFIER.search(row[0])
            if found is None:  # never: every row's identifier was checked on reading
                raise RosterError(f"row {index + 2}: {row[0]!r} is not a Moodle identifier")
            folder = feedback_folder(row[1] if len(row) > 1 else "", str(int(found[1])))
            entry = zipfile.ZipInfo(f"{folder}/{FEEDBACK_PAGE}", ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, render_page(results, sub, lang))
    return buffer.getvalue()
