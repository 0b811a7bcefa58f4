"""Copy detection: pairs of submissions whose task code is suspiciously alike (their
files, ``similarity.json`` and the side-by-side pages, are ``similarity_pages``').

Each task file is first reduced to its fingerprint (``grader.classroom.fingerprints``:
names, layout and comments normalised, k-grams winnowed, and what the stub and the
reference solution already hold set aside, so that what remains is the student's *own*
code). This module compares the class's fingerprints:

* In a large class, a fingerprint held by more than ``common_limit(class size)``
  submissions (5 %, and never 10 or fewer) is the class's common idiom, not evidence, and
  is ignored too (what MOSS's ``-m`` does). Small classes and copy rings keep theirs.
* A file's directional similarity (A towards B) is the share of A's own characters that
  fingerprints both files hold cover; the file's score is the larger of the two
  directions (one who copied and then added code is still caught), and only counts when
  both files hold at least ``MIN_OWN_CHARS`` own characters: after normalising, a short
  addition (``print(S, V)``) looks the same whoever wrote it. A pair's score is its best
  file's score, since copying one task file is copying; or, for students who add a few
  lines per file, the share of a whole submission's own code the other holds when that is
  at least ``NEAR_COPY`` and ``MIN_OWN_CHARS`` in all (a copy of every file). ``files``
  lists the files at or above the threshold.

Cost: tokenizing (Pygments) is three quarters of the time and linear in the class, about
50 ms per submission; only pairs that share a fingerprint are compared (an inverted index
from fingerprint to submissions), so the quadratic part is bounded by how much own code
students share, not by the class size squared. ``benchmarks/bench_similarity.py``
measures it (40, 300 and 1000 synthetic students: about 1 s, 7-10 s and 47-59 s on 2
cores shared with other work).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np

from grader.classroom.fingerprints import (
    Fingerprint,
    boilerplate_hashes,
    boilerplate_lines,
    covered,
    fingerprint,
    read_task_file,
    text_spans,
)
from grader.classroom.task_files import STUDENT_FILES

MIN_OWN_CHARS = 80  # own code (normalised characters, about 4 lines) a file needs to be evidence
NEAR_COPY = 0.9  # the share of a whole submission's own code that makes thin files evidence together
COMMON_SHARE = 0.05  # a fingerprint more than this share of the class holds is a common idiom ...
COMMON_MIN_HOLDERS = 10  # ... once more than this many submissions hold it
# Measured: the renamed copy scores 0.79-0.99 per file, independent sample students at most
# 0.15 (kit_tests/similarity_samples), the demo class 0.01; synthetic classes
# (benchmarks/bench_similarity.py): copies 1.0, independent students at most 0.34 among 300
# and 0.45 among 1000; when a quarter of the class shares each file and students' own
# additions differ only in their numbers, 0.51 among 300 and 6 of 500,000 pairs at 0.6-0.65
# among 1000.
DEFAULT_THRESHOLD = 0.6


WHOLE = "whole"  # a pair's basis: the share of a whole submission's own code (not one file's)


@dataclass(frozen=True)
class SimilarPair:
    first: str  # submission id (ordered so first < second)
    second: str
    score: float  # 0..1 (``pair_score``): the best file's, or the whole submissions'
    files: tuple[str, ...]  # task file names where the two are alike, e.g. ("task2_tuning.py",)
    href: str | None = None  # relative link (from OUT) to the pair's side-by-side page, once written
    basis: str = ""  # what the score is: a task file's name, or WHOLE


@dataclass(frozen=True)
class FileNote:
    """Something about one submission's task file the comparison had to work around."""

    submission: str
    file: str
    note: str


