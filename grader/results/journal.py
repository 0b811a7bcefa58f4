"""The student's journal: one line per judged run of the kata tests, kept in their own
lab (``exercises/.kata/journal.jsonl``) and handed in with their work; read back by
``kata progress`` (the student's own path) and by ``kata grade`` (a summary per
submission in ``results.json``, never part of a grade).

It lives in ``results`` (below the judge, the student's verbs and the classroom) because
all three use it: the judge's plugin writes it (``entry``, ``append``), ``kata progress``
and ``kata grade`` read it (``read``, ``summarise``), and its summary is part of what
``results.json`` holds. It imports only ``results.model``, ``lab`` and ``core``.

A line holds no text a run rendered, no code, path, user or host name::

    {"v": 1, "t": 1767000000, "kit": "<16 hex>", "verb": "pytest", "tasks": [1],
     "todos": {"1.1": ["pass", null], "1.3": ["fail", "3f2a9c0b1d4e"]}}

``t``: the run's end, whole seconds since the epoch; ``kit``: the hash of the public kata
tests and the TODO table (``lab_hash``: equal in the instructor's kit and every student kit
released from it); ``verb``: ``pytest``, ``check`` or ``watch``; ``tasks``: the tasks run;
each TODO judged: its verdict and the id of the message it showed (``message_id``: a hash
of the catalog message's English msgid, ``kit-error`` for the kit's own error, null when
it passed or the message is none of the catalog's).

Writing: one ``write`` of one line on a file opened to append (atomic for a line this
short), and past ``CAP_BYTES`` the oldest lines are dropped (the newest ``KEEP_BYTES``
kept, rewritten atomically). Any failure to write is silent: a journal never breaks a run.

Reading is for untrusted input: at most ``READ_MAX_BYTES`` (larger: ignored, with a note),
each line at most ``MAX_LINE_BYTES``, parsed and checked field by field; a line that is not
exactly a journal line is skipped and counted, never fatal. ``summarise`` never raises on
what ``read`` returns, and flags what looks unlike a real student's path (another kit,
time running backwards, every TODO green at its first run) neutrally.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import statistics
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath

from grader.core.files import write_atomic
from grader.core.manifest import digest_files
from grader.core.paths import KIT_ROOT
from grader.lab.todos import TASK_TEST_FILES, load_todos, todo_order
from grader.results.model import KIT_ERROR, Status, TodoResult

VERSION = 1
JOURNAL_DIR = ".kata"
JOURNAL_NAME = "journal.jsonl"
ENV = "KATA_JOURNAL"  # "0" (or another OFF word): no journal; "1": a journal in a development kit too
OFF = ("0", "false", "no", "off")  # what a student may write to turn it off: each one does
VERBS = ("pytest", "check", "watch")
CAP_BYTES = 256 * 1024  # past this, the oldest lines are dropped …
KEEP_BYTES = CAP_BYTES // 2  # … down to the newest lines that fit in this
READ_MAX_BYTES = 1024 * 1024  # a journal handed in larger than this is ignored
MAX_LINE_BYTES = 4096
MAX_LINES = 20_000
KIT_ERROR_ID = "kit-error"
RELEASE_NAME = "mlflow-kata-lab"  # the student kit's distribution name (kata release writes it)
# Why a whole journal is ignored: larger than READ_MAX_BYTES, more than MAX_LINES lines,
# not one valid line, or unreadable.
IGNORED = ("too-large", "too-many-lines", "no-valid-line", "unreadable")
_ID = re.compile(r"^[0-9a-f]{12}$")
_HASH = re.compile(r"^[0-9a-f]{16}$")
EARLIEST = 1_600_000_000  # a run's time before this (September 2020) is no real run's
TIMELINE_MAX = 120  # a summary's ``timeline`` keeps the newest runs up to this many


def handed_in_paths(exercises: PurePosixPath) -> list[PurePosixPath]:
    """Where a submission whose task files are in the folder ``exercises`` (relative to
    its root) may hold a journal: in that folder's ``.kata/``, else in its parent's."""
    paths = [exercises / JOURNAL_DIR / JOURNAL_NAME]
    if exercises.parts:
        paths.append(exercises.parent / JOURNAL_DIR / JOURNAL_NAME)
    return paths


def journal_path(exercises: Path) -> Path:
    """Where the journal of the student files in ``exercises`` is kept."""
    return Path(exercises) / JOURNAL_DIR / JOURNAL_NAME


def enabled(root: Path = KIT_ROOT, environ: Mapping[str, str] | None = None) -> bool:
    """Whether runs are journaled: never with ``KATA_JOURNAL=0`` nor in a course released
    with ``--no-journal`` (``[tool.kata] journal = false``); by default in a released
    student kit; in the instructor's kit only with ``KATA_JOURNAL=1``."""
    setting = (os.environ if environ is None else environ).get(ENV, "").strip()
    if setting.lower() in OFF:
        return False
    try:
        with open(root / "pyproject.toml", "rb") as handle:
            project = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        project = {}
    if project.get("tool", {}).get("kata", {}).get("journal") is False:
        return False
    return setting == "1" or project.get("project", {}).get("name") == RELEASE_NAME


