"""Gradebook exports from any ``results.json`` that ``kata grade`` wrote.

* ``load_results``: read and check a ``results.json`` (the shape of
  ``grader/results/results.schema.json``, checked here without the ``jsonschema`` package, plus
  each submission's recorded score agreeing with its TODOs) into ``ClassResults``.
  Anything else is refused with one line (``ResultsError``).
* ``canvas_export``: a Canvas gradebook import CSV built on the course's own gradebook
  export (the roster): ``Student,ID,SIS User ID,SIS Login ID,Section,<assignment>``,
  then a ``Points Possible`` row, then one row per roster student.
* ``moodle_export``: the Moodle assignment's "offline grading worksheet" (the roster),
  every row and column kept, with the grade column filled in.
* ``junit_xml``: one ``<testsuite>`` per submission, one ``<testcase>`` per TODO.

**Which roster row is a submission's** (``match``; the first rule that finds any row
decides; a rule that finds two rows is "ambiguous"):

1. the platform's number in a downloaded submission's name equals the row's: Canvas's
   "Download Submissions" names files ``<lastfirst>[_late]_<user id>_<attachment id>_<file>``
   (matched against the ``ID`` column); Moodle's "Download all submissions" names folders
   ``<Full name>_<participant>_assignsubmission_<plugin>_`` (matched against the
   worksheet's ``Participant <n>`` identifier);
2. the id equals one of the row's identifiers, ignoring case (Canvas: ``SIS Login ID``,
   ``SIS User ID``, ``ID``, or the part of an e-mail login before the ``@``; Moodle:
   the identity columns between ``Full name`` and the grade, such as the e-mail
   address, or that address's part before the ``@``);
3. the id, or the name part of a downloaded submission's name, equals the student's
   name once accents, case and everything but letters and digits are dropped, in
   either order (Canvas's ``Doe, Jane`` is ``doejane`` and ``janedoe``).

A submission that no row matches, that matches two rows, or whose row another
submission also matches, gets no grade: it is listed on stderr and in the sidecar
``<out>.unmatched.csv`` (never dropped silently). Roster students without a submission
keep an empty grade cell: Canvas and Moodle leave an empty cell's grade unchanged.
A submission whose ``status`` is ``error`` (nothing gradable: empty, bad zip, …) gets
its recorded score, 0, like in ``grades.csv``; the export notes each one on stderr.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader.reports.class_files import csv_safe, write_atomic
from grader.results.model import ClassResults, Status, SubmissionResult, score
from grader.lab.todos import Todo

CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS_ROW = "Points Possible"
DEFAULT_ASSIGNMENT = "MLflow kata"
UNMATCHED_HEADER = ("id", "status", "score", "max_score", "reason")

CANVAS_DOWNLOAD = re.compile(r"^(?P<name>[^_]*)_(?:late_)?(?P<number>\d+)_(?:\d+_)?", re.I)
MOODLE_DOWNLOAD = re.compile(r"^(?P<name>.+?)_(?P<number>\d+)_assign(?:submission|feedback)_", re.I)
MOODLE_IDENTIFIER = re.compile(r"(\d+)\s*$")  # "Participant 123" in any language
CANVAS_SKIPPED_ROW = re.compile(r"^\s*(Muted|Manual Posting.*)?\s*$", re.I)  # as Canvas's importer
XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class ResultsError(ValueError):
    """The file is not a valid ``results.json``; the message is one line."""


class RosterError(ValueError):
    """The roster is not what the export expects; the message is one line."""


# --- results.json --------------------------------------------------------------------

STATUSES = {status.value for status in Status}
SEED = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _need(condition: bool, where: str, what: str) -> None:
    if not condition:
        raise ResultsError(f"{where}: {what}" if where else what)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_results_json(data: object) -> None:
    """Raise ``ResultsError`` unless ``data`` has the shape of ``results.schema.json``."""
    _need(isinstance(data, dict), "", "not a JSON object")
    assert isinstance(data, dict)
    for key in ("schema_version", "kit", "todos", "submissions"):
        _need(key in data, "", f"no {key!r}")
    _need(data["schema_version"] == 1 and _integer(data["schema_version"]), "schema_version",
          f"{data['schema_version']!r} is not 1")
    kit = data["kit"]
    _need(isinstance(kit, dict), "kit", "not an object")
    for key in ("mlflow", "python", "tests_sha256"):
        _need(isinstance(kit.get(key), str), "kit", f"no {key!r} string")
    _need(bool(SHA256.match(kit["tests_sha256"])), "kit.tests_sha256", "not 64 hex digits")
    if "seed" in kit:
        _need(isinstance(kit["seed"], str) and bool(SEED.match(kit["seed"])), "kit.seed",
              "not 1-64 of [A-Za-z0-9._-]")
    if "isolation" in kit:
        iso = kit["isolation"]
        _need(isinstance(iso, dict) and iso.get("level") in ("full", "partial", "none")
              and isinstance(iso.get("missing"), list)
              and all(isinstance(item, str) for item in iso["missing"]),
              "kit.isolation", "needs level full/partial/none and a list of missing strings")
    if "insecure_scheduler" in kit:  # graded on a Dask cluster without TLS (kata grade --insecure-scheduler)
        _need(isinstance(kit["insecure_scheduler"], bool), "kit.insecure_scheduler", "not true or false")
    _need(isinstance(data["todos"], list), "todos", "not a list")
    for n, todo in enumerate(data["todos"]):
        where = f"todos[{n}]"
        _need(isinstance(todo, dict), where, "not an object")
        for key, ok in (("id", isinstance(todo.get("id"), str)),
                        ("task", _integer(todo.get("task"))),
                        ("title", isinstance(todo.get("title"), str)),
                        ("points", _integer(todo.get("points"))),
                        ("bonus", isinstance(todo.get("bonus"), bool))):
            _need(ok, where, f"{key!r} missing or of the wrong type")
    _need(isinstance(data["submissions"], list), "submissions", "not a list")
    for n, sub in enumerate(data["submissions"]):
        where = f"submissions[{n}]"
        _need(isinstance(sub, dict), where, "not an object")
        for key, ok in (("id", isinstance(sub.get("id"), str)),
                        ("status", sub.get("status") in ("graded", "error")),
                        ("score", _integer(sub.get("score")) and sub.get("score", -1) >= 0),
                        ("max_score", _integer(sub.get("max_score"))),
                        ("todos", isinstance(sub.get("todos"), dict)),
                        ("duration_s", _number(sub.get("duration_s")) and sub.get("duration_s", -1) >= 0)):
            _need(ok, where, f"{key!r} missing or invalid")
        if "message" in sub or sub["status"] == "error":
            _need(isinstance(sub.get("message"), str), where,
                  "'message' missing (required for status error) or not a string")
        for todo_id, todo in sub["todos"].items():
            inner = f"{where}.todos[{todo_id!r}]"
            _need(isinstance(todo, dict), inner, "not an object")
            _need(todo.get("status") in STATUSES, inner, f"status {todo.get('status')!r} is not one of "
                  f"{', '.join(sorted(STATUSES))}")
            _need(isinstance(todo.get("message"), str), inner, "'message' missing or not a string")
            if "duration_s" in todo:
                _need(_number(todo["duration_s"]) and todo["duration_s"] >= 0, inner,
                      "'duration_s' is not a number >= 0")


def load_results(path: str | Path) -> ClassResults:
    """Read a ``results.json``; ``ResultsError`` (one line) for anything that is not one.

    The TODO table is the file's own (so a file graded by another kit version scores the
    same), and every submission's recorded ``score``/``max_score`` must be what its TODOs
    give under that table."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ResultsError(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise ResultsError(f"{path}: {error.strerror or error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ResultsError(f"{path}: not JSON ({error.msg}, line {error.lineno} column {error.colno})") from None
    try:
        check_results_json(data)
    except ResultsError as error:
        raise ResultsError(f"{path}: not a kata results.json: {error}") from None
    table = tuple(Todo(id=t["id"], task=t["task"], title=t["title"], todo_en="", todo_es="",
                       hint_en="", hint_es="", points=t["points"], bonus=t["bonus"])
                  for t in data["todos"])
    submissions = [SubmissionResult.from_json(sub) for sub in data["submissions"]]
    seen: set[str] = set()
    for sub, raw in zip(submissions, data["submissions"]):
        if sub.id in seen:
            raise ResultsError(f"{path}: submission id {sub.id!r} appears twice")
        seen.add(sub.id)
        earned, available = score(sub.todos, table)
        if (raw["score"], raw["max_score"]) != (earned, available):
            raise ResultsError(f"{path}: submission {sub.id!r} records {raw['score']}/{raw['max_score']} "
                               f"but its TODOs give {earned}/{available}")
    return ClassResults(kit=data["kit"], submissions=submissions, todos=table)


# --- matching submissions to roster rows ---------------------------------------------


def name_key(text: str) -> str:
    """``'López, Ana'`` → ``'lopezana'``: accents, case and all but letters/digits dropped."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch)).casefold()


def id_keys(value: str) -> set[str]:
    """An identifier and, for an e-mail address, its part before the ``@`` (case-folded)."""
    value = value.strip().casefold()
    if not value:
        return set()
    keys = {value}
    if "@" in value and value.index("@") > 0:
        keys.add(value.split("@", 1)[0])
    return keys


@dataclass(frozen=True)
class RosterRow:
    """One student of a roster, as the matching rules see them."""

    index: int  # position among the roster's student rows
    label: str  # how messages name the row
    numbers: frozenset[str] = frozenset()  # the platform's number (Canvas ID, Moodle participant)
    ids: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SubmissionKeys:
    number: str | None
    ids: frozenset[str]
    names: frozenset[str]


def submission_keys(submission_id: str, download: re.Pattern[str]) -> SubmissionKeys:
    found = download.match(submission_id)
    names = {name_key(submission_id)}
    number = None
    if found:
        number = str(int(found["number"]))
        names.add(name_key(found["name"]))
    return SubmissionKeys(number, frozenset(id_keys(submission_id)), frozenset(names - {""}))


@dataclass
class Matching:
    rows: dict[str, int] = field(default_factory=dict)  # submission id → roster row index
    unmatched: list[tuple[SubmissionResult, str]] = field(default_factory=list)


def match(submissions: Sequence[SubmissionResult], roster: Sequence[RosterRow],
          download: re.Pattern[str]) -> Matching:
    """Each submission's roster row by the module's rules; the rest, each with its reason."""
    rules: tuple[tuple[str, Callable[[SubmissionKeys, RosterRow], bool]], ...] = (
        ("number", lambda keys, row: keys.number is not None and keys.number in row.numbers),
        ("identifier", lambda keys, row: bool(keys.ids & row.ids)),
        ("name", lambda keys, row: bool(keys.names & row.names)))
    found: dict[str, int] = {}
    result = Matching()
    for sub in submissions:
        keys = submission_keys(sub.id, download)
        for _rule, hits in rules:
            rows = [row for row in roster if hits(keys, row)]
            if len(rows) == 1:
                found[sub.id] = rows[0].index
                break
            if len(rows) > 1:
                result.unmatched.append((sub, "ambiguous: matches " + "; ".join(r.label for r in rows)))
                break
        else:
            result.unmatched.append((sub, "no roster row matches"))
    claims: dict[int, list[str]] = {}
    for sub_id, index in found.items():
        claims.setdefault(index, []).append(sub_id)
    labels = {row.index: row.label for row in roster}
    for sub in submissions:
        index = found.get(sub.id)
        if index is None:
            continue
        if len(claims[index]) > 1:
            others = ", ".join(other for other in claims[index] if other != sub.id)
            result.unmatched.append((sub, f"{labels[index]} is also matched by {others}"))
        else:
            result.rows[sub.id] = index
    order = {sub.id: n for n, sub in enumerate(submissions)}
    result.unmatched.sort(key=lambda item: order[item[0].id])
    return result


# --- grades --------------------------------------------------------------------------


def grade_text(earned: float, available: int, points: float | None) -> str:
    """The grade as the gradebook reads it: the score, or rescaled to ``points``
    (2 decimals at most, no trailing zeros)."""
    value = earned if points is None or available == 0 else earned * points / available
    return f"{value:.2f}".rstrip("0").rstrip(".")


def points_text(available: int, points: float | None) -> str:
    return grade_text(available, available, points)


@dataclass
class Export:
    """What an export writes and what it has to say about it."""

    text: str
    graded: int  # roster rows that got a grade
    unmatched: list[tuple[SubmissionResult, str]]
    notes: list[str]  # one line each: broken submissions graded 0
    encoding: str = "utf-8-sig"


def _notes(results: ClassResults, matched: Mapping[str, int]) -> list[str]:
    return [f"{sub.id!r}: graded 0, nothing gradable: {sub.message}" for sub in results.submissions
            if sub.status == "error" and sub.id in matched]


def _csv_text(rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)  # QUOTE_MINIMAL, CRLF
    return buffer.getvalue()


def _read_csv(path: str | Path) -> tuple[list[list[str]], bool]:
    """A roster's rows and whether it began with a UTF-8 byte-order mark."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise RosterError(f"{path}: {error.strerror or error}") from None
    bom = raw.startswith(b"\xef\xbb\xbf")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterError(f"{path}: not UTF-8 text (save it as CSV UTF-8)") from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise RosterError(f"{path}: not a CSV file ({error})") from None
    if not rows:
        raise RosterError(f"{path}: empty")
    return rows, bom


def _score(results: ClassResults, sub: SubmissionResult) -> tuple[int, int]:
    return score(sub.todos, results.todos)


# --- Canvas --------------------------------------------------------------------------


def read_canvas_roster(path: str | Path) -> list[dict[str, str]]:
    """The students of a Canvas gradebook export (Grades → Export): their five identity
    columns, in order; the ``Points Possible`` and muted/manual-posting rows skipped."""
    rows, _bom = _read_csv(path)
    header = [cell.strip() for cell in rows[0]]
    missing = [column for column in CANVAS_IDENTITY if column not in header]
    if missing:
        raise RosterError(f"{path}: not a Canvas gradebook export: no column "
                          f"{', '.join(missing)} (its header is {', '.join(header[:6])}…)")
    where = {column: header.index(column) for column in CANVAS_IDENTITY}
    students = []
    for row in rows[1:]:
        cells = {column: row[i].strip() if i < len(row) else "" for column, i in where.items()}
        if CANVAS_POINTS_ROW in cells["Student"] or all(CANVAS_SKIPPED_ROW.match(c) for c in row):
            continue
        if not (cells["Student"] or cells["ID"] or cells["SIS User ID"] or cells["SIS Login ID"]):
            continue
        students.append(cells)
    return students


def canvas_rows(students: Sequence[Mapping[str, str]]) -> list[RosterRow]:
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
        roster.append(RosterRow(n, f"{name or '?'} (ID {number or '?'})",
                                frozenset({str(int(number))} if number.isdigit() else ()),
                                frozenset(ids), frozenset(names - {""})))
    return roster


def canvas_export(results: ClassResults, roster_path: str | Path,
                  assignment: str = DEFAULT_ASSIGNMENT, points: float | None = None) -> Export:
    """A Canvas gradebook import: the five identity columns of every roster student and
    one assignment column; a ``Points Possible`` row first."""
    students = read_canvas_roster(roster_path)
    matching = match(results.submissions, canvas_rows(students), CANVAS_DOWNLOAD)
    grades: dict[int, str] = {}
    for sub in results.submissions:
        if sub.id in matching.rows:
            grades[matching.rows[sub.id]] = grade_text(*_score(results, sub), points)
    rows = [[*CANVAS_IDENTITY, assignment],
            [CANVAS_POINTS_ROW, "", "", "", "", points_text(results.max_score, points)]]
    for n, student in enumerate(students):
        rows.append([*(student[column] for column in CANVAS_IDENTITY), grades.get(n, "")])
    return Export(_csv_text(rows), len(grades), matching.unmatched, _notes(results, matching.rows))


# --- Moodle --------------------------------------------------------------------------


def moodle_export(results: ClassResults, worksheet_path: str | Path, grade_column: str = "Grade",
                  points: float | None = None) -> Export:
    """The assignment's offline grading worksheet with its grade column filled in.

    Moodle's importer finds its columns by their names in the site's language (an English
    site: ``Identifier``, ``Grade``, ``Last modified (grade)``) and every other cell is
    kept as downloaded, so the file imports on the site it came from. The identifier is
    the first column (``Participant 123``), the full name the second."""
    rows, bom = _read_csv(worksheet_path)
    header = rows[0]
    if grade_column not in header:
        raise RosterError(f"{worksheet_path}: no {grade_column!r} column (its header is "
                          f"{', '.join(header)}); name the grade column with --grade-column")
    grade_at = header.index(grade_column)
    if grade_at < 2:
        raise RosterError(f"{worksheet_path}: not a Moodle grading worksheet: the identifier and "
                          f"full name come before {grade_column!r}")
    body = [row for row in rows[1:] if any(cell.strip() for cell in row)]
    roster = []
    for n, row in enumerate(body):
        number = MOODLE_IDENTIFIER.search(row[0]) if row else None
        if not number:
            raise RosterError(f"{worksheet_path}: row {n + 2}: {(row[0] if row else '')!r} is not a "
                              "Moodle identifier such as 'Participant 123'")
        ids = id_keys(row[0])  # "Participant 123" itself
        for cell in row[2:grade_at]:
            ids |= id_keys(cell)
        full_name = row[1] if len(row) > 1 else ""
        roster.append(RosterRow(n, f"{full_name or '?'} ({row[0]})",
                                frozenset({str(int(number[1]))}), frozenset(ids),
                                frozenset({name_key(full_name)} - {""})))
    matching = match(results.submissions, roster, MOODLE_DOWNLOAD)
    for sub in results.submissions:
        if sub.id in matching.rows:
            row = body[matching.rows[sub.id]]
            row.extend([""] * (grade_at + 1 - len(row)))
            row[grade_at] = grade_text(*_score(results, sub), points)
    return Export(_csv_text([header, *body]), len(matching.rows), matching.unmatched,
                  _notes(results, matching.rows), "utf-8-sig" if bom else "utf-8")


# --- JUnit XML -----------------------------------------------------------------------


def _xml_text(text: str) -> str:
    return XML_INVALID.sub("\ufffd", text)


def junit_xml(results: ClassResults) -> str:
    """One ``<testsuite>`` per submission (name = its id), one ``<testcase>`` per TODO of
    the table: ``name`` "<id> <title>", ``classname`` the submission id, ``time`` the
    TODO's ``duration_s`` when recorded. A failed TODO is a ``<failure>``; an errored or
    timed-out one an ``<error>`` (``type`` says which); a TODO with no recorded result is
    ``<skipped>``. A broken submission's every TODO is an ``<error>`` with its reason."""
    root = ET.Element("testsuites", name="mlflow-kata")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    total_time = 0.0
    for sub in results.submissions:
        counts = dict.fromkeys(totals, 0)
        suite = ET.SubElement(root, "testsuite", name=_xml_text(sub.id))
        properties = ET.SubElement(suite, "properties")
        earned, available = _score(results, sub)
        facts = {"status": sub.status, "score": str(earned), "max_score": str(available)}
        if "seed" in results.kit:
            facts["seed"] = results.kit["seed"]
        for name, value in facts.items():
            ET.SubElement(properties, "property", name=name, value=_xml_text(value))
        for todo in results.todos:
            counts["tests"] += 1
            case = ET.SubElement(suite, "testcase", name=_xml_text(f"{todo.id} {todo.title}"),
                                 classname=_xml_text(sub.id))
            if sub.status == "error":
                counts["errors"] += 1
                message = _xml_text(sub.message)
                ET.SubElement(case, "error", message=message, type="broken submission").text = message
                continue
            result = sub.todos.get(todo.id)
            if result is None:
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message="no result recorded for this TODO")
                continue
            if result.duration_s is not None:
                case.set("time", f"{result.duration_s:.3f}")
            message = _xml_text(result.message)
            if result.status is Status.FAIL:
                counts["failures"] += 1
                ET.SubElement(case, "failure", message=message, type="fail").text = message
            elif result.status in (Status.ERROR, Status.TIMEOUT):
                counts["errors"] += 1
                ET.SubElement(case, "error", message=message, type=result.status.value).text = message
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("time", f"{sub.duration_s:.3f}")
        total_time += sub.duration_s
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --- writing -------------------------------------------------------------------------


def unmatched_path(out: str | Path) -> Path:
    """``grades.csv`` → ``grades.unmatched.csv``, beside it."""
    out = Path(out)
    return out.with_name(f"{out.stem}.unmatched{out.suffix or '.csv'}")


def write_export(export: Export, out: str | Path, results: ClassResults) -> Path | None:
    """Write the export, and its unmatched submissions to ``<out>.unmatched.csv`` (a stale
    one from an earlier export is removed when there are none). Returns the sidecar's path
    when it was written."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, export.text, encoding=export.encoding)
    sidecar = unmatched_path(out)
    if not export.unmatched:
        sidecar.unlink(missing_ok=True)
        return None
    rows: list[Sequence[str]] = [UNMATCHED_HEADER]
    for sub, reason in export.unmatched:
        earned, available = _score(results, sub)
        rows.append([csv_safe(sub.id), sub.status, str(earned), str(available), csv_safe(reason)])
    write_atomic(sidecar, _csv_text(rows), encoding="utf-8-sig")
    return sidecar
