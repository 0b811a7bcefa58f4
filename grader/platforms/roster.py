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

GitHub Classroom clones (``--github-roster``): a clone's folder is its repository's name,
``<assignment prefix>-<GitHub user>``, with ``-<n>`` when Classroom had to make the name
unique, and ``-main``/``-master`` once more for a repository downloaded as a zip. The
roster GitHub Classroom exports (``identifier, github_username, github_id, name``) gives
the user's identifier, which rules 2 and 3 then compare like the submission's own id.
Where a name fits two users, the assignment prefix most of the class shares decides.

A submission that no row matches, that matches two rows, or whose row another
graded submission also matches, gets no grade: it is listed on stderr and in the sidecar
``<out>.unmatched.csv`` (never dropped silently). Roster students without a submission
keep an empty grade cell: Canvas and Moodle leave an empty cell's grade unchanged.

A submission whose ``status`` is ``error`` (nothing gradable: empty, bad zip, …) is no
grade either: its row's cell stays empty and it is listed with its reason, unless
``broken_as_zero`` (``--broken-as-zero``) writes 0 on purpose. Where a student's row is
matched by a graded submission and by broken ones (a broken first zip and a good
second one in a Moodle download), the graded one is used and the others are listed as
not used; the export says which one it used.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader.core.files import csv_safe, csv_text, write_atomic
from grader.results.model import ClassResults, SubmissionResult, score

UNMATCHED_HEADER = ("id", "status", "score", "max_score", "reason", "roster_row")


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


def submission_keys(submission_id: str, download: re.Pattern[str], identifier: str | None = None) -> SubmissionKeys:
    """What the rules compare of a submission id; ``download`` reads the platform's
    number and the name part from a downloaded submission's name; ``identifier`` is
    what a GitHub Classroom roster says the clone's user is."""
    found = download.match(submission_id)
    names = {name_key(submission_id)}
    ids = id_keys(submission_id)
    number = None
    if found:
        number = str(int(found["number"]))
        names.add(name_key(found["name"]))
    if identifier:
        ids |= id_keys(identifier)
        names.add(name_key(identifier))
    return SubmissionKeys(number, frozenset(ids), frozenset(names - {""}))


# --- GitHub Classroom clones -----------------------------------------------------------

GITHUB_ROSTER_COLUMNS = ("identifier", "github_username")
CLASSROOM_BRANCH = re.compile(r"-(?:main|master)$")  # a repository downloaded as a zip
CLASSROOM_NUMBER = re.compile(r"-\d+$")  # Classroom made the repository name unique


@dataclass(frozen=True)
class GitHubUser:
    """One student of a GitHub Classroom roster that has a GitHub account linked."""

    login: str
    identifier: str


@dataclass(frozen=True)
class GitHubRoster:
    path: str
    users: Mapping[str, GitHubUser]  # case-folded login → user


def read_github_roster(path: str | Path) -> GitHubRoster:
    """GitHub Classroom's roster export (Students → Download): ``identifier``,
    ``github_username``, ``github_id``, ``name``; rows whose student has not linked a
    GitHub account yet (no ``github_username``) are skipped."""
    rows, _bom = read_roster(path)
    header = [cell.strip().casefold() for cell in rows[0]]
    missing = [column for column in GITHUB_ROSTER_COLUMNS if column not in header]
    if missing:
        raise RosterError(
            f"{path}: not a GitHub Classroom roster: no column {', '.join(missing)} "
            f"(its header is {', '.join(rows[0][:4])}…)"
        )
    at_id, at_login = (header.index(column) for column in GITHUB_ROSTER_COLUMNS)
    users: dict[str, GitHubUser] = {}
    for row in rows[1:]:
        login = row[at_login].strip() if at_login < len(row) else ""
        identifier = row[at_id].strip() if at_id < len(row) else ""
        if not login or not identifier:
            continue
        known = users.get(login.casefold())
        if known and known.identifier != identifier:
            raise RosterError(f"{path}: GitHub user {login!r} is on two rows ({known.identifier!r} and {identifier!r})")
        users[login.casefold()] = GitHubUser(login, identifier)
    if not users:
        raise RosterError(
            f"{path}: no student in it has a GitHub username yet (download the roster "
            "again once students have accepted the assignment)"
        )
    return GitHubRoster(str(path), users)


def _classroom_candidates(submission_id: str, users: Mapping[str, GitHubUser]) -> list[tuple[str, int, GitHubUser]]:
    """Every reading of a submission id as a Classroom repository name: (assignment
    prefix, how many suffixes it took off, user)."""
    name = submission_id.strip().casefold()
    bases = {name: 0}
    branchless = CLASSROOM_BRANCH.sub("", name)
    if branchless != name:
        bases.setdefault(branchless, 1)
    for base, stripped in list(bases.items()):
        unnumbered = CLASSROOM_NUMBER.sub("", base)
        if unnumbered != base:
            bases.setdefault(unnumbered, stripped + 1)
    found = []
    for base, stripped in bases.items():
        splits = [("", base)] + [(base[:at], base[at + 1 :]) for at, ch in enumerate(base) if ch == "-"]
        found += [(prefix, stripped, users[login]) for prefix, login in splits if login in users]
    return found