@cache
def lab_hash(root: Path = KIT_ROOT) -> str:
    """16 hex digits of the hash of the public kata tests and the TODO table: the same in
    the instructor's kit and the student kits released from it."""
    names = [f"tests/{name}" for _number, name in sorted(TASK_TEST_FILES.items())] + ["grader/lab/todos.toml"]
    try:
        return digest_files([name for name in names if (root / name).is_file()], root)[:16]
    except OSError:
        return "0" * 16


# -- message ids --------------------------------------------------------------------------


def id_of(msgid: str) -> str:
    """The id of a catalog message: 12 hex digits of its English msgid's hash."""
    return hashlib.sha256(msgid.encode("utf-8")).hexdigest()[:12]


def _pieces(template: str) -> list[str]:
    """A template's literal parts, split at its ``{placeholders}``."""
    return re.split(r"\{[^{}]*\}", template)


@cache
def _templates(lang: str) -> tuple[tuple[list[str], str, int], ...]:
    """Every catalog message as ``(literal pieces in lang, its msgid, literal length)``,
    longest first (the most specific message wins)."""
    from grader.core.i18n import SOURCE, translations

    catalog = getattr(translations(lang if lang and lang != SOURCE else "es"), "_catalog", {})
    found = []
    for key, value in catalog.items():
        if not isinstance(key, str) or not key:  # the header, plural forms
            continue
        text = key if not lang or lang == SOURCE else value
        pieces = _pieces(text)
        length = sum(len(piece) for piece in pieces)
        if length >= 8:
            found.append((pieces, key, length))
    return tuple(sorted(found, key=lambda item: -item[2]))


def _matches(pieces: list[str], text: str) -> bool:
    """Whether ``text`` starts with the template of ``pieces`` (each placeholder any text):
    each literal found leftmost after the one before (linear, no backtracking)."""
    if not text.startswith(pieces[0]):
        return False
    at = len(pieces[0])
    for piece in pieces[1:]:
        if not piece:
            continue
        found = text.find(piece, at)
        if found < 0:
            return False
        at = found + len(piece)
    return True


def message_id(message: str, todo_id: str, lang: str = "") -> str | None:
    """The id of the catalog message a TODO's first message was made from (in ``lang``,
    else in English); ``kit-error`` for the kit's own error; None when it is none of them."""
    text = message.strip().split("\n", 1)[0]
    prefix = f"TODO {todo_id}:"
    text = text[len(prefix) :].lstrip() if text.startswith(prefix) else text
    if not text:
        return None
    if text.startswith(KIT_ERROR):
        return KIT_ERROR_ID
    text = text[:2000]
    for language in dict.fromkeys([lang, ""]):
        for pieces, msgid, _length in _templates(language):
            if _matches(pieces, text):
                return id_of(msgid)
    return None


@cache
def messages_by_id() -> dict[str, str]:
    """Message id → its English msgid, for every catalog message (``kata progress`` and the
    report show a message by id in their language with ``_``)."""
    return {id_of(msgid): msgid for _pieces, msgid, _length in _templates("")}


# -- writing ------------------------------------------------------------------------------


