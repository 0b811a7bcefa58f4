"""Signal deferral: SIGINT, SIGTERM and SIGHUP become one ``Interrupted`` in the main
thread of ``kata grade``, and never in the middle of a cleanup (workers stopped, the
workspace removed), which finishes first; the interruption is raised after it."""

from __future__ import annotations

import contextlib
import signal
import threading


class Interrupted(BaseException):
    """``kata grade`` got SIGINT, SIGTERM or SIGHUP (``signum``); raised in the main
    thread once, never in the middle of a cleanup (see ``interrupts``)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _InterruptState:
    def __init__(self):
        self.installed = False
        self.deferring = 0  # depth of cleanup sections in progress
        self.signum: int | None = None
        self.raised = False

    def handler(self, signum, frame) -> None:
        if self.signum is None:
            self.signum = signum
        if not self.deferring and not self.raised:  # repeats are ignored: cleanup is running
            self.raised = True
            raise Interrupted(signum)


_interrupts = _InterruptState()
INTERRUPT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def interrupts():
    """Turn SIGINT/SIGTERM/SIGHUP into one ``Interrupted`` in the main thread while in
    this block (``kata grade``'s command line uses it); restores the handlers after."""
    global _interrupts
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _interrupts = _InterruptState()
    previous = {number: signal.signal(number, _interrupts.handler) for number in INTERRUPT_SIGNALS}
    _interrupts.installed = True
    try:
        yield
    finally:
        _interrupts.installed = False
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def cleanup_section():
    """A cleanup that a signal must not cut short: an interruption arriving meanwhile
    is raised when it is done (when ``interrupts`` is active)."""
    state = _interrupts
    state.deferring += 1
    try:
        yield
    finally:
        state.deferring -= 1
    if state.installed and not state.deferring and state.signum is not None and not state.raised:
        state.raised = True
        raise Interrupted(state.signum)
