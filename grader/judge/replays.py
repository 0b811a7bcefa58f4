"""The replay of a call without the statement that raised, for the other TODOs it judges
(``grader.judge.raises`` says why and what the failures say)."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from grader.core.i18n import _
from grader.judge.calls import SEEDED_PARTS, CallingCase, run_keyed
from grader.judge.probes import OWN_STORE
from grader.judge.raises import Raised, impossible, raised_in, unfinished
from grader.lab.todos import Todo
from grader.sandbox import CallResult

MAX_REPLAYS = 3  # statements (of other TODOs) a replay may leave out
UNFINISHED = ("timeout", "crashed", "memory")  # a call that ended without an exception


class ReplayingCase(CallingCase, Protocol):
    """What ``judged_apart`` needs of its case besides ``CallingCase``."""

    todo: Todo
    replayed: list[Raised]
    replay_note: str

    def forget_store(self) -> None: ...


def judged_apart(case: ReplayingCase, request: dict) -> CallResult:
    """The call of ``request`` (the ``call`` probe) this case's TODO is judged on: the call
    itself, unless it raised in another TODO's code — then its replay without that code
    (not without a ``return``: a replay could not give back what it would have returned, so
    the TODOs are judged on what the call left, as for a raise in no TODO's code)."""
    result, key = run_keyed(case, "call", request, keep_before=True)
    raised = raised_in(result, case.todo.module) if result.kind == "raised" else None
    if raised is None or not raised.how or OWN_STORE in (result.notes or {}):
        return result  # nothing to replay; or the work went to a store of the code's choosing
    original: CallResult = result
    left_out: list[Raised] = []  # this call's (a test may make several)
    while raised is not None and raised.todo != case.todo.id and not raised.returns:
        if len(left_out) >= MAX_REPLAYS or raised.skip in [done.skip for done in left_out]:
            break
        case.forget_store()  # the judge's connections, before the store is replaced
        if case.shared is None or not case.shared.restore_before(key, case.dir, SEEDED_PARTS):
            case.replay_note = impossible(raised, _("the state before the call was not kept"))
            return as_it_was(case, key, original, left_out)
        case.sandbox.hand_over(case.dir)
        replay, _key = run_keyed(case, "call", {**request, "skip": [*[d.skip for d in left_out], raised.skip]})
        if replay.outcome in UNFINISHED:
            case.replay_note = impossible(raised, unfinished(replay.outcome))
            return as_it_was(case, key, original, left_out)
        left_out.append(replace(raised, error=result.error))
        if left_out[-1] not in case.replayed:
            case.replayed.append(left_out[-1])
        result = replay
        raised = raised_in(result, case.todo.module) if result.kind == "raised" else None
    return result


def as_it_was(case: ReplayingCase, key: str, original: CallResult, left_out: list[Raised]) -> CallResult:
    """The call's own result, with the case folder as the call left it (after a replay
    that could not be made or judged on): the TODO is judged on the call as it was."""
    case.replayed[:] = [raised for raised in case.replayed if raised not in left_out]
    if case.shared is not None:
        case.forget_store()
        case.shared.replay(key, case.dir, SEEDED_PARTS)
        case.sandbox.hand_over(case.dir)
    return original