def entry(
    todos: Mapping[str, TodoResult], verb: str, lang: str = "", now: float | None = None, kit: str | None = None
) -> dict:
    """The journal line of a run that judged ``todos`` (in the lab's order)."""
    known = {todo.id: todo.task for todo in load_todos()}
    judged = {todo_id: result for todo_id, result in todos.items() if todo_id in known}
    return {
        "v": VERSION,
        "t": int(time.time() if now is None else now),
        "kit": lab_hash() if kit is None else kit,
        "verb": verb,
        "tasks": sorted({known[todo_id] for todo_id in judged}),
        "todos": {
            todo_id: [result.status.value, None if result.passed else message_id(result.message, todo_id, lang)]
            for todo_id, result in sorted(judged.items(), key=lambda kv: todo_order(kv[0]))
        },
    }


def append(path: Path, line: dict, cap: int = CAP_BYTES, keep: int = KEEP_BYTES) -> bool:
    """Append ``line`` to the journal at ``path``; past ``cap`` bytes, keep the newest lines
    that fit in ``keep``. False (and nothing raised) when it could not be written."""
    data = (json.dumps(line, separators=(",", ":"), ensure_ascii=True) + "\n").encode("ascii")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)  # one write of one short line: appends never interleave
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size > cap:
            lines = path.read_bytes().splitlines(keepends=True)
            kept: list[bytes] = []
            total = 0
            for raw in reversed(lines):
                if total + len(raw) > keep:
                    break
                kept.append(raw)
                total += len(raw)
            write_atomic(path, b"".join(reversed(kept)))
    except OSError:
        return False
    return True


# -- reading (untrusted) ----------------------------------------------------------------


@dataclass
class Reading:
    """What ``read`` took from a journal: its valid lines in file order, how many lines
    were skipped, and a note when the journal as a whole was ignored."""

    lines: list[dict] = field(default_factory=list)
    skipped: int = 0
    # why the whole journal was ignored ("" when it was read): one of IGNORED
    ignored: str = ""


def valid_line(raw: bytes) -> dict | None:
    """One line of a journal checked field by field; None for anything else."""
    if len(raw) > MAX_LINE_BYTES:
        return None
    try:
        data = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or set(data) != {"v", "t", "kit", "verb", "tasks", "todos"}:
        return None
    known = {todo.id: todo.task for todo in load_todos()}
    stamp, kit, verb, tasks, todos = data["t"], data["kit"], data["verb"], data["tasks"], data["todos"]
    if data["v"] != VERSION or type(stamp) is not int or not EARLIEST <= stamp < 2**40:
        return None
    if not isinstance(kit, str) or not _HASH.match(kit) or verb not in VERBS:
        return None
    if not isinstance(tasks, list) or not all(type(task) is int for task in tasks):
        return None
    if not isinstance(todos, dict) or not todos:
        return None
    for todo_id, verdict in todos.items():
        if todo_id not in known or not isinstance(verdict, list) or len(verdict) != 2:
            return None
        status, shown = verdict
        if status not in {status.value for status in Status}:
            return None
        if shown is not None and (not isinstance(shown, str) or not (shown == KIT_ERROR_ID or _ID.match(shown))):
            return None
    return data


def read(data: bytes, limit: int = READ_MAX_BYTES) -> Reading:
    """The journal ``data`` (a file's bytes, read with at most ``limit + 1`` of them) as
    untrusted input: never raises."""
    reading = Reading()
    if len(data) > limit:
        reading.ignored = "too-large"
        return reading
    raws = data.split(b"\n")
    if len(raws) > MAX_LINES + 1:
        reading.ignored = "too-many-lines"
        return reading
    for raw in raws:
        if not raw.strip():
            continue
        line = valid_line(raw.strip())
        if line is None:
            reading.skipped += 1
        else:
            reading.lines.append(line)
    if reading.skipped and not reading.lines:
        reading.ignored = "no-valid-line"
    return reading


def read_file(path: Path, limit: int = READ_MAX_BYTES) -> Reading | None:
    """The journal at ``path`` (None when there is none); never raises."""
    try:
        with open(path, "rb") as handle:
            return read(handle.read(limit + 1), limit)
    except FileNotFoundError:
        return None
    except OSError:
        return Reading(ignored="unreadable")


# -- the path a journal tells ----------------------------------------------------------


