"""The marks ``kata check`` and ``kata watch`` put beside a TODO or a task, and the one
line under their table that says what each mark on the screen means."""

from __future__ import annotations

from collections.abc import Iterable

from grader.core.i18n import N_, _
from grader.results.model import Status, TodoResult

SYMBOLS = {
    Status.PASS: "[green]✓[/green]",
    Status.FAIL: "[red]✗[/red]",
    Status.ERROR: "[red]![/red]",
    Status.TIMEOUT: "[yellow]⏱[/yellow]",
}
MEANINGS = {
    Status.PASS: N_("passes"),
    Status.FAIL: N_("fails"),
    Status.ERROR: N_("does not run (an error: the message says where)"),
    Status.TIMEOUT: N_("ran out of time"),
}


def mark(status: Status | str) -> str:
    """The mark of ``status`` (rich markup)."""
    return SYMBOLS.get(Status(status), str(status))


def worst(results: Iterable[TodoResult | None]) -> Status:
    """A task's status from its TODOs': an error (or a TODO without a verdict) before a
    timeout, before a fail; pass when every one passes."""
    statuses = {Status.ERROR if result is None else result.status for result in results}
    for status in (Status.ERROR, Status.TIMEOUT, Status.FAIL):
        if status in statuses:
            return status
    return Status.PASS


def legend(statuses: Iterable[Status | str]) -> str:
    """``✓ passes · ✗ fails``: what each mark among ``statuses`` means (rich markup), in
    the order of ``SYMBOLS``; "" when there are none."""
    shown = {Status(status) for status in statuses}
    return "  ·  ".join(f"{SYMBOLS[status]} {_(MEANINGS[status])}" for status in SYMBOLS if status in shown)
