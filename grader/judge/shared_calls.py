"""One sandboxed call of the student's code, judged by several TODO tests.

Task 3's three TODOs judge what one ``compare_models`` call leaves in MLflow; making
that call three times (each fitting a 100-tree forest and writing its model) is what
made a task's tests slow. So the first test that makes a call keeps a copy of what it
left (the case folder: store, artifacts, work folder) with its result, and a later
test of the same pytest session that would make *the same call from the same state*
gets its own fresh copy and the same result instead. Each test still judges its own
TODO on its own copy: verdicts are exactly those of separate calls.

A call that may be replayed without the statement that raised (``grader.judge.raises``)
also keeps the case folder as it was before it (``keep_before``); the replay starts from
that copy and is a call of its own: its request names the statements left out, so its key
differs, and the tests that need the same replay share it like any other call.

"The same call from the same state" is checked, not assumed: the key hashes the
request (probe, student module and function, arguments, excuses), the case folder's
path (the store holds absolute artifact paths) and every file in the case folder and its
read-only inputs folder before the call (store, seeded work, data samples). Tests that
should share draw the same inputs: the plugin gives tests with the same
``@pytest.mark.inputs(name)`` in one file the same random stream and case folder
(``grader.judge.plugin``).

The results and copies are snapshots (``grader.judge.snapshots``, the store trusted
seeding uses too), kept per session. What a student's call left is untrusted: it is
hashed, copied and removed with ``grader.sandbox.untrusted_tree`` (iterative, capped,
never following a link nor opening a special file); copies keep only directories,
regular files with one link and symlinks (recreated as links, never read), and are taken
after the store passed ``grader.judge.calls.check_store`` and after the sandbox ended
everything the call started. A case folder past ``untrusted_tree.CAPS`` has no key (the
call is made, never shared), and a call that left one is the student's verdict
(``grader.judge.calls.run``); that verdict is remembered like a result
(``remember_overflow``), so the tests sharing the call get it without making it again.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from grader.judge import snapshots
from grader.judge.snapshots import Snapshots
from grader.sandbox import CallResult, untrusted_tree
from grader.sandbox.untrusted_tree import Caps, Overflow

KEEP_MAX_BYTES = untrusted_tree.CAPS.bytes  # a call that left more is never copied
OVERFLOW = ".overflow"  # the snapshot (no parts) of the cap a call ``key`` went past: ``key + OVERFLOW``
BEFORE = ".before"  # the snapshot of the case folder before the call ``key``: ``key + BEFORE``


class SharedCalls:
    """The calls of one pytest session (one student's files): results and snapshots in
    ``folder`` (root-owned, out of the children's reach), removed by ``close``."""

    def __init__(self, folder: Path):
        self.snapshots = Snapshots(folder)
        self.hits = 0

    def keys(self, case_dir: Path, probe: str, request: dict, inputs: Path | None = None) -> tuple[str, str]:
        """The key of this call from the case folder's present state (and that of its
        read-only ``inputs`` folder), and the key the same call would have without
        excuses ("" when it has none): see ``keep``."""
        state, _survey = untrusted_tree.digest(case_dir)
        inputs_state = untrusted_tree.digest(inputs)[0] if inputs is not None else b""
        if state is None or inputs_state is None:  # past the caps: nothing to share, the call is made
            return "", ""
        state += inputs_state
        unexcused = ""
        if request.get("excused"):
            unexcused = snapshots.key(case_dir, [probe, {**request, "excused": []}], state)
        return snapshots.key(case_dir, [probe, request], state), unexcused

    def replay(self, key: str, case_dir: Path, parts: tuple[str, ...]) -> CallResult | None:
        """The result of the call ``key`` with the case folder's ``parts`` restored to
        what it left; None when that call was not made in this session."""
        saved = self.snapshots.restore(key, case_dir, parts)
        if saved is None:
            return None
        self.hits += 1
        return CallResult(**saved.value)

    def overflow(self, key: str) -> Overflow | None:
        """The cap the call ``key`` went past when an earlier test made it, if it did."""
        saved = self.snapshots.peek(key + OVERFLOW) if key else None
        if saved is None:
            return None
        self.hits += 1
        return Overflow(**saved.value)

    def remember_overflow(self, key: str, overflow: Overflow) -> None:
        """The call ``key`` left a tree past the caps: later tests get that verdict."""
        if key:
            self.snapshots.save(key + OVERFLOW, Path(), (), asdict(overflow))  # no parts: the value only

    def keep_before(self, key: str, case_dir: Path, parts: tuple[str, ...]) -> None:
        """Keep the case folder's ``parts`` as they are before the call ``key`` is made: a
        replay of that call without a statement (``grader.judge.raises``) starts from them."""
        if key:
            self.snapshots.save(key + BEFORE, case_dir, parts, None, Caps(bytes=KEEP_MAX_BYTES))

    def restore_before(self, key: str, case_dir: Path, parts: tuple[str, ...]) -> bool:
        """Put back the case folder's ``parts`` as they were before the call ``key``; False,
        and nothing touched, when they were not kept (``keep_before``)."""
        return bool(key) and self.snapshots.restore(key + BEFORE, case_dir, parts) is not None

    def keep(self, keys: tuple[str, str], case_dir: Path, parts: tuple[str, ...], result: CallResult) -> None:
        """Keep ``result`` and a copy of ``parts`` of the case folder for later tests, unless
        the call left more than ``KEEP_MAX_BYTES`` there (no copy doubles a disk filler).

        A call made with excuses that returned and whose excuses swallowed nothing ran
        exactly as it would have without them, so it is kept under the un-excused key too:
        3.3's call of ``compare_models`` replays the one 3.1 made with 3.3's slips excused
        whenever there were none. (The child reports what its excuses swallowed; code that
        lies about it only makes 3.3 judge a store its own ``try``/``except`` could have left.)"""
        key, unexcused = keys
        if not self.snapshots.save(key, case_dir, parts, asdict(result), Caps(bytes=KEEP_MAX_BYTES)):
            return
        if unexcused and result.ok and result.excuses_used == []:
            self.snapshots.alias(key, unexcused)

    def close(self) -> None:
        self.snapshots.close()