@dataclass(frozen=True)
class Side:
    """One submission's task file in a pair: its text, how much of its code is its own,
    how much of that the other holds, and where both lie in the text."""

    text: str
    own: int  # own characters (normalised code: no stub, reference or class idiom)
    matched: int  # of those, the ones the other side holds too
    common: tuple[tuple[int, int], ...] = ()  # ranges of text: the ``matched`` characters
    kit: tuple[tuple[int, int], ...] = ()  # ranges of text: code of the stub or the reference
    idiom: tuple[tuple[int, int], ...] = ()  # ranges of text: the class's common idioms
    present: bool = True  # False: the submission has no such file

    @property
    def share(self) -> float:
        return self.matched / self.own if self.own else 0.0


@dataclass(frozen=True)
class FileMatch:
    """One task file of a pair: both sides' figures and ranges (``Side``). Its score is
    the larger side's share; it is evidence alone (``alone``) when both sides hold at
    least ``MIN_OWN_CHARS`` own characters."""

    file: str
    first: Side
    second: Side

    @property
    def score(self) -> float:
        return max(self.first.share, self.second.share)

    @property
    def alone(self) -> bool:
        return min(self.first.own, self.second.own) >= MIN_OWN_CHARS


@dataclass(frozen=True)
class Evidence:
    """What a pair's score stands on: every task file either submission holds, and the
    pair's score worked out from their figures by ``pair_score``, the rule find_similar
    ranks by."""

    files: list[FileMatch]
    score: float
    basis: str  # the task file whose score is the pair's, WHOLE, or "" (no score)

    @property
    def own(self) -> tuple[int, int]:
        return sum(m.first.own for m in self.files), sum(m.second.own for m in self.files)

    @property
    def matched(self) -> tuple[int, int]:
        return sum(m.first.matched for m in self.files), sum(m.second.matched for m in self.files)


@dataclass
class _Doc:
    """One submission's task file: the text shown on pages, its fingerprint, and notes."""

    text: str
    fingerprint: Fingerprint | None
    notes: list[str] = field(default_factory=list)


# -- the class's fingerprints -----------------------------------------------------------
def _documents(folders: dict[str, Path], names: list[str]) -> dict[str, dict[str, _Doc]]:
    """name -> submission id -> its fingerprinted task file (absent files left out)."""
    docs: dict[str, dict[str, _Doc]] = {}
    for name in names:
        boilerplate, plain = boilerplate_hashes(name), boilerplate_lines(name)
        docs[name] = {}
        for sid, folder in folders.items():
            path = Path(folder) / name
            if not path.is_file() or path.is_symlink():
                continue
            try:
                text, notes = read_task_file(path)
            except OSError as error:
                docs[name][sid] = _Doc("", None, [f"could not be read ({error.strerror or error}): skipped"])
                continue
            docs[name][sid] = _Doc(text, fingerprint(text, boilerplate, notes, plain), notes)
    return docs


def file_notes(folders: dict[str, Path]) -> list[FileNote]:
    """What the comparison worked around, per submission and task file (for the report)."""
    docs = class_documents(folders)
    return [
        FileNote(sid, name, note)
        for name in STUDENT_FILES
        for sid in sorted(docs[name])
        for note in docs[name][sid].notes
    ]


def common_limit(class_size: int) -> int:
    """How many submissions may hold a fingerprint before it counts as the class's common
    idiom rather than evidence (MOSS's ``-m``): never below COMMON_MIN_HOLDERS, so small
    classes and copy rings keep theirs."""
    return max(COMMON_MIN_HOLDERS, int(class_size * COMMON_SHARE))


def _drop_common(docs: dict[str, _Doc], class_size: int) -> None:
    """Forget the fingerprints more than ``common_limit`` submissions hold (in place)."""
    from copydetect.utils import get_token_coverage

    holders: dict[int, int] = defaultdict(int)
    for doc in docs.values():
        if doc.fingerprint is not None:
            for value in doc.fingerprint.hashes:
                holders[value] += 1
    limit = common_limit(class_size)
    common = {value for value, count in holders.items() if count > limit}
    if not common:
        return
    for doc in docs.values():
        fp = doc.fingerprint
        if fp is not None and fp.hashes & common:
            dropped = [start for value in fp.hashes & common for start in fp.hash_idx[value]]
            fp.own = fp.own & ~covered(dropped, len(fp.filtered_code))
            fp.hashes = fp.hashes - common
            fp.hash_idx = {value: where for value, where in fp.hash_idx.items() if value not in common}
            fp.token_coverage = get_token_coverage(fp.hash_idx, fp.k, len(fp.filtered_code))


