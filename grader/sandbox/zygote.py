"""The sandbox server: preload once what its starter names, fork a call per request.

Protocol (``grader.core.jsonlines``): one request per line on stdin, one reply per line
on the original stdout (see ``client.Sandbox``); the first line says which isolation
mechanisms work here (``confine.Mechanisms``, found by trying them: ``start_zygote``)
and whether student code is refused (the floor). This process never imports student
code. Per call it forks a keeper, which forks the student child (``grader.sandbox.call``).

Run as ``python -m grader.sandbox.zygote [--preload MODULE]``: the sandbox knows no
library and no lab; the module its starter names is imported before any fork (the
judge's: ``grader.judge.preload``, see ``load_preload``).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import signal
import sys
import tempfile
import time

from grader.core import jsonlines
from grader.sandbox import confine, linux, probes, untrusted_tree
from grader.sandbox.call import KEEPER_GRACE_S, describe_exit, keeper, kill, output_tail, read_result, read_status
from grader.sandbox.cgroups import CallGroup
from grader.sandbox.words import english, from_child, said

# Caps the isolation level the zygote may use ("partial", "none"): for trying how the
# kit behaves on a weaker platform (kit tests do), never needed in real use.
MAX_LEVEL_ENV = "KATA_ISOLATION_MAX"
GROUP_PREFIX = "kata-zygote-"  # + pid: groups of dead zygotes are removed at start


def load_preload(name: str | None):
    """Import the module that whoever started this zygote named (``--preload``), let it
    import what every call needs (its ``preload()``), and take the probes it offers
    (``probes.extend``): all before the first fork, so that every call starts warm. The
    sandbox itself knows no library and no lab; None: nothing is preloaded."""
    if not name:
        return None
    module = importlib.import_module(name)
    module.preload()
    probes.extend(module)
    return module


def warm_up(preloaded, parts) -> None:
    """Let the preload module walk through what the coming calls will do (its
    ``warm_up(parts)``), so that a child does not pay for lazy imports again."""
    if preloaded is not None and callable(getattr(preloaded, "warm_up", None)):
        preloaded.warm_up(parts)


NOTE_MAX = 16  # notes of a call (``probes.NOTES``), fields of a note: words, not a payload
NOTE_MAX_CHARS = 1000  # each string of a note


def plain_notes(notes) -> dict[str, dict[str, str]]:
    """What the child noted about its call (``probes.NOTES``), as the judge may read it:
    up to ``NOTE_MAX`` names, each to up to ``NOTE_MAX`` strings, each cut to
    ``NOTE_MAX_CHARS``; anything else is dropped. Untrusted: the student's code could
    write there (it only misleads its own verdicts)."""
    if not isinstance(notes, dict):
        return {}
    plain = {}
    for name, fields in list(notes.items())[:NOTE_MAX]:
        if isinstance(fields, dict) and all(isinstance(v, str) for v in fields.values()):
            cut = list(fields.items())[:NOTE_MAX]
            plain[str(name)[:NOTE_MAX_CHARS]] = {str(k)[:NOTE_MAX_CHARS]: v[:NOTE_MAX_CHARS] for k, v in cut}
    return plain


def failure(outcome: str, words: dict | None, fallback: str = "") -> dict:
    """The reply fields of a call that ended without a result."""
    return {"outcome": outcome, "error": english(words) if words else fallback, "words": words}


class Zygote:
    """The server's state: the mechanisms in use and a private folder for new roots."""

    def __init__(self, mechanisms: confine.Mechanisms, parent: str | None = None):
        self.mechanisms = mechanisms
        # 0700, the zygote's own: never in a call's view. Under ``parent`` (the client's
        # sandbox folder, the zygote's cwd), so it goes with it even after a kill -9.
        self.private = tempfile.mkdtemp(prefix="kata-zygote-", dir=parent)
        self.mountpoint = os.path.join(self.private, "root")
        os.mkdir(self.mountpoint, 0o700)
        self.group = None  # one for all calls: made once (~15 ms), limits set per call
        self.group_limits: tuple[int, int] | None = None
        if mechanisms.cgroups:
            from grader.sandbox.client import SandboxLimits

            self.group_limits = (SandboxLimits.memory_mb << 20, SandboxLimits.processes)
            CallGroup.remove_abandoned(GROUP_PREFIX)
            self.group = CallGroup.create(f"{GROUP_PREFIX}{os.getpid()}-{id(self):x}", *self.group_limits)

    def _limit_group(self, limits: dict) -> None:
        """The call's own memory and process limits, for the call as a whole."""
        wanted = (limits["memory_mb"] << 20, limits.get("processes", 256))
        if self.group is not None and wanted != self.group_limits:
            self.group.limit(*wanted)
            self.group_limits = wanted

    def serve_one(self, request: dict) -> dict:
        started = time.monotonic()
        self._limit_group(request["limits"])
        read_fd, write_fd = os.pipe()
        status_read, status_write = os.pipe()
        with tempfile.TemporaryFile(dir=self.private) as output:  # unnamed: nothing to aim at
            # The preloaded modules are ~10^6 objects: without this, the child's collections
            # walk them all and copy every page they touch (loading a 100-tree forest took
            # 0.36 s in a child instead of 0.13 s). Collected first so that no garbage of the
            # zygote's own is kept for good; after the first call that walks only new objects.
            gc.collect()
            gc.freeze()
            pid = os.fork()
            if pid == 0:
                os.close(read_fd)
                os.close(status_read)
                keeper(request, self.mechanisms, write_fd, status_write, output.fileno(), self.mountpoint, self.group)
            os.close(write_fd)
            os.close(status_write)
            timeout = request["limits"]["timeout_s"]
            data, timed_out = read_result(read_fd, started + timeout)
            os.close(read_fd)
            if timed_out:
                kill(pid, signal.SIGTERM)
            status, out_of_memory = read_status(status_read, timeout + KEEPER_GRACE_S + 5)
            os.close(status_read)
            if status is None:  # the keeper hung: take it down with everything it holds
                kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            reply: dict = {"duration_s": round(time.monotonic() - started, 3), "output": output_tail(output)}
        if timed_out:
            reply.update(failure("timeout", said("timeout", seconds=f"{timeout:g}")))
            return reply
        try:
            result = json.loads(data) if data else None
        except ValueError:
            result = None
        if out_of_memory and not (isinstance(result, dict) and result.get("ok")):
            reply.update(failure("memory", said("memory", mib=request["limits"]["memory_mb"])))
        elif not isinstance(result, dict):
            reply.update(failure("crashed", describe_exit(status), "the process could not be waited for"))
        elif result.get("ok"):
            reply.update(outcome="ok", value=result.get("value"), described=result.get("described"))
            if isinstance(result.get("excuses_used"), list):  # untrusted: see shared_calls
                reply["excuses_used"] = [str(name) for name in result["excuses_used"]]
        else:
            kind = str(result.get("kind", "raised"))
            outcome = kind if kind in ("sandbox", "memory") else "raised"
            reply.update(
                outcome=outcome,
                kind=kind,
                error=str(result.get("error", "")),
                traceback=str(result.get("traceback", "")),
                words=from_child(result.get("words")),
            )
        if isinstance(result, dict) and "notes" in result:
            notes = plain_notes(result["notes"])
            if notes:
                reply["notes"] = notes
        return reply

    def close(self) -> None:
        if self.group is not None:
            self.group.remove()
        untrusted_tree.remove(self.private)


