"""The similarity section's files: ``OUT/similarity.json`` (every pair found by
``grader.classroom.similarity``, with the method's parameters and the notes on files it
had to work around) and one self-contained side-by-side page per pair, its common code
highlighted (Jinja, autoescaped, under the report's CSP)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from grader.classroom.fingerprints import GUARANTEE_CHARS, NOISE_CHARS, boilerplate_lines
from grader.classroom.similarity import (
    DEFAULT_THRESHOLD,
    MIN_OWN_CHARS,
    FileMatch,
    SimilarPair,
    check_threshold,
    class_documents,
    common_limit,
    match_files,
)
from grader.classroom.task_files import STUDENT_FILES
from grader.core.files import write_atomic
from grader.reports.pages import asset, csp, environment

JSON_NAME = "similarity.json"
PAGES_DIR = "similarity"


# -- writing ------------------------------------------------------------------------------
def write_similarity(
    pairs: list[SimilarPair], folders: dict[str, Path], out: Path, threshold: float = DEFAULT_THRESHOLD
) -> list[SimilarPair]:
    """Write OUT/similarity.json (all pairs: ids, score, files, threshold) and one
    side-by-side page per pair OUT/similarity/<n>.html (both files' code next to each
    other, matched regions highlighted, self-contained, CSP like the report,
    autoescaped); return the pairs with href set. ``threshold`` is recorded as given (pass
    the one find_similar used)."""
    threshold = check_threshold(threshold)
    out = Path(out)
    pages = out / PAGES_DIR
    pages.mkdir(parents=True, exist_ok=True)
    docs = class_documents(folders)
    written = []
    for number, pair in enumerate(pairs, start=1):
        href = f"{PAGES_DIR}/{number}.html"
        write_atomic(out / href, render_pair(pair, match_files(pair, folders, docs), threshold))
        written.append(replace(pair, href=href))
    for stale in pages.glob("*.html"):  # an earlier run's pages beyond this run's pairs
        if stale.stem.isdigit() and not 1 <= int(stale.stem) <= len(pairs):
            stale.unlink(missing_ok=True)
    document = {
        "threshold": threshold,
        "method": {
            "tool": "copydetect",
            "noise_chars": NOISE_CHARS,
            "guarantee_chars": GUARANTEE_CHARS,
            "min_own_chars": MIN_OWN_CHARS,
            "common_above_holders": common_limit(len(folders)),
            "ignored": ["exercises/ (the stubs)", "solutions/ (the reference answers)"],
        },
        "pairs": [
            {"first": p.first, "second": p.second, "score": p.score, "files": list(p.files), "href": p.href}
            for p in written
        ],
        "notes": [
            {"submission": sid, "file": name, "note": note}
            for name in STUDENT_FILES
            for sid in sorted(docs[name])
            for note in docs[name][sid].notes
        ],
    }
    write_atomic(out / JSON_NAME, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return written


# -- the side-by-side page ---------------------------------------------------------------
@dataclass(frozen=True)
class Segment:
    """A run of one side's code, highlighted when the other side has it too."""

    text: str
    common: bool


def segments(text: str, spans: tuple[tuple[int, int], ...], plain_lines: frozenset[str] = frozenset()) -> list[Segment]:
    """``text`` cut into common and other runs. Fingerprints are found in normalised code,
    and mapping them back to the text stretches them over whatever the normalising set
    aside (a stub's docstring next to a student's line): lines found verbatim in
    ``plain_lines`` (the stub's and the reference's) and blank lines are never shown
    as common."""
    common = [False] * len(text)
    for start, end in spans:
        common[max(0, start) : min(len(text), end)] = [True] * max(0, min(len(text), end) - max(0, start))
    position = 0
    for line in text.splitlines(keepends=True):
        if not line.strip() or line.strip() in plain_lines:
            common[position : position + len(line)] = [False] * len(line)
        position += len(line)
    cut: list[Segment] = []
    start = 0
    for index in range(1, len(text) + 1):
        if index == len(text) or common[index] != common[start]:
            cut.append(Segment(text[start:index], common[start]))
            start = index
    return cut or [Segment("", False)]


def render_pair(pair: SimilarPair, matches: list[FileMatch], threshold: float) -> str:
    """One pair's page: for each task file both hold, the two versions side by side with
    the common code highlighted. Student code and ids are autoescaped; the CSP pins our
    inline CSS and allows nothing else (no script at all)."""
    css = asset("similarity_pair.css")
    files = [
        {
            "match": m,
            "first": segments(m.first_text, m.first_spans, boilerplate_lines(m.file)),
            "second": segments(m.second_text, m.second_spans, boilerplate_lines(m.file)),
        }
        for m in matches
    ]
    return (
        environment()
        .get_template("similarity_pair.html.j2")
        .render(pair=pair, files=files, threshold=threshold, css=css, csp=csp(css), noise_chars=NOISE_CHARS)
    )