def class_documents(folders: dict[str, Path]) -> dict[str, dict[str, _Doc]]:
    """The class's fingerprints, common idioms dropped. The last class's are kept (one
    class only) while its files are unchanged: tokenizing is the cost that grows with
    the class, and write_similarity needs the very fingerprints find_similar used."""
    global _last_class
    signature = _signature(folders)
    if _last_class is not None and _last_class[0] == signature:
        return _last_class[1]
    docs = _documents(folders, STUDENT_FILES)
    for per_file in docs.values():
        _drop_common(per_file, len(folders))
    _last_class = (signature, docs)
    return docs


_last_class: tuple[tuple, dict[str, dict[str, _Doc]]] | None = None


def _signature(folders: dict[str, Path]) -> tuple:
    """Which task files make up the class, as they are now (identity, size, change time)."""
    items: list[tuple] = []
    for sid in sorted(folders):
        for name in STUDENT_FILES:
            path = Path(folders[sid]) / name
            try:
                info = path.lstat()
            except OSError:
                items.append((sid, name, str(path)))
                continue
            items.append((sid, name, str(path), info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns))
    return tuple(items)


# -- comparing ----------------------------------------------------------------------------
def _own(doc: _Doc) -> int:
    return doc.fingerprint.own_chars if doc.fingerprint is not None else 0


def common_code(a: Fingerprint, b: Fingerprint) -> np.ndarray:
    """Which of ``a``'s normalised characters are own code that ``b`` holds too: own
    characters covered by the k-grams of fingerprints both files have. What a file's score
    counts and what its page highlights are both this mask."""
    shared = a.hashes & b.hashes
    if not shared:
        return np.zeros(len(a.filtered_code), dtype=bool)
    starts = [start for value in shared for start in a.hash_idx[value]]
    return covered(starts, len(a.filtered_code)) & a.own


def matched(a: Fingerprint, b: Fingerprint) -> int:
    """How many of ``a``'s own characters ``b`` holds too (``directional``'s numerator)."""
    return int(common_code(a, b).sum())


def directional(a: Fingerprint, b: Fingerprint) -> float:
    """The share of ``a``'s own code that ``b`` holds too."""
    return matched(a, b) / a.own_chars if a.own_chars else 0.0


def pair_score(files: list[FileMatch]) -> tuple[float, str]:
    """A pair's score and its basis, from its files' figures: the best score of a file
    that is evidence alone (copying one task file is copying); or, when larger and at
    least ``NEAR_COPY``, the share of a whole submission's own code the other holds
    (students who add a few lines per file, too short alone: an exact copy of them all is
    evidence together), provided ``MIN_OWN_CHARS`` of it match on both sides."""
    best, basis = 0.0, ""
    for match in files:
        if match.alone and match.score > best:
            best, basis = match.score, match.file
    own = [sum(m.first.own for m in files), sum(m.second.own for m in files)]
    common = [sum(m.first.matched for m in files), sum(m.second.matched for m in files)]
    if min(common) >= MIN_OWN_CHARS:
        whole = max(common[0] / own[0], common[1] / own[1])
        if whole >= NEAR_COPY and whole > best:
            best, basis = whole, WHOLE
    return best, basis


def _side(doc: _Doc | None, other: _Doc | None, ranges: bool) -> Side:
    """``doc``'s side of a file against ``other`` (either may be absent)."""
    if doc is None:
        return Side("", 0, 0, present=False)
    a = doc.fingerprint
    if a is None:
        return Side(doc.text, 0, 0)
    b = other.fingerprint if other is not None else None
    common = common_code(a, b) if b is not None else np.zeros(len(a.filtered_code), dtype=bool)
    if not ranges:
        return Side(doc.text, a.own_chars, int(common.sum()))
    return Side(
        doc.text,
        a.own_chars,
        int(common.sum()),
        text_spans(a, doc.text, common),
        text_spans(a, doc.text, a.kit),
        text_spans(a, doc.text, ~a.own & ~a.kit),
    )


