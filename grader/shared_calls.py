"""One sandboxed call of the student's code, judged by several TODO tests.

Task 3's three TODOs judge what one ``compare_models`` call leaves in MLflow; making
that call three times (each fitting a 100-tree forest and writing its model) is what
made a task's tests slow. So the first test that makes a call keeps a copy of what it
left (the case folder: store, artifacts, work folder) with its result, and a later
test of the same pytest session that would make *the same call from the same state*
gets its own fresh copy and the same result instead. Each test still judges its own
TODO on its own copy: verdicts are exactly those of separate calls.

"The same call from the same state" is checked, not assumed: the key hashes the
request (probe, student module and function, arguments, excuses), the case folder's
path (the store holds absolute artifact paths) and every file in the case folder and its
read-only inputs folder before the call (store, seeded work, data samples). Tests that
should share draw the same inputs: the plugin gives tests with the same
``@pytest.mark.inputs(name)`` in one file the same random stream and case folder
(``grader.pytest_plugin``).

What a student's call left is untrusted: copies are made without following links,
keep only directories, regular files with one link and symlinks (recreated as links,
never read), and are taken after the store passed ``KataCase._check_store`` and after
the sandbox ended everything the call started.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from dataclasses import asdict
from pathlib import Path

from grader.sandbox import CallResult

COPY_CHUNK = 1 << 20
KEEP_MAX_BYTES = 256 << 20  # a call that left more is made again by each test, never copied


class SharedCalls:
    """The calls of one pytest session (one student's files): results and snapshots in
    ``folder`` (root-owned, out of the children's reach), removed by ``close``."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.hits = 0

    def keys(self, case_dir: Path, probe: str, request: dict,
             inputs: Path | None = None) -> tuple[str, str]:
        """The key of this call from the case folder's present state (and that of its
        read-only ``inputs`` folder), and the key the same call would have without
        excuses ("" when it has none): see ``keep``."""
        state = hashlib.sha256()
        entries = [(case_dir, path) for path in sorted(walk(case_dir))]
        if inputs is not None:
            entries += [(inputs, path) for path in sorted(walk(inputs))]
        for folder, path in entries:
            info = os.lstat(path)
            state.update(os.path.relpath(path, folder).encode() + b"\0")
            state.update(f"{stat.S_IFMT(info.st_mode)}:{info.st_size}\0".encode())
            if stat.S_ISREG(info.st_mode):
                descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                with open(descriptor, "rb") as handle:
                    for chunk in iter(lambda: handle.read(COPY_CHUNK), b""):
                        state.update(chunk)
            elif stat.S_ISLNK(info.st_mode):
                state.update(os.readlink(path).encode())

        def key(request: dict) -> str:
            digest = hashlib.sha256(json.dumps([str(case_dir), probe, request], sort_keys=True,
                                               default=str).encode())
            digest.update(state.digest())
            return digest.hexdigest()[:32]

        unexcused = key({**request, "excused": []}) if request.get("excused") else ""
        return key(request), unexcused

    def replay(self, key: str, case_dir: Path, parts: tuple[str, ...]) -> CallResult | None:
        """The result of the call ``key`` with the case folder's ``parts`` restored to
        what it left; None when that call was not made in this session."""
        saved = self.folder / key
        if not (saved / "result.json").is_file():
            return None
        for part in parts:
            shutil.rmtree(case_dir / part, ignore_errors=True)
            if (saved / part).exists():
                safe_copy(saved / part, case_dir / part)
        self.hits += 1
        return CallResult(**json.loads((saved / "result.json").read_text()))

    def keep(self, keys: tuple[str, str], case_dir: Path, parts: tuple[str, ...],
             result: CallResult) -> None:
        """Keep ``result`` and a copy of ``parts`` of the case folder for later tests, unless
        the call left more than ``KEEP_MAX_BYTES`` there (no copy doubles a disk filler).

        A call made with excuses that returned and whose excuses swallowed nothing ran
        exactly as it would have without them, so it is kept under the un-excused key too:
        3.3's call of ``compare_models`` replays the one 3.1 made with 3.3's slips excused
        whenever there were none. (The child reports what its excuses swallowed; code that
        lies about it only makes 3.3 judge a store its own ``try``/``except`` could have left.)"""
        key, unexcused = keys
        left = sum(os.lstat(path).st_size for part in parts if os.path.lexists(case_dir / part)
                   for path in [case_dir / part, *walk(case_dir / part)])
        if left > KEEP_MAX_BYTES:
            return
        draft = self.folder / (key + ".draft")
        shutil.rmtree(draft, ignore_errors=True)
        draft.mkdir()
        for part in parts:
            if os.path.lexists(case_dir / part):
                safe_copy(case_dir / part, draft / part)
        (draft / "result.json").write_text(json.dumps(asdict(result)))
        os.replace(draft, self.folder / key)
        if unexcused and result.ok and result.excuses_used == []:
            alias = self.folder / unexcused
            if not os.path.lexists(alias):
                os.symlink(key, alias)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def walk(folder: Path):
    """Every entry under ``folder`` (links are listed, never followed)."""
    for root, folders, files in os.walk(folder):
        for name in folders + files:
            yield os.path.join(root, name)


def safe_copy(source: Path, target: Path) -> None:
    """Copy a tree the student's code wrote: directories, regular files that have one
    link (a hard link could name a file the student may not read) and symlinks (as
    links); FIFOs, sockets and devices are left out. Nothing is followed."""
    info = os.lstat(source)
    if stat.S_ISDIR(info.st_mode):
        target.mkdir(mode=0o755)
        for entry in os.scandir(source):
            safe_copy(Path(entry.path), target / entry.name)
    elif stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(source), target)
    elif stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
        descriptor = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with open(descriptor, "rb") as reader, open(target, "xb") as writer:
            if stat.S_ISREG(os.fstat(reader.fileno()).st_mode):
                shutil.copyfileobj(reader, writer, COPY_CHUNK)
        os.chmod(target, stat.S_IMODE(info.st_mode) & 0o755)