def start_zygote() -> Zygote:
    """A zygote with the strongest confinement that works here, found by trying it on a
    throwaway call and falling back one step at a time. ``$KATA_ISOLATION_MAX`` caps the
    kernel mechanisms tried ("partial": no namespaces, as in a container without
    CAP_SYS_ADMIN; "none": no Landlock either, as where seccomp refuses it); a uid of
    its own is tried wherever the zygote is root, whatever the cap (it needs only
    CAP_SETUID/CAP_SETGID, which such containers keep)."""
    abi = linux.landlock_abi()
    root = linux.IS_LINUX and os.geteuid() == 0
    ceiling = {"none": 0, "partial": 1}.get(os.environ.get(MAX_LEVEL_ENV, "full"), 2)
    abi = abi if ceiling >= 1 else 0
    # Without a new root, the uid must reach the Python installation on the real paths.
    gap = confine.unreadable_for_others(confine.python_readable()) if root else ""
    candidates = []
    if root and ceiling >= 2:
        candidates.append(confine.Mechanisms(namespaces=True, landlock_abi=abi, cgroups=True))
        candidates.append(confine.Mechanisms(namespaces=True, landlock_abi=abi))
    if root and not gap:
        candidates.append(confine.Mechanisms(landlock_abi=abi, own_uid=True))
    if root and not gap and abi:
        candidates.append(confine.Mechanisms(own_uid=True))  # when Landlock fails its test
    uid_gap = gap or (
        "a uid of its own did not work here: is CAP_SETUID/CAP_SETGID "
        "dropped, or the kit's folder closed to other users?"
        if root
        else ""
    )
    candidates += [confine.Mechanisms(landlock_abi=abi, own_uid_gap=uid_gap)] if abi else []
    for mechanisms in candidates:
        zygote = Zygote(mechanisms, parent=os.getcwd())
        if mechanisms.cgroups and zygote.group is None:
            zygote.close()
            continue
        if self_test(zygote):
            return zygote
        zygote.close()
    return Zygote(confine.Mechanisms(own_uid_gap=uid_gap), parent=os.getcwd())