def summarise(reading: Reading, kit: str | None = None) -> dict:
    """A journal's summary (``results.json``'s per-submission ``journal``; what ``kata
    progress`` shows): per TODO judged, ``attempts`` (runs up to its first green, or all of
    them), ``seconds_to_green`` (first red run to first green run; 0 when green at once;
    null while never green), ``broke_again`` (green → not green, after its first green) and
    ``messages`` (message id → runs that showed it before green); ``timeline``: per run (the
    newest ``TIMELINE_MAX``, oldest first) how many TODOs it judged not passing (0: a green
    run); ``flags`` for what looks unlike a student's own path: ``other-kit`` (lines of a
    kit other than ``kit``), ``time-backwards``, ``all-green-first-run``."""
    if reading.ignored:
        return {"status": "ignored", "note": reading.ignored, "skipped_lines": reading.skipped}
    lines = reading.lines
    flags = []
    if kit is not None and any(line["kit"] != kit for line in lines):
        flags.append("other-kit")
    if any(later["t"] < earlier["t"] for earlier, later in zip(lines, lines[1:])):
        flags.append("time-backwards")
    todos: dict[str, dict] = {}
    for line in lines:
        for todo_id, (status, shown) in line["todos"].items():
            path = todos.setdefault(
                todo_id,
                {"attempts": 0, "green": False, "seconds_to_green": None, "broke_again": 0, "messages": {}},
            )
            path.setdefault("_first_red", None)
            path.setdefault("_last_green", False)
            passed = status == Status.PASS.value
            if not path["green"]:
                path["attempts"] += 1
                if passed:
                    path["green"] = True
                    first_red = path["_first_red"]
                    path["seconds_to_green"] = max(0, line["t"] - first_red) if first_red is not None else 0
                else:
                    if path["_first_red"] is None:
                        path["_first_red"] = line["t"]
                    if shown:
                        path["messages"][shown] = path["messages"].get(shown, 0) + 1
            elif path["_last_green"] and not passed:
                path["broke_again"] += 1
            path["_last_green"] = passed
    graded = [todo.id for todo in load_todos() if not todo.bonus]
    if lines and all(
        todo_id in todos and todos[todo_id]["attempts"] == 1 and todos[todo_id]["green"] for todo_id in graded
    ):
        flags.append("all-green-first-run")
    for path in todos.values():
        del path["_first_red"], path["_last_green"]
    ordered = dict(sorted(todos.items(), key=lambda kv: todo_order(kv[0])))
    summary: dict = {"status": "read", "runs": len(lines), "skipped_lines": reading.skipped, "todos": ordered}
    summary["timeline"] = [
        sum(status != Status.PASS.value for status, _shown in line["todos"].values()) for line in lines[-TIMELINE_MAX:]
    ]
    if lines:
        summary["first"] = min(line["t"] for line in lines)
        summary["last"] = max(line["t"] for line in lines)
    if flags:
        summary["flags"] = flags
    return summary


# -- the class's path ---------------------------------------------------------------------


def _median(values: list[int]) -> float | int | None:
    return statistics.median(values) if values else None


def _p90(values: list[int]) -> int | None:
    """The nearest-rank 90th percentile: the ceil(0.9 n)-th smallest value."""
    return sorted(values)[math.ceil(0.9 * len(values)) - 1] if values else None


def _count(value: object) -> int | None:
    """``value`` when it is a count (a non-negative int, not a bool), else None."""
    return value if type(value) is int and value >= 0 else None


