"""The judge's handle on the sandbox: start the zygote, send calls, read JSON replies."""

from __future__ import annotations

import atexit
import itertools
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from grader.core import jsonlines
from grader.core.defaults import CALL_TIMEOUT_S
from grader.core.paths import KIT_ROOT
from grader.core.quiet import QUIET_ENV
from grader.sandbox import quota, untrusted_tree
from grader.sandbox.confine import ALLOW_UNCONFINED_ENV, SANDBOX_UID_BASE
from grader.sandbox.words import english, said

STARTUP_TIMEOUT_S = 120
REPLY_MARGIN_S = 30
ZYGOTE_STOP_S = 3
# The zygote's environment is built from these only: the judge's secrets, tokens and
# MLflow settings never reach the process every student child is forked from.
ZYGOTE_ENV = ("HOME", "TZ", "TMPDIR", "XDG_CACHE_HOME", "KATA_ISOLATION_MAX", ALLOW_UNCONFINED_ENV)
# Its PATH is fixed too (each call's is, confine.call_environment): a user's pytest from a
# terminal with another PATH reuses the warm judge instead of starting a second one.
ZYGOTE_PATH = os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"])
# Its locale is fixed, as each call's is (confine.call_environment): student code runs the
# same whatever the user's locale, and a user's pytest under another LANG reuses the warm
# judge (grader.judge.warm) instead of starting a second one (~0.5 GB). Messages take their
# language from each request (--kata-lang), not from the locale of the process.
ZYGOTE_LOCALE = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


@dataclass(frozen=True)
class SandboxLimits:
    """Per-call limits; the one place their defaults live (the timeout's is the kit's,
    ``grader.core.defaults``, which the CLI and the Gradescope bundle share)."""

    timeout_s: float = CALL_TIMEOUT_S
    memory_mb: int = 2048
    file_size_mb: int = 256
    tmp_mb: int = 256  # the private /tmp and /dev/shm, each
    processes: int = 256


@dataclass
class CallResult:
    """What one sandboxed call produced. ``outcome`` is one of ok, raised, memory,
    timeout, crashed (the student's doing), or sandbox (the kit's own failure).
    ``kind`` says what raised: ``raised`` (the student's code), ``import`` (the student
    module could not be imported), ``wrong_result`` (the kit's check of a returned
    value), ``memory``, ``sandbox``. ``described`` replaces ``value`` when the returned
    value has no JSON form: ``{"type": …, "repr": …}``."""

    outcome: str
    value: object = None
    described: dict | None = None
    kind: str = ""
    error: str = ""
    traceback: str = ""
    output: str = ""
    duration_s: float = 0.0
    words: dict | None = None  # ``error`` as a message id and parameters (sandbox.words)
    # For a call made with excuses that returned: those that swallowed an exception
    # (None: no excuses, or the call did not return).
    excuses_used: list[str] | None = None
    # What kit code in the child noted about the call, whatever its outcome (a guard of the
    # preload module's: ``probes.NOTES``), checked by the zygote to be names and strings.
    notes: dict[str, dict[str, str]] | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class SandboxError(RuntimeError):
    """The sandbox itself (not student code) failed."""


