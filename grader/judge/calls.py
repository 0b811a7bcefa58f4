"""A test's calls of the student's code and what the judge makes of them: ``run`` makes one
in the sandbox (or replays it, ``grader.judge.shared_calls``), refuses what it left when the
judge must not read it (a full quota, a tree past the caps, a store replaced or linked
elsewhere) and ``checked`` turns its ``CallResult`` into the returned value or the test's
verdict, naming the student's line. ``KataCase`` (``grader.judge.case``) is the case these
functions are given; they need of it only what ``CallingCase`` lists."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from grader.core.i18n import _
from grader.judge import budget, mlflow_errors
from grader.judge.probes import OWN_STORE
from grader.judge.raises import Raised, import_failure, own_message, raised_in, unjudgeable
from grader.judge.shared_calls import SharedCalls
from grader.sandbox import CallResult, Sandbox, SandboxLimits, quota, untrusted_tree, words
from grader.sandbox.untrusted_tree import Overflow

if TYPE_CHECKING:
    import pandas as pd

    from grader.lab.todos import Todo

SEEDED_PARTS = ("store", "work")  # what kit seeding writes in a case folder, and what a snapshot keeps
# How a full disk reads in an error (SQLite, OSError's ENOSPC, EDQUOT)
BUDGET_NOTE = "kata_budget"  # a CallResult note: the submission's time budget cut this call short
DISK_FULL = ("database or disk is full", "No space left on device", "Disk quota exceeded")


class KitError(RuntimeError):
    """The kit's own code failed (seeding, a refused kit request): never the student's
    fail. The plugin reports any exception a kata test raises, other than its verdict,
    as ``error`` with ``kit error: …``."""


class CallingCase(Protocol):
    """What a call needs of its case (``KataCase``): where it runs, what it may read,
    the session's shared calls, and how the test records and fails."""

    sandbox: Sandbox
    limits: SandboxLimits
    exercises: Path
    dir: Path  # the case folder: ``store`` and ``work``
    workdir: Path
    inputs: Path  # the read-only data samples
    uri: str
    shared: SharedCalls | None
    properties: list
    raised: str
    raised_own: bool  # ``raised`` is this case's own TODO's code raising (``grader.judge.raises``)
    elsewhere: str
    student_ran: bool
    todo: Todo

    def fail(self, message: str, waiting_for: str | None = None) -> NoReturn: ...


@dataclass(frozen=True)
class Described:
    """What the student's function returned when it has no JSON form (an ActiveRun, a
    ModelVersion): its type and a short repr, for the messages of the TODOs that need
    the returned value. The other TODOs are judged by what MLflow holds."""

    type: str
    text: str

    def __repr__(self) -> str:
        noun = article(self.type)
        # An object's own <Type: …> repr says nothing more than its type.
        return noun if self.text.startswith(f"<{self.type}") else f"{noun} {self.text}"


def article(noun: str) -> str:
    """``an ActiveRun``, ``a ModelVersion``, in the current language."""
    return words.article(noun, _)


@dataclass(frozen=True)
class Unreturned:
    """The student's function raised instead of returning: ``why`` names the exception
    and the student's line. TODOs whose state MLflow holds complete still pass."""

    why: str

    def __repr__(self) -> str:
        return _("nothing, because {why}").format(why=self.why)


def run(case: CallingCase, probe: str, **request: Any) -> CallResult:
    """One sandboxed call that sees the case's folder (its store, work folder and data
    samples) and the student's files, nothing else of the kit or the class. A call of
    the student's code that an earlier test of this session made from the same state is
    not made again: its result and what it left are replayed (``grader.judge.shared_calls``).
    ``probe`` ``kit`` runs the kit's trusted seeding: never shared, never the student's."""
    return run_keyed(case, probe, request)[0]


