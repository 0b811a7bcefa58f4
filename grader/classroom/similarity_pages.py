"""The similarity section's files: ``OUT/similarity.json`` (every pair found by
``grader.classroom.similarity``, with the method's parameters and the notes on files it
had to work around) and one self-contained side-by-side page per pair, its common code
highlighted (Jinja, autoescaped, under the report's CSP)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from grader.classroom.fingerprints import GUARANTEE_CHARS, NOISE_CHARS
from grader.classroom.similarity import (
    DEFAULT_THRESHOLD,
    MIN_OWN_CHARS,
    NEAR_COPY,
    WHOLE,
    Evidence,
    SimilarPair,
    check_threshold,
    class_documents,
    common_limit,
    evidence,
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
        write_atomic(out / href, render_pair(pair, evidence(pair, folders, docs), threshold))
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
            "near_copy": NEAR_COPY,
            "common_above_holders": common_limit(len(folders)),
            "ignored": ["exercises/ (the stubs)", "solutions/ (the reference answers)"],
        },
        "pairs": [
            {
                "first": p.first,
                "second": p.second,
                "score": p.score,
                "basis": p.basis,
                "files": list(p.files),
                "href": p.href,
            }
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
COMMON, KIT, IDIOM = "common", "kit", "idiom"


@dataclass(frozen=True)
class Segment:
    """A run of one side's code: ``kind`` COMMON (the other side has it too: counted),
    KIT (the stub's or the reference's code: never counted), IDIOM (the class's common
    idiom: never counted), or "" (the side's own code the other does not hold, or what
    normalising set aside: comments, blank lines)."""

    text: str
    kind: str = ""

    @property
    def common(self) -> bool:
        return self.kind == COMMON


def segments(
    text: str,
    common: tuple[tuple[int, int], ...],
    kit: tuple[tuple[int, int], ...] = (),
    idiom: tuple[tuple[int, int], ...] = (),
) -> list[Segment]:
    """``text`` cut into runs by the ranges of each kind (``similarity.Side``: they come
    from one mask per kind over the normalised code, so they never overlap; were they
    to, COMMON wins)."""
    kinds = [""] * len(text)
    for kind, spans in ((IDIOM, idiom), (KIT, kit), (COMMON, common)):
        for start, end in spans:
            start, end = max(0, start), min(len(text), end)
            kinds[start:end] = [kind] * max(0, end - start)
    cut: list[Segment] = []
    start = 0
    for index in range(1, len(text) + 1):
        if index == len(text) or kinds[index] != kinds[start]:
            cut.append(Segment(text[start:index], kinds[start]))
            start = index
    return cut or [Segment("", "")]


def line_ranges(text: str, spans: tuple[tuple[int, int], ...]) -> str:
    """The lines of ``text`` the ``spans`` lie on, 1-based and joined: "3, 7–9"."""
    lines = sorted({text.count("\n", 0, start) + 1 for start, _ in spans})
    runs: list[list[int]] = []
    for line in lines:
        if runs and line == runs[-1][1] + 1:
            runs[-1][1] = line
        else:
            runs.append([line, line])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)


def render_pair(pair: SimilarPair, proof: Evidence, threshold: float) -> str:
    """One pair's page: how its score is worked out (every task file's figures, on both
    sides, and the totals), then each task file either holds side by side, the code both
    hold highlighted and the code that never counts (the kit's, the class's idioms)
    marked as such. Student code and ids are autoescaped; the CSP pins our inline CSS
    and allows nothing else (no script at all)."""
    css = asset("similarity_pair.css")
    files = [
        {
            "match": m,
            "first": segments(m.first.text, m.first.common, m.first.kit, m.first.idiom),
            "second": segments(m.second.text, m.second.common, m.second.kit, m.second.idiom),
            "first_lines": line_ranges(m.first.text, m.first.common),
            "second_lines": line_ranges(m.second.text, m.second.common),
        }
        for m in proof.files
    ]
    return (
        environment()
        .get_template("similarity_pair.html.j2")
        .render(
            pair=pair,
            proof=proof,
            files=files,
            threshold=threshold,
            css=css,
            csp=csp(css),
            noise_chars=NOISE_CHARS,
            min_own_chars=MIN_OWN_CHARS,
            near_copy=NEAR_COPY,
            whole=WHOLE,
        )
    )