def _file_match(name: str, a: _Doc | None, b: _Doc | None, ranges: bool = False) -> FileMatch:
    return FileMatch(name, _side(a, b, ranges), _side(b, a, ranges))


def _unshared(name: str, a: _Doc | None, b: _Doc | None) -> FileMatch:
    """A file of a pair sharing no fingerprint of it: nothing matched (what ``_file_match``
    would find, without comparing)."""

    def side(doc: _Doc | None) -> Side:
        return Side("", 0, 0, present=False) if doc is None else Side(doc.text, _own(doc), 0)

    return FileMatch(name, side(a), side(b))


def _candidates(docs: dict[str, _Doc]) -> set[tuple[str, str]]:
    """Pairs of submissions sharing at least one fingerprint of this file (an inverted
    index, so pairs with nothing in common cost nothing)."""
    holders: dict[int, list[str]] = defaultdict(list)
    for sid, doc in docs.items():
        if doc.fingerprint is not None and _own(doc) > 0:
            for value in doc.fingerprint.hashes:
                holders[value].append(sid)
    pairs: set[tuple[str, str]] = set()
    for sids in holders.values():
        if len(sids) > 1:
            pairs.update(combinations(sorted(sids), 2))
    return pairs


def find_similar(folders: dict[str, Path], threshold: float = DEFAULT_THRESHOLD) -> list[SimilarPair]:
    """folders: submission id -> its staged exercises/ folder (the five task files inside).
    Ranked, most similar first, only pairs at or above threshold (pairs sharing no own
    code at all are never listed, whatever the threshold). Each pair's score is
    ``pair_score`` of its files' figures, the very figures its page shows (``evidence``)."""
    check_threshold(threshold)
    docs = class_documents(folders)
    shared: dict[tuple[str, str], set[str]] = defaultdict(set)  # the files a pair shares fingerprints of
    for name in STUDENT_FILES:
        for pair in _candidates(docs[name]):
            shared[pair].add(name)
    pairs = []
    for (first, second), names in shared.items():
        files = [
            _file_match(name, docs[name].get(first), docs[name].get(second))
            if name in names
            else _unshared(name, docs[name].get(first), docs[name].get(second))
            for name in STUDENT_FILES
        ]
        best, basis = pair_score(files)
        if best > 0 and best >= threshold:
            alike = sorted((m for m in files if m.score >= threshold), key=lambda m: (-m.score, m.file))
            pairs.append(SimilarPair(first, second, round(best, 4), tuple(m.file for m in alike), basis=basis))
    return sorted(pairs, key=lambda p: (-p.score, p.first, p.second))


def check_threshold(threshold: float) -> float:
    """``threshold`` itself, or ValueError with the one-line reason."""
    if not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ValueError(f"the similarity threshold is a share between 0 and 1, not {threshold!r}")
    return float(threshold)


def evidence(pair: SimilarPair, folders: dict[str, Path], docs: dict[str, dict[str, _Doc]] | None = None) -> Evidence:
    """Every task file either submission of ``pair`` holds, the files it is alike in
    first, with each side's figures and ranges (what the side-by-side page shows), and
    the pair's score worked out from them. ``folders`` is the whole class (the common
    idioms depend on it)."""
    docs = docs if docs is not None else class_documents(folders)
    files = [
        _file_match(name, docs[name].get(pair.first), docs[name].get(pair.second), ranges=True)
        for name in STUDENT_FILES
        if pair.first in docs[name] or pair.second in docs[name]
    ]
    score, basis = pair_score(files)
    files.sort(key=lambda m: (m.file not in pair.files, -m.score, STUDENT_FILES.index(m.file)))
    return Evidence(files, round(score, 4), basis)