def classroom_users(submission_ids: Sequence[str], roster: GitHubRoster) -> dict[str, GitHubUser | str]:
    """Each Classroom clone's GitHub user, or why its name fits none or several. Where
    a name fits two users (``mlflow-kata-jim-bob``: ``bob`` or ``jim-bob``), the
    assignment prefix most submissions share decides, then the reading that took the
    fewest suffixes off."""
    candidates = {sub_id: _classroom_candidates(sub_id, roster.users) for sub_id in submission_ids}
    prefixes = Counter(prefix for found in candidates.values() for prefix in {c[0] for c in found})
    ranked = prefixes.most_common(2)
    common = ranked[0][0] if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]) else None
    result: dict[str, GitHubUser | str] = {}
    for sub_id, found in candidates.items():
        if not found:
            continue
        best = sorted({(c[0] != common, c[1], c[2].login) for c in found})
        if len(best) > 1 and best[0][:2] == best[1][:2]:
            tied = [login for miss, stripped, login in best if (miss, stripped) == best[0][:2]]
            result[sub_id] = f"its name fits GitHub users {', '.join(map(repr, tied))} of {roster.path}"
        else:
            result[sub_id] = roster.users[best[0][2].casefold()]
    return result


# --- which row is whose --------------------------------------------------------------


@dataclass
class Matching:
    rows: dict[str, int] = field(default_factory=dict)  # submission id → roster row index
    unmatched: list[tuple[SubmissionResult, str]] = field(default_factory=list)
    not_used: list[tuple[SubmissionResult, str, int]] = field(default_factory=list)  # (…, row index): another is used
    notes: list[str] = field(default_factory=list)


def match(
    submissions: Sequence[SubmissionResult],
    roster: Sequence[RosterRow],
    download: re.Pattern[str],
    github: GitHubRoster | None = None,
) -> Matching:
    """Each submission's roster row by the module's rules; the rest, each with its reason."""
    rules: tuple[tuple[str, Callable[[SubmissionKeys, RosterRow], bool]], ...] = (
        ("number", lambda keys, row: keys.number is not None and keys.number in row.numbers),
        ("identifier", lambda keys, row: bool(keys.ids & row.ids)),
        ("name", lambda keys, row: bool(keys.names & row.names)),
    )
    clones = classroom_users([sub.id for sub in submissions], github) if github else {}
    found: dict[str, int] = {}
    result = Matching()
    for sub in submissions:
        user = clones.get(sub.id)
        keys = submission_keys(sub.id, download, user.identifier if isinstance(user, GitHubUser) else None)
        for _rule, hits in rules:
            rows = [row for row in roster if hits(keys, row)]
            if len(rows) == 1:
                found[sub.id] = rows[0].index
                break
            if len(rows) > 1:
                result.unmatched.append((sub, "ambiguous: matches " + "; ".join(r.label for r in rows)))
                break
        else:
            result.unmatched.append((sub, no_match_reason(sub.id, user, github)))
    claims: dict[int, list[SubmissionResult]] = {}
    by_id = {sub.id: sub for sub in submissions}
    for sub_id, index in found.items():
        claims.setdefault(index, []).append(by_id[sub_id])
    labels = {row.index: row.label for row in roster}
    for index, claimants in claims.items():
        used = _used(claimants)
        if used is None:  # two graded submissions: which one is the student's is not ours to guess
            for sub in claimants:
                others = ", ".join(other.id for other in claimants if other is not sub)
                result.unmatched.append((sub, f"{labels[index]} is also matched by {others}"))
            continue
        result.rows[used.id] = index
        if len(claimants) == 1:
            continue
        kind = "graded" if used.status != "error" else "none of them has anything gradable"
        for sub in claimants:
            if sub is not used:
                why = f"nothing gradable ({sub.message}); {labels[index]} takes {used.id!r} ({kind})"
                result.not_used.append((sub, why, index))
        skipped = ", ".join(repr(sub.id) for sub in claimants if sub is not used)
        result.notes.append(f"{labels[index]}: {len(claimants)} submissions; used {used.id!r} ({kind}), not {skipped}")
    order = {sub.id: n for n, sub in enumerate(submissions)}
    result.unmatched.sort(key=lambda item: order[item[0].id])
    result.not_used.sort(key=lambda item: order[item[0].id])
    return result


def _used(claimants: Sequence[SubmissionResult]) -> SubmissionResult | None:
    """The submission a row takes among those that match it: the only one, the only
    graded one (a broken one never wins over it), or the first when all are broken;
    None when two or more are graded."""
    graded = [sub for sub in claimants if sub.status != "error"]
    if len(graded) > 1:
        return None
    return graded[0] if graded else claimants[0]