def class_summary(summaries: Mapping[str, dict | None]) -> dict:
    """The class's path from its journals' summaries (submission id → ``summarise``'s
    summary, None for a submission without a journal); only summaries ``read`` count.

    Per TODO (in the lab's order): ``students`` (journals that judged it), ``green`` (of
    them, went green), the median and nearest-rank 90th percentile of ``attempts`` and of
    ``seconds_to_green`` over the students who went green (null for none), ``broke_again``
    (students who broke it after green) and its share of ``green``, and ``messages``: per
    message id the runs that showed it before green summed over the class and the students
    who saw it (most runs first). ``students``: per journal read, its ``runs`` and
    ``timeline``. A summary not shaped like ``summarise``'s is counted as ignored: a
    results.json edited by hand never breaks the class's view."""
    read: dict[str, dict] = {}
    ignored = missing = 0
    for submission_id in sorted(summaries):
        summary = summaries[submission_id]
        if summary is None:
            missing += 1
        elif isinstance(summary, dict) and summary.get("status") == "read" and isinstance(summary.get("todos"), dict):
            read[submission_id] = summary
        else:
            ignored += 1
    paths: dict[str, list[tuple[str, dict]]] = {}
    for submission_id, summary in read.items():
        for todo_id, path in summary["todos"].items():
            if isinstance(todo_id, str) and isinstance(path, dict):
                paths.setdefault(todo_id, []).append((submission_id, path))
    todos = {}
    for todo_id in sorted(paths, key=lambda todo_id: (todo_order(todo_id), todo_id)):
        went_green = [(student, path) for student, path in paths[todo_id] if path.get("green") is True]
        attempts = [n for _student, path in went_green if (n := _count(path.get("attempts"))) is not None]
        seconds = [n for _student, path in went_green if (n := _count(path.get("seconds_to_green"))) is not None]
        broke = sum(1 for _student, path in paths[todo_id] if (_count(path.get("broke_again")) or 0) > 0)
        runs: dict[str, int] = {}
        seen_by: dict[str, list[str]] = {}
        for student, path in paths[todo_id]:
            shown = path.get("messages")
            for message, count in shown.items() if isinstance(shown, dict) else ():
                if isinstance(message, str) and (_count(count) or 0) > 0:
                    runs[message] = runs.get(message, 0) + count
                    seen_by.setdefault(message, []).append(student)
        todos[todo_id] = {
            "students": len(paths[todo_id]),
            "green": len(went_green),
            "attempts": {"median": _median(attempts), "p90": _p90(attempts)},
            "seconds_to_green": {"median": _median(seconds), "p90": _p90(seconds)},
            "broke_again": broke,
            "broke_again_share": broke / len(went_green) if went_green else 0.0,
            "messages": [
                {"id": message, "runs": runs[message], "students": sorted(seen_by[message])}
                for message in sorted(runs, key=lambda message: (-runs[message], message))
            ],
        }
    students = {}
    for submission_id, summary in read.items():
        timeline = summary.get("timeline")
        students[submission_id] = {
            "runs": _count(summary.get("runs")) or 0,
            "timeline": [n for n in timeline[-TIMELINE_MAX:] if _count(n) is not None]
            if isinstance(timeline, list)
            else [],
        }
    return {"journals": len(read), "ignored": ignored, "missing": missing, "todos": todos, "students": students}


SHARED_FORMAT = "mlflow-kata journal summary"


def shared_summary(summaries: Mapping[str, dict | None], kit: str | None = None) -> dict:
    """What ``kata grade --journal-summary`` writes for the kit's maintainers: the class's
    per-message counts alone, no student id nor timeline. Per TODO ``class_summary``'s
    figures without its ``messages``; ``messages``: per message seen before green (most
    runs first) its TODO, id, English msgid (``text``; null when not in this kit's
    catalog), ``runs`` before green summed over the class and how many ``students`` saw
    it; ``kit``: the hash the journals record (``lab_hash``)."""
    whole = class_summary(summaries)
    msgids = messages_by_id()
    todos, messages = {}, []
    for todo_id, path in whole["todos"].items():
        todos[todo_id] = {key: value for key, value in path.items() if key != "messages"}
        for seen in path["messages"]:
            text = KIT_ERROR if seen["id"] == KIT_ERROR_ID else msgids.get(seen["id"])
            messages.append(
                {
                    "todo": todo_id,
                    "id": seen["id"],
                    "text": text,
                    "runs": seen["runs"],
                    "students": len(seen["students"]),
                }
            )
    messages.sort(key=lambda seen: (-seen["runs"], todo_order(seen["todo"]), seen["id"]))
    return {
        "format": SHARED_FORMAT,
        "version": VERSION,
        "kit": lab_hash() if kit is None else kit,
        "journals": whole["journals"],
        "ignored": whole["ignored"],
        "missing": whole["missing"],
        "todos": todos,
        "messages": messages,
    }