class Sandbox:
    """One zygote process plus a private folder tree for the calls' working dirs.

    Started eagerly so that its ~2-s preload overlaps with the judge's own imports.
    ``preload`` names the module its zygote imports before forking any call (what the
    calls need, the probes they may ask for: see ``zygote.load_preload``); the sandbox
    itself knows no library and no lab. None: a bare sandbox (``probes.PROBES`` only).
    """

    def __init__(self, limits: SandboxLimits = SandboxLimits(), preload: str | None = None):
        self.limits = limits
        self.preload = preload
        self.isolation: dict = {}  # confine.Mechanisms.to_json(), known once ready
        self.root = Path(tempfile.mkdtemp(prefix="kata-sandbox-"))
        self.root.chmod(0o711)  # children may traverse, not list
        self._counter = itertools.count(1)
        self._mounts: set[Path] = set()  # case folders with a quota (tmpfs mounts), see fixed_dir
        self._lock = threading.RLock()
        self._process: subprocess.Popen[str]  # the zygote, from _start on
        self._start()

    # -- lifecycle -----------------------------------------------------------------
    def _start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k in ZYGOTE_ENV}
        env.update(ZYGOTE_LOCALE)
        env["PATH"] = ZYGOTE_PATH
        env.update(QUIET_ENV)
        # Each thread may reserve a 64-MiB malloc arena, and RLIMIT_AS counts reservations:
        # a child that loads a model near its memory cap then fails to start MLflow's
        # download threads ("can't start new thread"). Two arenas keep reservations small.
        env["MALLOC_ARENA_MAX"] = "2"
        kit_root = str(KIT_ROOT)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [kit_root, env.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "grader.sandbox.zygote"]
        if self.preload:
            command += ["--preload", self.preload]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=self.root,
            env=env,
            text=True,
            bufsize=1,
        )
        self._ready = False

    def _ensure_ready(self) -> None:
        if self._ready:
            return
        hello = parse_reply(self._read_line(STARTUP_TIMEOUT_S)) or {}
        if not hello.get("ready"):
            raise SandboxError("the sandbox server did not start (is mlflow installed?)")
        self.isolation = hello["isolation"]
        self._ready = True

    @property
    def uid(self) -> int | None:
        """The uid of this sandbox's calls (one per sandbox, so per grading worker),
        or None when they run as the judge's own user."""
        with self._lock:
            self._ensure_ready()
        return SANDBOX_UID_BASE + os.getpid() if self.isolation.get("own_uid") else None

    def wait_ready(self) -> dict:
        """Block until the zygote is up; return what isolation it could set up."""
        with self._lock:
            self._ensure_ready()
        return self.isolation

    def close(self) -> None:
        if self._process and self._process.poll() is None:
            self._stop_zygote()
        for path in list(self._mounts):
            self.release_dir(path)
        untrusted_tree.remove(self.root)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    # -- folders -------------------------------------------------------------------
    def new_dir(self, prefix: str) -> Path:
        """A fresh folder under the sandbox root, writable by the children."""
        path = self.root / f"{prefix}-{next(self._counter)}"
        path.mkdir()
        self.hand_over(path)
        return path

    def fixed_dir(self, name: str, quota_mb: int | None = None) -> Path:
        """A fresh folder with a stable path: the same ``name`` always gets the same
        path (emptied first), so state seeded there can be snapshotted and reused.
        What an earlier call left there is removed as an outsider would
        (``untrusted_tree.remove``); what cannot be removed is moved aside.

        ``quota_mb``: the folder is a tmpfs of that size of its own where this process
        may mount one (``quota.active()``: a kata worker as root), else a plain folder;
        ``release_dir`` when done."""
        path = self.root / name
        self.release_dir(path)
        if not untrusted_tree.remove(path):
            os.rename(path, self.root / f"{untrusted_tree.HOISTED}{name}-{next(self._counter)}")
        path.mkdir()
        if quota_mb and quota.mount(path, quota_mb):
            self._mounts.add(path)
        self.hand_over(path)
        return path

    def quota_mb(self, path: Path) -> int | None:
        """The size of ``path``'s own tmpfs (see ``fixed_dir``), None for a plain folder."""
        if path not in self._mounts:
            return None
        try:
            info = os.statvfs(path)
        except OSError:
            return None
        return info.f_blocks * info.f_frsize >> 20

    def release_dir(self, path: Path) -> None:
        """Remove a folder made by ``fixed_dir``: a tmpfs is detached (at once, whatever
        a call left in it), a plain folder removed as an outsider would. Never raises."""
        if path in self._mounts:
            quota.unmount(path)
            self._mounts.discard(path)
        untrusted_tree.remove(path)

    def inputs_dir(self, name: str) -> Path:
        """A fresh folder with a stable path, like ``fixed_dir``, that stays the judge's:
        calls that get it as ``readable`` can read what the judge writes there and change
        nothing (it is never handed over; bound read-only in a new root; read-only under
        Landlock)."""
        path = self.root / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(mode=0o755)
        path.chmod(0o755)
        return path

    def hand_over(self, path: Path) -> None:
        """Give ``path`` and what it holds to the children's uid, so they may write in it:
        ``lchown`` (never following a link) over an iterative walk, up to
        ``untrusted_tree.CAPS`` (a tree past them is the student's verdict, see
        the judge's ``grader.judge.calls.run``)."""
        uid = self.uid
        if uid is None:
            return
        untrusted_tree.hand_over(path, uid)

    def stage_exercises(self, source: Path) -> Path:
        """A read-only copy of the student's ``*.py`` files: children can import them
        but never modify the original folder (nor write ``__pycache__`` into it)."""
        target = self.root / f"exercises-{next(self._counter)}"
        target.mkdir()
        if source.is_dir():
            for path in source.glob("*.py"):
                if path.is_file() and not path.is_symlink():
                    shutil.copyfile(path, target / path.name)
                    (target / path.name).chmod(0o644)
        target.chmod(0o755)
        return target

    def warm_up(self, parts) -> None:
        """Ask the zygote's preload module to walk through what these calls will need
        (see ``zygote.warm_up``)."""
        with self._lock:
            stdin = self._process.stdin
            assert stdin is not None  # a pipe: see _start
            jsonlines.write(stdin, {"warm_up": sorted(parts)})

    # -- calls ---------------------------------------------------------------------
    def run(
        self,
        probe: str,
        workdir: Path,
        env: dict[str, str] | None = None,
        limits: SandboxLimits | None = None,
        *,
        writable=(),
        readable=(),
        **request,
    ) -> CallResult:
        """Run ``probe`` (see ``probes.PROBES``) in a fresh child; never raises for
        anything the student code does. The child sees only ``readable`` (read-only),
        ``writable`` (default: ``workdir``), Python and the kit's ``labkit/``."""
        limits = limits or self.limits
        request.update(
            probe=probe,
            workdir=str(workdir),
            env=env or {},
            uid=self.uid,
            writable=[str(path) for path in (writable or [workdir])],
            readable=[str(path) for path in readable],
            limits={
                "timeout_s": limits.timeout_s,
                "memory_mb": limits.memory_mb,
                "file_size_mb": limits.file_size_mb,
                "tmp_mb": limits.tmp_mb,
                "processes": limits.processes,
            },
        )
        with self._lock:
            self._ensure_ready()
            request["id"] = next(self._counter)
            stdin = self._process.stdin
            assert stdin is not None  # a pipe: see _start
            try:
                jsonlines.write(stdin, request)
            except (BrokenPipeError, ValueError):
                self._restart()
                return CallResult("crashed", error=english(said("server_stopped")), words=said("server_stopped"))
            line = self._read_line(limits.timeout_s + REPLY_MARGIN_S)
            reply = parse_reply(line)
            if reply is None or reply.get("id") != request["id"]:
                self._restart()  # a reply for another call: never trust this zygote again
                return CallResult(
                    "sandbox", kind="sandbox", error="the sandbox server did not answer this call; restarted it"
                )
        return CallResult(
            outcome=reply.get("outcome", "crashed"),
            value=reply.get("value"),
            described=reply.get("described"),
            kind=reply.get("kind", ""),
            error=reply.get("error", ""),
            traceback=reply.get("traceback", ""),
            output=reply.get("output", ""),
            duration_s=reply.get("duration_s", 0.0),
            words=reply.get("words"),
            excuses_used=reply.get("excuses_used"),
            notes=reply.get("notes"),
        )

    def _read_line(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        stdout = self._process.stdout
        assert stdout is not None  # a pipe: see _start
        while time.monotonic() < deadline:
            ready, _, _ = select.select([stdout], [], [], 0.5)
            if ready:
                return stdout.readline(jsonlines.MAX_LINE_BYTES + 1)
            if self._process.poll() is not None:
                return ""
        return ""

    def _restart(self) -> None:
        self._stop_zygote()
        self._start()

    def _stop_zygote(self) -> None:
        """SIGTERM first, so the zygote removes its cgroup and private folder; then kill."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=ZYGOTE_STOP_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process.wait()


def parse_reply(line: str) -> dict | None:
    """One line of the zygote's as its message; None for anything else (no line, or not
    one JSON object: the caller restarts a zygote that says such things)."""
    try:
        return jsonlines.decode(line) if line else None
    except jsonlines.ProtocolError:
        return None


_shared: dict[str | None, Sandbox] = {}


def shared_sandbox(preload: str | None = None) -> Sandbox:
    """The process's one sandbox for ``preload`` (see ``Sandbox``): every pytest session
    run in this process (the student's, ``kata validate``'s, the grader's) reuses its
    warm zygote. The judge asks for its own through ``grader.judge.preload``."""
    if preload not in _shared:
        _shared[preload] = Sandbox(preload=preload)
        atexit.register(_shared[preload].close)
    return _shared[preload]