def run_keyed(case: CallingCase, probe: str, request: dict, keep_before: bool = False) -> tuple[CallResult, str]:
    """``run``, and the call's shared key ("" when it has none). ``keep_before``: the case
    folder as it is before the call is kept too (``SharedCalls.keep_before``), for a
    replay of the call (``grader.judge.raises``)."""
    shared = case.shared if probe != "kit" else None
    keys = shared.keys(case.dir, probe, request, case.inputs) if shared else ("", "")
    overflow = shared.overflow(keys[0]) if shared else None
    if overflow is not None:  # the same call left too much for an earlier test
        case.student_ran = True
        left_too_much(case, overflow)
    result = shared.replay(keys[0], case.dir, SEEDED_PARTS) if shared else None
    if result is not None:
        case.sandbox.hand_over(case.dir)
        shared = None  # nothing new to keep
    else:
        if keep_before and shared:
            shared.keep_before(keys[0], case.dir, SEEDED_PARTS)
        limits = case.limits if probe == "kit" else budget.limits_for(case.limits)
        if limits is None:  # the submission's time budget ran out: no call any more
            case.student_ran = True
            case.properties.append(("kata_status", "timeout"))
            case.fail(budget.spent_message())
        env = {"MLFLOW_TRACKING_URI": case.uri, "MLFLOW_REGISTRY_URI": case.uri, "HOME": str(case.workdir)}
        result = case.sandbox.run(
            probe,
            case.workdir,
            env,
            limits,
            writable=[case.dir],
            readable=[case.exercises, case.inputs],
            **request,
        )
        if result.outcome == "timeout" and budget.note(case.limits, limits):
            result.notes = {**(result.notes or {}), BUDGET_NOTE: {"text": budget.note(case.limits, limits)}}
    case.student_ran = case.student_ran or probe != "kit"
    if probe != "kit":
        check_quota(case)  # first: a full folder is neither surveyed nor opened
        overflow = untrusted_tree.survey(case.dir).overflow
        if overflow is not None:
            if shared:
                shared.remember_overflow(keys[0], overflow)
            left_too_much(case, overflow)
    check_store(case)
    if shared and result.outcome != "sandbox":  # a kit failure is not replayed
        shared.keep(keys, case.dir, SEEDED_PARTS, result)
    return result, keys[0]


def check_quota(case: CallingCase) -> None:
    """The student's verdict for a call that filled its case folder's quota
    (``grader.sandbox.quota``): the judge reads nothing of a full folder (MLflow
    itself could fail on it, "database or disk is full")."""
    cap = case.sandbox.quota_mb(case.dir)
    if cap is None or not quota.full(case.dir):
        return
    case.properties.append(("kata_status", "error"))
    case.fail(
        _(
            "the code under test filled its case folder to its quota ({mib} MiB); the "
            "judge reads nothing of it: leave only what the task asks for"
        ).format(mib=cap)
    )


def quota_note(case: CallingCase, error: str) -> str:
    """`` (the case folder's quota of 1024 MiB was reached)`` when ``error`` says the
    disk was full and the case folder has a quota (the call filled it, then emptied
    it), else ``""``."""
    cap = case.sandbox.quota_mb(case.dir)
    if cap is None or not any(sign in error for sign in DISK_FULL):
        return ""
    return " " + _("(the case folder's quota of {mib} MiB was reached)").format(mib=cap)


def left_too_much(case: CallingCase, overflow: Overflow) -> NoReturn:
    """The student's verdict for a call that left its folder past
    ``untrusted_tree.CAPS``: the judge reads no further (see that module)."""
    case.properties.append(("kata_status", "error"))
    if overflow.what == "depth":
        message = _(
            "the code under test left folders nested more than {cap} deep in its "
            "folder ({where}); the judge reads no further: leave only what the task "
            "asks for"
        ).format(cap=overflow.cap, where=overflow.where)
    elif overflow.what == "entries":
        message = _(
            "the code under test left more than {cap} files and folders in its "
            "folder (the judge stopped at {where}); the judge reads no further: leave "
            "only what the task asks for"
        ).format(cap=overflow.cap, where=overflow.where)
    else:
        message = _(
            "the code under test left more than {mib} MiB of files in its folder "
            "(the judge stopped at {where}); the judge reads no further: leave only "
            "what the task asks for"
        ).format(mib=overflow.cap >> 20, where=overflow.where)
    case.fail(message)


def check_store(case: CallingCase) -> None:
    """The judge (maybe root) reads the store next: refuse one that student code
    replaced by a link, a FIFO or a hard link to somewhere else, and drop any link
    SQLite would follow for its journal."""
    store = case.dir / "store"
    database = store / "mlflow.db"
    try:
        tampered = not (
            stat.S_ISDIR(os.lstat(store).st_mode)
            and stat.S_ISREG(os.lstat(database).st_mode)
            and os.lstat(database).st_nlink == 1
        )
        for entry in os.scandir(store):
            if entry.name != "mlruns" and not entry.is_file(follow_symlinks=False):
                tampered = True
                if not entry.is_dir(follow_symlinks=False):
                    os.unlink(entry.path)
    except OSError:
        tampered = True
    if tampered:
        case.properties.append(("kata_status", "error"))
        case.fail(
            _("the MLflow store was replaced or linked elsewhere by the code under test; nothing in it can be trusted")
        )
    from grader.judge.store import store_refusal

    refused = store_refusal(database)
    if refused:
        case.properties.append(("kata_status", "error"))
        case.fail(_("the code under test left an MLflow store the kit will not read: {reason}").format(reason=refused))


