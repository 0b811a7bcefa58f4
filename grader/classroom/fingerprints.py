"""One task file's fingerprint: what copy detection (``grader.classroom.similarity``)
compares. This module is about a single file, whoever else is in the class: how it is read,
normalised, cut into k-grams, hashed and winnowed (copydetect's winnowing, Schleimer,
Wilkerson and Aiken's algorithm, the one MOSS uses), and which of its characters are the
student's own. ``similarity`` builds the class's fingerprints from it, sets the class's
common idioms aside and scores pairs.

* Each file is tokenized as Python by Pygments and *normalised*: every variable,
  attribute and function name becomes one letter, every string literal one letter,
  whitespace and comments vanish. Renaming, reflowing and rewording comments change
  nothing; reordering statements or restructuring the code does.
* The normalised text is cut into k-grams (``NOISE_CHARS`` characters), hashed, and
  winnowed: one fingerprint per window of ``GUARANTEE_CHARS - NOISE_CHARS + 1`` hashes,
  so any common run of ``GUARANTEE_CHARS`` normalised characters is always found.
* Code the file's stub (``exercises/``) **or the reference solution** (``solutions/``)
  holds is boilerplate: a normalised character that any of their k-grams covers, or that
  comes from a line found verbatim in either, is not the student's own, and their
  fingerprints are ignored. The stub because every student
  starts from it. The reference because the TODOs are short and tightly specified and the
  third hint level is "nearly the code": two students who both wrote the expected answer
  did what the lab asked, which says nothing about copying. What remains is a student's
  *own* code: their structure, helpers, extra steps; sharing much of that is the signal.
* Hashes are our own stable 64-bit k-gram hashes, not copydetect's (Python's ``hash()``
  is salted per process): a regrade shows the same scores.

Student code is untrusted: it is only read (at most ``MAX_READ_BYTES`` per file) and
tokenized, never imported or run. Bytes that are not UTF-8 are replaced and the file is
still compared; a file Pygments cannot tokenize is compared as plain text. Both are
recorded as notes (``similarity.file_notes``), never a reason to stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from grader.core.paths import EXERCISES_DIR, SOLUTIONS_DIR

NOISE_CHARS = 25  # k: shorter common runs (of normalised code) are noise (copydetect's default)
GUARANTEE_CHARS = 30  # a common run this long is always found (winnowing keeps ~2/7 of the hashes)
WINDOW = GUARANTEE_CHARS - NOISE_CHARS + 1
MAX_READ_BYTES = 128 * 1024  # per task file; the reference files are about 2 KB


def read_task_file(path: Path) -> tuple[str, list[str]]:
    """A task file's text, at most MAX_READ_BYTES of it, and notes on what was done to it
    (cut, undecodable bytes replaced). Never raises for the file's content."""
    with path.open("rb") as handle:
        data = handle.read(MAX_READ_BYTES + 1)
    notes = []
    if len(data) > MAX_READ_BYTES:
        data = data[:MAX_READ_BYTES]
        notes.append(f"longer than {MAX_READ_BYTES // 1024} KB: compared its first {MAX_READ_BYTES // 1024} KB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        if len(data) - error.start < 4 and len(data) == MAX_READ_BYTES:
            text = data[: error.start].decode("utf-8")  # the cut fell inside a character
        else:
            text = data.decode("utf-8", errors="replace")
            notes.append(f"not UTF-8 (byte {error.start}): compared with undecodable bytes replaced")
    # Pygments reads text this way (no byte-order mark, one kind of line end): the page
    # shows the very text the fingerprints' positions point into.
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\x00", "\ufffd"), notes


@dataclass
class Fingerprint:
    """A task file's winnowed fingerprints, with where each normalised character comes
    from in the file's text (``origins``) and which characters are the student's own.
    Built with copydetect's normalisation, winnowing and coverage, but with a stable
    k-gram hash (copydetect hashes with Python's ``hash()``, which is salted per
    process: the same class scored differently on every run) and exact positions
    (copydetect's offsets drift on names, class names and the lines Pygments strips)."""

    filtered_code: str
    origins: np.ndarray  # (n, 2): the [start, end) of the text each normalised character stands for
    k: int
    hashes: set[int]
    hash_idx: dict[int, list[int]]
    token_coverage: float
    own: np.ndarray  # per normalised character: True when no stub, reference or idiom k-gram covers it
    kit: np.ndarray  # per normalised character: True when the stub or the reference holds it

    @property
    def own_chars(self) -> int:
        return int(self.own.sum())


def covered(starts, length: int, k: int = NOISE_CHARS) -> np.ndarray:
    """Which of ``length`` positions the k-grams starting at ``starts`` cover."""
    steps = np.zeros(length + k + 1, dtype=np.int32)
    starts = np.asarray(starts, dtype=np.int64)
    np.add.at(steps, starts, 1)
    np.add.at(steps, starts + k, -1)
    return np.cumsum(steps)[:length] > 0


def stable_kgram_hashes(text: str, k: int = NOISE_CHARS) -> np.ndarray:
    """One 64-bit hash per k-gram of ``text``, the same in every process: a polynomial
    hash of the code points (arithmetic modulo 2**64) finished with splitmix64, so the
    minima winnowing picks are spread evenly."""
    if len(text) < k:
        return np.array([], dtype=np.int64)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    powers = np.array([pow(_BASE, k - 1 - i, 2**64) for i in range(k)], dtype=np.uint64)
    with np.errstate(over="ignore"):
        value = (sliding_window_view(codes, k) * powers).sum(axis=1, dtype=np.uint64)
        value = value + np.uint64(0x9E3779B97F4A7C15)
        value = (value ^ (value >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        value = (value ^ (value >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        value = value ^ (value >> np.uint64(31))
    return value.view(np.int64)


_BASE = 1_000_003


_SUBSTITUTES = "VFOPS"  # what copydetect writes for a name, function, class, preprocessor line, string


def _normalise(text: str, notes: list[str]) -> tuple[str, np.ndarray]:
    """copydetect's normalised Python (``copydetect.utils.filter_code``: names, strings,
    layout and comments set aside), character for character, and the ``origins`` of each
    of its characters in ``text``; or the text itself when Pygments fails on it."""
    from pygments import lexers, token

    try:
        # filter_code's lexer strips the text's leading and trailing newlines and ends it
        # with one; lexing that text, shifted back by what was stripped, gives its tokens
        # with their positions in ``text``.
        body = text.strip("\n")
        lead = len(text) - len(text.lstrip("\n")) if body else 0
        lexer = lexers.get_lexer_by_name("python", stripnl=False, ensurenl=False)
        tokens = list(lexer.get_tokens_unprocessed(body + "\n"))
    except Exception as error:  # noqa: BLE001 — a tokenizer failure must not stop the class
        notes.append(f"could not be tokenized as Python ({type(error).__name__}): compared as text")
        return text, np.stack([np.arange(len(text)), np.arange(1, len(text) + 1)], axis=1).reshape(-1, 2)
    variables = {token.Name, token.Name.Variable, token.Name.Attribute}
    out: list[str] = []
    origins: list[tuple[int, int]] = []
    for index, kind, value in tokens:
        start, end = lead + index, min(lead + index + len(value), len(text))
        if kind in variables:
            piece = "V"
        elif kind in token.Name.Function:
            piece = "F"
        elif kind in token.Name.Class:
            piece = "O"
        elif kind == token.Comment.Preproc or kind == token.Comment.Hashbang:
            piece = "P"
        elif kind in token.Text or kind in token.Comment:
            continue
        elif kind in token.Literal.String:
            piece = '"' if value in ("'", '"') else "S"
        else:
            out.append(value)
            origins.extend((start + i, start + i + 1) for i in range(len(value)))
            continue
        out.append(piece)
        origins.append((start, end))
    return "".join(out), np.array(origins, dtype=np.int64).reshape(-1, 2)


def fingerprint(
    text: str, boilerplate: np.ndarray, notes: list[str], plain_lines: frozenset[str] = frozenset()
) -> Fingerprint:
    """The fingerprint of a task file's ``text``: the k-grams of the stub and the reference
    (``boilerplate``, their hashes) and the characters on their lines (``plain_lines``) are
    not the student's own; what normalising had to work around is added to ``notes``."""
    from copydetect.utils import get_token_coverage, winnow

    filtered, origins = _normalise(text, notes)
    every = stable_kgram_hashes(filtered)
    index: dict[int, list[int]] = {}
    kit = _on_plain_lines(text, origins, plain_lines)
    if len(every):
        kit |= covered(np.flatnonzero(np.isin(every, boilerplate)), len(filtered))
        selected, where = winnow(every, WINDOW, remove_duplicates=False)
        keep = ~np.isin(selected, boilerplate)
        for value, position in zip(selected[keep].tolist(), where[keep].tolist()):
            index.setdefault(value, []).append(position)
    coverage = float(get_token_coverage(index, NOISE_CHARS, len(filtered)))
    return Fingerprint(filtered, origins, NOISE_CHARS, set(index), index, coverage, ~kit, kit)


def _on_plain_lines(text: str, origins: np.ndarray, plain_lines: frozenset[str]) -> np.ndarray:
    """Which normalised characters come from a line of ``text`` found verbatim in
    ``plain_lines`` (the stub's and the reference's): never the student's own, even where
    the k-grams covering them reach into the student's code (a stub line right after a
    TODO). A character is on the line where the text it stands for starts."""
    on_plain = np.zeros(len(origins), dtype=bool)
    if not text or not len(origins) or not plain_lines:
        return on_plain
    by_char = np.zeros(len(text), dtype=bool)
    position = 0
    for line in text.splitlines(keepends=True):
        if line.strip() in plain_lines:
            by_char[position : position + len(line)] = True
        position += len(line)
    return by_char[np.clip(origins[:, 0], 0, len(text) - 1)]


def text_spans(fp: Fingerprint, text: str, chosen: np.ndarray) -> tuple[tuple[int, int], ...]:
    """The ranges of ``text`` that the ``chosen`` normalised characters stand for: runs of
    them joined across what normalising set aside within a line (the spaces of
    ``a = b``), never across a line end, so a comment or a stub line between two chosen
    lines is not part of a range."""
    spans: list[list[int]] = []
    previous = -2
    for position in np.flatnonzero(chosen[: len(fp.origins)]).tolist():
        start, end = int(fp.origins[position, 0]), int(fp.origins[position, 1])
        if spans and position == previous + 1 and "\n" not in text[spans[-1][1] : start]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
        previous = position
    return tuple((start, end) for start, end in spans)


def boilerplate_hashes(name: str) -> np.ndarray:
    """Every k-gram hash of the stub's and the reference's version of task file ``name``."""
    hashes = [np.array([], dtype=np.int64)]
    for folder in (EXERCISES_DIR, SOLUTIONS_DIR):
        path = folder / name
        if path.is_file():
            hashes.append(stable_kgram_hashes(_normalise(path.read_text(encoding="utf-8"), [])[0]))
    return np.unique(np.concatenate(hashes))


@cache
def boilerplate_lines(name: str) -> frozenset[str]:
    """The stripped lines of the stub's and the reference's version of task file ``name``."""
    lines: set[str] = set()
    for folder in (EXERCISES_DIR, SOLUTIONS_DIR):
        path = folder / name
        if path.is_file():
            lines.update(line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(lines - {""})
