"""Snapshots of a case folder: a key names copies of some of the folder's parts (``store``,
``work``) and a JSON value, taken once and copied back later instead of redoing what
made them. The one store of both uses:

* **trusted seeding** (``KataCase.kit``): the state the kit seeds for a test, kept under
  ``<sandbox root>/seeded`` for every submission the process grades, since the same test
  seeds the same state in the same (stable) case folder each time;
* **untrusted calls** (``grader.judge.shared_calls``): what one call of the student's
  code left and its result, kept for the later tests of the same session that make the
  same call from the same state.

Keys come from ``key``: a hash of the case folder's path (the store holds absolute artifact
paths), the request and, when the caller gives it, the state of the folder before. A
snapshot is published whole or not at all (a draft folder, then ``os.replace``), lives in
a folder only the judge may enter (``0o700``, root's when the judge is root, out of the
children's reach) and is copied both ways with ``grader.sandbox.untrusted_tree``: iterative,
capped, never following a link nor opening a special file (``safe_copy``). A part past its
caps is never kept: ``save`` says so and keeps nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.sandbox import untrusted_tree
from grader.sandbox.untrusted_tree import Caps

VALUE = "value.json"  # a snapshot's JSON value, beside its parts


def key(case_dir: Path, request: object, state: bytes = b"") -> str:
    """The key of what ``request`` makes in ``case_dir`` from ``state`` (the folder's digest
    before it, ``b""`` when what it makes does not depend on it)."""
    digest = hashlib.sha256(json.dumps([str(case_dir), request], sort_keys=True, default=str).encode())
    digest.update(state)
    return digest.hexdigest()[:32]


@dataclass(frozen=True)
class Snapshot:
    """What a snapshot holds besides its parts: the JSON value saved with them."""

    value: Any


class Snapshots:
    """Snapshots kept in ``folder`` (made ``0o700``), removed by ``close``."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def peek(self, key: str) -> Snapshot | None:
        """The snapshot ``key`` without copying its parts back; None when none was saved."""
        saved = self.folder / key / VALUE if key else None
        if saved is None or not saved.is_file():
            return None
        return Snapshot(json.loads(saved.read_text()))

    def restore(self, key: str, case_dir: Path, parts: tuple[str, ...]) -> Snapshot | None:
        """The snapshot ``key``, with ``parts`` of ``case_dir`` replaced by fresh copies of
        its own (a part it lacks is removed); None, and nothing touched, when none was saved."""
        found = self.peek(key)
        if found is None:
            return None
        for part in parts:
            untrusted_tree.remove(case_dir / part)
            if os.path.lexists(self.folder / key / part):
                safe_copy(self.folder / key / part, case_dir / part)
        return found

    def save(
        self, key: str, case_dir: Path, parts: tuple[str, ...], value: Any, caps: Caps = untrusted_tree.CAPS
    ) -> bool:
        """Keep copies of ``parts`` of ``case_dir`` (those that exist) with ``value`` as the
        snapshot ``key``; False, and nothing kept, when a part is past ``caps``. A key
        already saved stays as it is (the same key makes the same snapshot)."""
        if not key:
            return False
        if os.path.lexists(self.folder / key):
            return True
        draft = self.folder / (key + ".draft")
        untrusted_tree.remove(draft)
        draft.mkdir()
        for part in parts:
            if os.path.lexists(case_dir / part):
                if not safe_copy(case_dir / part, draft / part, caps).within_caps:
                    untrusted_tree.remove(draft)
                    return False
        (draft / VALUE).write_text(json.dumps(value))
        os.replace(draft, self.folder / key)
        return True

    def alias(self, key: str, also: str) -> None:
        """Make the snapshot ``key`` the snapshot ``also`` too, unless ``also`` has one."""
        if key and also and not os.path.lexists(self.folder / also):
            os.symlink(key, self.folder / also)

    def close(self) -> None:
        untrusted_tree.remove(self.folder)


def safe_copy(source: Path, target: Path, caps: Caps = untrusted_tree.CAPS) -> untrusted_tree.Survey:
    """Copy a tree the student's code wrote: directories, regular files that have one
    link (a hard link could name a file the student may not read) and symlinks (as
    links); FIFOs, sockets and devices are left out. Nothing is followed; a single file
    is copied as one (``untrusted_tree.copy``); past ``caps`` nothing is left, and the
    ``Survey`` says so."""
    if os.path.isdir(source) and not os.path.islink(source):
        return untrusted_tree.copy(source, target, caps)
    found = untrusted_tree.Survey()
    info = os.lstat(source)
    if os.path.islink(source):
        os.symlink(os.readlink(source), target)
    elif info.st_size > caps.bytes and os.path.isfile(source):
        found.overflow = untrusted_tree.Overflow("bytes", caps.bytes, source.name)
    elif info.st_nlink == 1 and os.path.isfile(source):
        descriptor = os.open(source, untrusted_tree.FILE_FLAGS)
        with open(descriptor, "rb") as reader, open(target, "xb") as writer:
            if os.path.samestat(os.fstat(reader.fileno()), info):
                for chunk in iter(lambda: reader.read(untrusted_tree.COPY_CHUNK), b""):
                    writer.write(chunk)
        os.chmod(target, info.st_mode & 0o755)
    return found
