"""A submission's time budget: the seconds every call of its student code may take
together (``--kata-budget``; the Gradescope bundle's ``budget``, so that the worst
submission still gets its feedback inside the platform's own limit). None: no budget,
each call has only its own timeout (``--kata-timeout``).

The budget starts with the pytest session (one submission, its hidden tests included).
Each call of student code then gets ``min(its timeout, what is left)``; once nothing is
left, no call runs: the TODOs still to judge fail saying that the budget ran out, and a
call cut short by it says so too (``note``). The kit's own calls (seeding) are not
counted: they are the kit's, and quick."""

from __future__ import annotations

import dataclasses
import time

from grader.core.i18n import _
from grader.sandbox import SandboxLimits

_budget_s: float | None = None
_deadline: float | None = None


def start(budget_s: float | None) -> None:
    """Start a budget of ``budget_s`` seconds now (None or <= 0: none)."""
    global _budget_s, _deadline
    _budget_s = budget_s if budget_s and budget_s > 0 else None
    _deadline = time.monotonic() + _budget_s if _budget_s is not None else None


def left() -> float | None:
    """Seconds left of the budget (None: no budget)."""
    return None if _deadline is None else max(0.0, _deadline - time.monotonic())


def limits_for(limits: SandboxLimits) -> SandboxLimits | None:
    """``limits`` with the timeout shortened to what is left of the budget; None when
    nothing is left (the call must not run)."""
    remaining = left()
    if remaining is None:
        return limits
    if remaining < 0.5:
        return None
    if remaining >= limits.timeout_s:
        return limits
    return dataclasses.replace(limits, timeout_s=round(remaining, 1))


def spent_message() -> str:
    """Why a call was not run: the budget ran out."""
    return _("the submission's time budget of {seconds} s ran out: not run").format(seconds=f"{_budget_s:g}")


def note(limits: SandboxLimits, used: SandboxLimits) -> str:
    """`` — the submission's time budget … ran out`` for a call whose timeout the budget
    shortened (``used`` vs the call's own ``limits``), else ""."""
    if _budget_s is None or used.timeout_s >= limits.timeout_s:
        return ""
    return " — " + _("the submission's time budget of {seconds} s ran out").format(seconds=f"{_budget_s:g}")