def no_match_reason(submission_id: str, user: GitHubUser | str | None, github: GitHubRoster | None) -> str:
    """Why no row matches, with what the GitHub roster said of the submission's name."""
    if isinstance(user, GitHubUser):
        return f"no roster row matches (GitHub user {user.login!r} is {user.identifier!r} in {github and github.path})"
    if isinstance(user, str):
        return f"no roster row matches: {user}"
    if github:
        return f"no roster row matches, and no GitHub user of {github.path} fits its name"
    if "-" in submission_id:
        return "no roster row matches (a GitHub Classroom clone? --github-roster FILE maps GitHub users to students)"
    return "no roster row matches"


# --- grades and the written export ---------------------------------------------------


def grade_text(earned: float, available: int, points: float | None) -> str:
    """The grade as the gradebook reads it: the score, or rescaled to ``points``
    (2 decimals at most, no trailing zeros)."""
    value = earned if points is None or available == 0 else earned * points / available
    return number_text(value)


def number_text(value: float) -> str:
    """2 decimals at most, no trailing zeros: ``6.67``, ``10``."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def points_text(available: int, points: float | None) -> str:
    return grade_text(available, available, points)


def submission_grade(results: ClassResults, sub: SubmissionResult, points: float | None) -> str:
    """A submission's grade cell: its score under the class's own TODO table."""
    return grade_text(*score(sub.todos, results.todos), points)


@dataclass
class Listed:
    """A submission whose grade is not in the export, and why (one line)."""

    submission: SubmissionResult
    kind: str  # "unmatched", "left blank" (nothing gradable) or "not used" (the row took another)
    reason: str
    row: str = ""  # the roster row it matched, if any

    @property
    def line(self) -> str:
        """The reason as the sidecar gives it: an unmatched one's reason says it all."""
        return self.reason if self.kind == "unmatched" else f"{self.kind}: {self.reason}"


@dataclass
class Export:
    """What an export writes and what it has to say about it."""

    text: str
    graded: int  # roster rows that got a grade
    listed: list[Listed]  # submissions whose grade is not in it: stderr and the sidecar
    notes: list[str]  # one line each: the scale, which submission a row took, broken ones written as 0
    encoding: str = "utf-8-sig"

    @property
    def unmatched(self) -> list[Listed]:
        return [item for item in self.listed if item.kind == "unmatched"]

    @property
    def left_blank(self) -> list[Listed]:
        return [item for item in self.listed if item.kind == "left blank"]

    @property
    def incomplete(self) -> bool:
        """Some submission's student has no grade from it (exit 1): unmatched or broken."""
        return any(item.kind != "not used" for item in self.listed)


@dataclass
class Filled:
    """The grade cells of an export's roster rows, and what it lists and notes."""

    cells: dict[int, str]  # roster row index → grade text
    listed: list[Listed]
    notes: list[str]


def fill_grades(
    results: ClassResults,
    matching: Matching,
    labels: Mapping[int, str],
    points: float | None,
    broken_as_zero: bool = False,
) -> Filled:
    """Each matched row's grade cell; a broken submission's row stays empty (listed with
    its reason) unless ``broken_as_zero``; the unmatched and not-used ones listed."""
    cells: dict[int, str] = {}
    listed = [Listed(sub, "unmatched", why) for sub, why in matching.unmatched]
    notes = list(matching.notes)
    for sub in results.submissions:
        if sub.id not in matching.rows:
            continue
        index = matching.rows[sub.id]
        if sub.status != "error":
            cells[index] = submission_grade(results, sub, points)
        elif broken_as_zero:
            cells[index] = grade_text(0, results.max_score, points)
            notes.append(f"{sub.id!r} → {labels[index]}: 0 (--broken-as-zero), nothing gradable: {sub.message}")
        else:
            reason = f"nothing gradable: {sub.message} (--broken-as-zero writes 0)"
            listed.append(Listed(sub, "left blank", reason, labels[index]))
    listed += [Listed(sub, "not used", why, labels[index]) for sub, why, index in matching.not_used]
    order = {sub.id: n for n, sub in enumerate(results.submissions)}
    listed.sort(key=lambda item: order[item.submission.id])
    return Filled(cells, listed, notes)


def unmatched_path(out: str | Path) -> Path:
    """``grades.csv`` → ``grades.unmatched.csv``, beside it."""
    out = Path(out)
    return out.with_name(f"{out.stem}.unmatched{out.suffix or '.csv'}")


def write_export(export: Export, out: str | Path, results: ClassResults) -> Path | None:
    """Write the export, and the submissions whose grade is not in it to
    ``<out>.unmatched.csv`` (a stale one from an earlier export is removed when there are
    none). Returns the sidecar's path when it was written."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, export.text, encoding=export.encoding)
    sidecar = unmatched_path(out)
    if not export.listed:
        sidecar.unlink(missing_ok=True)
        return None
    rows: list[Sequence[str]] = [UNMATCHED_HEADER]
    for item in export.listed:
        sub = item.submission
        earned, available = score(sub.todos, results.todos)
        rows.append(
            [csv_safe(sub.id), sub.status, str(earned), str(available), csv_safe(item.line), csv_safe(item.row)]
        )
    write_atomic(sidecar, csv_text(rows), encoding="utf-8-sig")
    return sidecar
