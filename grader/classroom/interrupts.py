"""Signal deferral: SIGINT, SIGTERM and SIGHUP become one ``Interrupted`` in the main
thread of ``kata grade``, and never in the middle of a cleanup (workers stopped, the
workspace removed), which finishes first; the interruption is raised after it.

A process whose main thread runs someone else's loop (a Dask worker's) cannot take an
exception there: ``clean_up_first`` makes the same signals run its cleanup at once (the
same cleanup sections, never cut short) and then do what they did before."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable


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
    if not state.deferring and _first.pending is not None and not _first.handling:
        signum, _first.pending = _first.pending, None
        os.kill(os.getpid(), signum)  # its handler (``clean_up_first``'s) runs now, in the main thread
    if state.installed and not state.deferring and state.signum is not None and not state.raised:
        state.raised = True
        raise Interrupted(state.signum)


class _CleanUpFirst:
    def __init__(self):
        self.cleanups: list[Callable[[], None]] = []
        self.previous: dict[int, object] = {}  # what each signal did before
        self.leave: set[int] = set()  # signals another process acts on: nothing after the cleanup
        self.handling = False  # a cleanup of this handler's is running
        self.pending: int | None = None  # a signal that came during another cleanup section

    def handler(self, signum, frame) -> None:
        if self.handling:  # a repeat while cleaning up: ignored (the first one goes on after)
            return
        if _interrupts.deferring:  # someone else's cleanup section: it re-sends the signal at its end
            self.pending = self.pending or signum
            return
        self.handling = True
        try:
            with cleanup_section():
                for cleanup in self.cleanups:
                    with contextlib.suppress(Exception):
                        cleanup()
        finally:
            self.handling = False
        self.pending = None
        if signum in self.leave:
            return
        previous = self.previous.get(signum, signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)
        else:  # the default action (death, for these three): as if we had never been here
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)


_first = _CleanUpFirst()


def clean_up_first(cleanup: Callable[[], None], leave: tuple[int, ...] = ()) -> bool:
    """For a process whose main thread runs another's loop (a Dask worker): SIGINT, SIGTERM
    and SIGHUP run ``cleanup`` at once, in a cleanup section, then do what they did before
    (the loop's own handler, else the default action); those in ``leave`` nothing more
    (another process acts on them: a Dask worker's nanny gets a terminal's Ctrl-C too, and
    stops its worker in order). A signal ignored (``SIG_IGN``: ``local:N``'s workers leave
    SIGINT to ``kata grade``) stays ignored. A signal arriving during another cleanup section
    is handled at its end. From the main thread only (returns whether it could be
    installed); installing again adds ``cleanup`` once."""
    if threading.current_thread() is not threading.main_thread():
        return False
    if cleanup not in _first.cleanups:
        _first.cleanups.append(cleanup)
    _first.leave = set(leave)
    for number in INTERRUPT_SIGNALS:
        current = signal.getsignal(number)
        if current is signal.SIG_IGN or current == _first.handler:
            continue
        _first.previous[number] = current
        signal.signal(number, _first.handler)
    return True