def self_test(zygote: Zygote) -> bool:
    """Whether a throwaway call works under ``zygote``'s mechanisms, in a folder beside
    the real calls' (under the zygote's working folder: a uid of its own must be able to
    reach it along the same path)."""
    folder = tempfile.mkdtemp(prefix="kata-probe-", dir=os.getcwd())
    uid = confine.SANDBOX_UID_BASE + os.getpid()
    try:
        if zygote.mechanisms.own_uid:
            os.chown(folder, uid, uid)
        reply = zygote.serve_one(
            {
                "probe": "self_test",
                "workdir": folder,
                "writable": [folder],
                "readable": [],
                "uid": uid,
                "env": {},
                "limits": {"timeout_s": 30, "memory_mb": 2048, "file_size_mb": 16, "tmp_mb": 16},
            }
        )
    finally:
        untrusted_tree.remove(folder)
    return reply.get("outcome") == "ok" and reply.get("value") == "ok"


def main() -> None:
    parser = argparse.ArgumentParser(description="the sandbox's zygote (started by grader.sandbox.client)")
    parser.add_argument("--preload", metavar="MODULE", help="imported before any call is forked")
    options = parser.parse_args()
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # library chatter must never corrupt the protocol
    if linux.IS_LINUX:  # the judge died: so do we (and our keepers clean up their calls)
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    preloaded = load_preload(options.preload)
    zygote = start_zygote()

    def stop(*_) -> None:  # no interpreter teardown (~1 s of MLflow's modules): just tidy up
        zygote.close()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    isolation = zygote.mechanisms.to_json()
    # The floor (README: How student code is isolated): never student code as root with
    # nothing keeping it off the file system, unless the instructor said so. Enforced
    # here, where every call passes, whoever started this zygote.
    refused = zygote.mechanisms.unconfined(os.geteuid())
    if refused:
        isolation["unconfined"] = refused
        if os.environ.get(confine.ALLOW_UNCONFINED_ENV) == "1":
            isolation["unconfined_allowed"] = True
        else:
            isolation["refused"] = refused
    jsonlines.write(protocol, {"ready": True, "pid": os.getpid(), "isolation": isolation})
    try:
        while True:
            try:
                request = jsonlines.read(sys.stdin)
            except jsonlines.ProtocolError as error:  # the client's bug: it restarts us on this
                jsonlines.write(protocol, {"outcome": "sandbox", "kind": "sandbox", "error": str(error), "id": None})
                continue
            if request is None:
                break
            if "warm_up" in request:
                warm_up(preloaded, request["warm_up"])
                continue
            try:
                if "refused" in isolation:
                    raise RuntimeError(
                        f"refused to run student code: {refused}; to run it anyway: "
                        f"{confine.ALLOW_UNCONFINED_ENV}=1 (kata grade: --allow-unconfined)"
                    )
                reply = zygote.serve_one(request)
            except Exception as error:  # noqa: BLE001 - report, keep serving
                reply = {"outcome": "sandbox", "kind": "sandbox", "error": str(error)}
            reply["id"] = request.get("id")
            jsonlines.write(protocol, reply)
    finally:
        zygote.close()


if __name__ == "__main__":
    main()
