"""A raise costs only the TODO whose code raised (issue 21): which TODO that is, and what
the failures say.

When the student's function raises, the sandboxed child notes which TODO region of their
file holds the raising line (``grader.judge.attribution``; regions: ``grader.judge.regions``).
Then, judging one TODO (``KataCase.call``, ``grader.judge.replays``):

* the TODO whose code raised is judged on the call as it was, and a failure says that its
  code raised, where, and which line of the file it is (``own_message``);
* any other TODO is judged on a **replay** of the call with that statement left out (run
  as if it had not raised, or, for a statement that left a run active for a later
  ``start_run`` to trip over, not run): ``replays.judged_apart``. The replay starts from the case
  folder as it was before the call (``SharedCalls.keep_before``), runs in the sandbox like
  any call (the child rewrites the student's module, ``attribution.rewrite``), and is shared
  by the tests that need it under a key of its own (its request names what it leaves out).
  If the replay raises in another TODO's code, that statement is left out too, up to
  ``replays.MAX_REPLAYS`` statements. A failure judged on a replay says so (``replay_note``).

Where a replay is impossible, a failure says so in one line and why: a file that does not
compile (``import_failure``: every TODO of the file waits for the one holding the error),
a call stopped by the time limit or a process that crashed (``unjudgeable``), a replay that
itself timed out or crashed (``impossible``: judged on the call as it was).

The note is the child's, so untrusted: ``raised_in`` keeps it only when it names a TODO of
the called module, a line number and short strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.core.i18n import _
from grader.judge.attribution import ACTIVE_RUN_CAUSE, RAISED_IN
from grader.judge.regions import SKIP, SWALLOW
from grader.lab.todos import Todo, todo_by_id
from grader.sandbox import CallResult


@dataclass(frozen=True)
class Raised:
    """Which TODO's code raised: line ``line`` (``code``) of ``file`` lies in TODO ``todo``'s
    region. ``how`` a replay leaves it out (``SWALLOW``, ``SKIP``; "" for a file that does not
    import). ``cause`` ``active_run``: the statement started a run that was still active when
    line ``at`` started another, which raised."""

    todo: str
    line: int
    code: str
    file: str
    how: str
    cause: str = ""
    at: int = 0
    returns: bool = False  # the statement is a ``return``: a replay without it gives nothing back
    error: str = ""  # the exception, as the judge read it from the call (for ``replay_note``)

    @property
    def skip(self) -> dict:
        return {"line": self.line, "how": self.how}


def raised_in(result: CallResult, module: str) -> Raised | None:
    """The child's note of which TODO's code raised, when it is well-formed and names a TODO
    of ``module`` (the called student module)."""
    note = (result.notes or {}).get(RAISED_IN)
    if not isinstance(note, dict):
        return None
    todo = todo_by_id().get(note.get("todo", ""))
    line, at = note.get("line", ""), note.get("at", "")
    if todo is None or todo.module != module or not line.isdigit() or not 0 < int(line) < 10**6:
        return None
    how = note.get("how", "")
    if how not in (SKIP, SWALLOW, ""):
        return None
    return Raised(
        todo.id,
        int(line),
        note.get("code", "")[:160],
        Path(note.get("file", "")).name[:80] or f"{module}.py",
        how,
        ACTIVE_RUN_CAUSE if note.get("cause") == ACTIVE_RUN_CAUSE else "",
        int(at) if at.isdigit() and int(at) < 10**6 else 0,
        note.get("returns") == "yes",
    )


def unfinished(outcome: str) -> str:
    return {
        "timeout": _("it was stopped by the time limit"),
        "memory": _("it ran out of memory"),
    }.get(outcome, _("its process crashed"))


def impossible(raised: Raised, why: str) -> str:
    """The line a failure judged on the call as it was ends with, when its replay without
    ``raised``'s statement could not be made."""
    return _(
        "your code for TODO {id} raised at line {line}; this TODO could not be judged on a rerun "
        "without that line: {why}"
    ).format(id=raised.todo, line=raised.line, why=why)


ERROR_CHARS = 160  # of an exception quoted in ``replay_note``


def replay_note(replayed: list[Raised]) -> str:
    """What a failure judged on a replay ends with: which lines of which TODOs it left out,
    and why (the TODO's own test may pass on what MLflow holds: this says it all)."""
    left_out = []
    for raised in replayed:
        if raised.cause == ACTIVE_RUN_CAUSE:
            item = _("line {line} (TODO {id}), which started a run it never ended")
        else:
            item = _("line {line} (TODO {id}), where it raised {error}")
        error = raised.error if len(raised.error) <= ERROR_CHARS else raised.error[: ERROR_CHARS - 3] + "..."
        left_out.append(item.format(line=raised.line, id=raised.todo, error=error))
    return _("judged on a rerun of your code without {lines}").format(lines="; ".join(left_out))


def own_message(raised: Raised, call: str, error: str, explained: bool = False) -> str:
    """The failure of the TODO whose code raised: where, the line's code, and the error
    (``error``: the exception as ``checked`` words it; ``explained``: in the words of
    ``grader.judge.mlflow_errors``, which say themselves what a run left active means)."""
    code = f" (`{raised.code}`)" if raised.code else ""
    if raised.cause == ACTIVE_RUN_CAUSE and explained:
        return _("your code for this TODO, at {file}, line {line}{code}: {error}").format(
            file=raised.file, line=raised.line, code=code, error=error
        )
    if raised.cause == ACTIVE_RUN_CAUSE:  # their line first: the one that raised is often the skeleton's
        if raised.at:
            return _(
                "your code for this TODO, at {file}, line {line}{code}, started a run that was still active "
                "when line {at} started another one: {error}"
            ).format(file=raised.file, line=raised.line, code=code, at=raised.at, error=error)
        return _(
            "your code for this TODO, at {file}, line {line}{code}, started a run that was still active "
            "when {call} started another one: {error}"
        ).format(file=raised.file, line=raised.line, code=code, call=call, error=error)
    return _("your code for this TODO raised at {file}, line {line}{code}: {error}").format(
        file=raised.file, line=raised.line, code=code, error=error
    )


def import_failure(raised: Raised | None, todo: Todo, detail: str) -> tuple[str, str | None]:
    """A file that does not import: the message and the TODO it waits for. The TODO holding
    the error's line is told so; every other TODO of the file waits for it, since none can
    be judged until the file imports."""
    if raised is None:
        return detail, None
    if raised.todo == todo.id:
        return detail + " — " + _("in your code for this TODO"), None
    return detail + " — " + _(
        "in your code for TODO {id}; no other TODO of {file} can be judged until the file imports"
    ).format(id=raised.todo, file=raised.file), raised.todo


def unjudgeable(outcome: str) -> str:
    """Why a call that ended without an exception costs each TODO it was judging."""
    if outcome == "timeout":
        return _("no TODO of this call can be judged apart: a call stopped by the time limit names no line")
    return _("no TODO of this call can be judged apart: a process that ended this way names no line")