def checked(case: CallingCase, result: CallResult, what: str, tolerate_raise: bool = False) -> Any:
    """The returned value (or a ``Described`` one); any failure of the student's code
    fails the test naming the TODO, except, with ``tolerate_raise``, an exception
    raised by the student's function: then an ``Unreturned`` is returned and the
    test goes on judging what MLflow holds. A call whose code chose an MLflow store of
    its own (the note ``own_store``, ``grader.judge.probes.guard_store``) is remembered:
    any TODO the test then fails says so instead (``KataCase.fail``)."""
    own_store = (result.notes or {}).get(OWN_STORE)
    if own_store:
        case.elsewhere = own_store_message(own_store)
    if result.ok:
        if result.described:
            return Described(result.described["type"], result.described["repr"])
        return result.value
    detail = result.error
    if result.kind in ("wrong_result", "import"):  # the kit's own words: no class name
        detail = detail.partition(": ")[2]
    if result.outcome == "sandbox":  # the kit failed, not the student
        raise KitError(_("the sandbox failed: {detail}").format(detail=detail))
    detail = words.render(result.words, _) or detail  # the sandbox's words, translated
    note = quota_note(case, result.error)
    if result.kind == "wrong_result":  # returned, but not the kind of value needed
        case.fail(f"{what} {detail}")
    where = last_student_frame(result.traceback)
    # An MLflow error the catalog knows: what it means for the lab, MLflow's text quoted
    # after it, and the student's line that led to it (mlflow_errors).
    explained = mlflow_errors.explain(result.notes, result.error, _) if result.kind == "raised" else None
    if explained:
        detail = explained.text
        if explained.file and explained.line:
            where = " (" + _("{file}, line {line}").format(file=explained.file, line=explained.line) + ")"
    raised = raised_in(result, case.todo.module)  # which TODO's code raised (grader.judge.raises)
    if result.kind == "raised" and tolerate_raise:
        short = (detail if explained or len(detail) <= 240 else detail[:237] + "...") + note
        if raised is not None and own(case, raised):
            case.raised, case.raised_own = own_message(raised, what, short, bool(explained)), True
            return Unreturned(case.raised)
        case.raised = (_("{call} raised at {where}: {error}") if where else _("{call} raised: {error}")).format(
            call=what, where=where.strip(" ()"), error=short
        )
        return Unreturned(case.raised)
    # Reported per TODO: the student's code errored or timed out instead of being judged.
    case.properties.append(("kata_status", "timeout" if result.outcome == "timeout" else "error"))
    if result.kind == "import":
        case.fail(*import_failure(raised, case.todo, detail))
    if result.outcome == "memory" and f"{case.limits.memory_mb} MiB" not in detail:  # the sandbox's words say it
        detail += " " + _("(the sandbox allows {mib} MiB)").format(mib=case.limits.memory_mb)
    message = f"{what} {verb(result.outcome)}: {detail}{note}{where}"
    if result.kind == "raised" and raised is not None and raised.how:
        if own(case, raised):
            case.fail(own_message(raised, what, detail + note))
        case.fail(message + " — " + _("in your code for TODO {id}").format(id=raised.todo), raised.todo)
    message += (result.notes or {}).get(BUDGET_NOTE, {}).get("text", "")
    if tolerate_raise and result.outcome in ("timeout", "crashed", "memory"):
        message += " — " + unjudgeable(result.outcome)
    case.fail(message)


def own(case: CallingCase, raised: Raised) -> bool:
    """Whether ``raised`` says this case's own TODO's code raised."""
    return bool(raised.how) and raised.todo == case.todo.id


def own_store_message(note: dict[str, str]) -> str:
    """What a TODO failed after a call whose code chose its own MLflow store is told:
    which address, set how and where (``grader.judge.probes.guard_store``'s note)."""
    how = note.get("call", "")
    if note.get("file") and note.get("line"):
        how += ", " + _("{file}, line {line}").format(file=note["file"], line=note["line"])
    if note.get("what") == "registry":
        template = _(
            "your code sets its own model registry address ({how}): remove it — the tests give "
            "each call an MLflow store of its own"
        )
    else:
        template = _(
            "your code sets its own tracking address ({how}): remove it — the tests give each "
            "call an MLflow store of its own"
        )
    return template.format(how=how)


def verb(outcome: str) -> str:
    return {
        "raised": _("raised"),
        "memory": _("ran out of memory"),
        "timeout": _("timed out"),
        "crashed": _("crashed"),
    }.get(outcome, outcome)


def last_student_frame(traceback_text: str) -> str:
    """`` (exercises/x.py, line N)`` for the innermost frame in a student file."""
    for line in reversed(traceback_text.splitlines()):
        line = line.strip()
        if line.startswith('File "') and "/exercises-" in line:
            path, _quote, rest = line[6:].partition('", ')
            number = rest.split(",")[0].removeprefix("line ").strip()
            return " (" + _("{file}, line {line}").format(file=Path(path).name, line=number) + ")"
    return ""


def frame_json(frame: pd.DataFrame) -> dict:
    split = frame.to_dict(orient="split", index=False)  # keeps int columns int
    return {"columns": split["columns"], "data": split["data"]}


def jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value
