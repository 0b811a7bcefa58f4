"""What the Canvas and Moodle exports share: reading a roster, finding each submission's
row in it, the grade as a gradebook reads it, and writing the export with its unmatched
submissions beside it.

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
its recorded score, 0, like in ``grades.csv``; the export notes each one.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader.core.files import csv_safe, csv_text, write_atomic
from grader.results.model import ClassResults, SubmissionResult, score

UNMATCHED_HEADER = ("id", "status", "score", "max_score", "reason")


class RosterError(ValueError):
    """The roster is not what the export expects; the message is one line."""


def read_roster(path: str | Path) -> tuple[list[list[str]], bool]:
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
    """What the rules compare of a submission id; ``download`` reads the platform's
    number and the name part from a downloaded submission's name."""
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


def match(submissions: Sequence[SubmissionResult], roster: Sequence[RosterRow], download: re.Pattern[str]) -> Matching:
    """Each submission's roster row by the module's rules; the rest, each with its reason."""
    rules: tuple[tuple[str, Callable[[SubmissionKeys, RosterRow], bool]], ...] = (
        ("number", lambda keys, row: keys.number is not None and keys.number in row.numbers),
        ("identifier", lambda keys, row: bool(keys.ids & row.ids)),
        ("name", lambda keys, row: bool(keys.names & row.names)),
    )
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
        row_index = found.get(sub.id)
        if row_index is None:
            continue
        if len(claims[row_index]) > 1:
            others = ", ".join(other for other in claims[row_index] if other != sub.id)
            result.unmatched.append((sub, f"{labels[row_index]} is also matched by {others}"))
        else:
            result.rows[sub.id] = row_index
    order = {sub.id: n for n, sub in enumerate(submissions)}
    result.unmatched.sort(key=lambda item: order[item[0].id])
    return result


# --- grades and the written export ---------------------------------------------------


def grade_text(earned: float, available: int, points: float | None) -> str:
    """The grade as the gradebook reads it: the score, or rescaled to ``points``
    (2 decimals at most, no trailing zeros)."""
    value = earned if points is None or available == 0 else earned * points / available
    return f"{value:.2f}".rstrip("0").rstrip(".")


def points_text(available: int, points: float | None) -> str:
    return grade_text(available, available, points)


def submission_grade(results: ClassResults, sub: SubmissionResult, points: float | None) -> str:
    """A submission's grade cell: its score under the class's own TODO table."""
    return grade_text(*score(sub.todos, results.todos), points)


@dataclass
class Export:
    """What an export writes and what it has to say about it."""

    text: str
    graded: int  # roster rows that got a grade
    unmatched: list[tuple[SubmissionResult, str]]
    notes: list[str]  # one line each: broken submissions graded 0
    encoding: str = "utf-8-sig"


def broken_notes(results: ClassResults, matched: Mapping[str, int]) -> list[str]:
    """One line per matched submission with nothing gradable: it is graded 0, and why."""
    return [
        f"{sub.id!r}: graded 0, nothing gradable: {sub.message}"
        for sub in results.submissions
        if sub.status == "error" and sub.id in matched
    ]


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
        earned, available = score(sub.todos, results.todos)
        rows.append([csv_safe(sub.id), sub.status, str(earned), str(available), csv_safe(reason)])
    write_atomic(sidecar, csv_text(rows), encoding="utf-8-sig")
    return sidecar
