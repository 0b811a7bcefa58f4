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

from grader.classroom.fingerprints import (
    Fingerprint,
    boilerplate_hashes,
    boilerplate_lines,
    covered,
    fingerprint,
    read_task_file,
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


@dataclass(frozen=True)
class SimilarPair:
    first: str  # submission id (ordered so first < second)
    second: str
    score: float  # 0..1, the larger directional similarity of the most alike task file
    files: tuple[str, ...]  # task file names where the two are alike, e.g. ("task2_tuning.py",)
    href: str | None = None  # relative link (from OUT) to the pair's side-by-side page, once written


@dataclass(frozen=True)
class FileNote:
    """Something about one submission's task file the comparison had to work around."""

    submission: str
    file: str
    note: str


@dataclass(frozen=True)
class FileMatch:
    """One task file of a pair: its score, and where the common code lies in each side's text."""

    file: str
    score: float
    first_text: str
    second_text: str
    first_spans: tuple[tuple[int, int], ...]  # character ranges of first_text found in second_text
    second_spans: tuple[tuple[int, int], ...]


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


def directional(a: Fingerprint, b: Fingerprint) -> float:
    """The share of ``a``'s own code that ``b`` holds too: own characters covered by the
    k-grams of fingerprints both files have, over all of ``a``'s own characters."""
    return matched(a, b) / a.own_chars if a.own_chars else 0.0


def matched(a: Fingerprint, b: Fingerprint) -> int:
    """How many of ``a``'s own characters ``b`` holds too (``directional``'s numerator)."""
    shared = a.hashes & b.hashes
    if not shared:
        return 0
    starts = [start for value in shared for start in a.hash_idx[value]]
    return int((covered(starts, len(a.filtered_code)) & a.own).sum())


def _compare(a: _Doc, b: _Doc, spans: bool = False) -> tuple[float, tuple, tuple]:
    """The file's score (0 without ``MIN_OWN_CHARS`` of own code on both sides) and, when
    asked, the common spans of each side's text (copydetect's mapping back from the
    normalised code)."""
    if a.fingerprint is None or b.fingerprint is None or min(_own(a), _own(b)) < MIN_OWN_CHARS:
        return 0.0, (), ()
    score = max(directional(a.fingerprint, b.fingerprint), directional(b.fingerprint, a.fingerprint))
    if not spans or score == 0:
        return score, (), ()
    from copydetect.detector import compare_files

    _, _, (slices_a, slices_b) = compare_files(a.fingerprint, b.fingerprint)
    return score, _spans(slices_a), _spans(slices_b)


def _spans(slices) -> tuple[tuple[int, int], ...]:
    if len(slices) == 0 or len(slices[0]) == 0:
        return ()
    return tuple((int(start), int(end)) for start, end in zip(slices[0], slices[1]))


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
    code at all are never listed, whatever the threshold)."""
    check_threshold(threshold)
    docs = class_documents(folders)
    scores: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    shares: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)  # without the minimum
    common: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])  # own chars matched
    for name in STUDENT_FILES:
        for first, second in _candidates(docs[name]):
            a, b = docs[name][first].fingerprint, docs[name][second].fingerprint
            if a is None or b is None:
                continue  # never: _candidates pairs only files with a fingerprint
            both = (matched(a, b), matched(b, a))
            common[(first, second)][0] += both[0]
            common[(first, second)][1] += both[1]
            shares[(first, second)][name] = max(both[0] / a.own_chars, both[1] / b.own_chars)
            score, _, _ = _compare(docs[name][first], docs[name][second])
            if score > 0:
                scores[(first, second)][name] = score
    totals = {sid: sum(_own(docs[name][sid]) for name in STUDENT_FILES if sid in docs[name]) for sid in folders}
    pairs = []
    for (first, second), per_file in shares.items():
        best = max(scores[(first, second)].values(), default=0.0)
        # Own code spread thin over several files (a few lines each, too short to be
        # evidence alone) is evidence together when nearly all of it is the other's too.
        together = common[(first, second)]
        if min(together) >= MIN_OWN_CHARS:
            whole = max(together[0] / totals[first], together[1] / totals[second])
            best = max(best, whole if whole >= NEAR_COPY else 0.0)
        if best > 0 and best >= threshold:
            alike = sorted((n for n, s in per_file.items() if s >= threshold), key=lambda n: (-per_file[n], n))
            pairs.append(SimilarPair(first, second, round(best, 4), tuple(alike)))
    return sorted(pairs, key=lambda p: (-p.score, p.first, p.second))


def check_threshold(threshold: float) -> float:
    """``threshold`` itself, or ValueError with the one-line reason."""
    if not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ValueError(f"the similarity threshold is a share between 0 and 1, not {threshold!r}")
    return float(threshold)


def match_files(
    pair: SimilarPair, folders: dict[str, Path], docs: dict[str, dict[str, _Doc]] | None = None
) -> list[FileMatch]:
    """Every task file both submissions of ``pair`` hold, best match first, with the
    common spans of each side (what the side-by-side page highlights). ``folders`` is
    the whole class (the common idioms depend on it)."""
    docs = docs if docs is not None else class_documents(folders)
    matches = []
    for name in STUDENT_FILES:
        a, b = docs[name].get(pair.first), docs[name].get(pair.second)
        if a is None or b is None:
            continue
        score, spans_a, spans_b = _compare(a, b, spans=True)
        matches.append(FileMatch(name, score, a.text, b.text, spans_a, spans_b))
    return sorted(matches, key=lambda m: (m.file not in pair.files, -m.score, m.file))
