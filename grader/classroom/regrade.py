"""``kata grade SUBMISSIONS --out OUT --only ID…``: regrade the named students into the
results an earlier run wrote to OUT, everyone else's verdicts kept as they are.

The kept verdicts and the new ones must be one grading, as ``results.json`` says it is:
so ``--only`` grades with OUT's seed (``kit.seed``) and language, and only where the kit
is the one OUT was graded with (``mlflow``, ``python``, ``tests_sha256``); anything else
is refused in one line before anything is written (``regrade_base``), as are an id that
names no submission (with the ids near it) and an OUT without a ``results.json``. An id
of ``SUBMISSIONS`` that OUT does not hold yet (a late submission) is graded and added.
"""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Sequence
from pathlib import Path

from grader.classroom.errors import GradingError
from grader.classroom.options import GradeOptions
from grader.classroom.saved_run import SavedRun
from grader.classroom.submissions import Submission
from grader.results.model import ClassResults, SubmissionResult

RESULTS_FILE = "results.json"
KIT_FACTS = ("mlflow", "python", "tests_sha256")  # what must match for OUT's verdicts to be kept
NEAR = 3  # ids an unknown id's message names


def regrade_base(options: GradeOptions, kit: dict, submissions: Sequence[Submission], saved: SavedRun) -> ClassResults:
    """OUT's results that ``--only`` regrades into, once every check passed: the ids name
    submissions of SUBMISSIONS, OUT holds a results.json of this kit, the seed and
    language are OUT's. Reads only: a refusal leaves OUT as it was."""
    from grader.results.codec import ResultsError, load

    if options.resume:
        raise GradingError(
            "--only and --resume: choose one (--only regrades the students it names, "
            "--resume what is missing or changed)"
        )
    path = options.out / RESULTS_FILE
    if not path.is_file():
        raise GradingError(
            f"--only regrades students into the results of an earlier kata grade, and there is no {path}: "
            "grade the whole class first (without --only)"
        )
    try:
        base = load(path)
    except ResultsError as error:
        raise GradingError(f"--only: {error}") from None
    unknown_ids(options.only, [submission.id for submission in submissions], options.submissions)
    for fact in KIT_FACTS:
        here, there = str(kit[fact]), str(base.kit.get(fact))
        if here != there:
            raise GradingError(
                f"--only: the results in {options.out} were graded with another kit ({fact} {short(there)} "
                f"there, {short(here)} here): grade the whole class again, without --only"
            )
    seed = base.kit.get("seed")
    if not seed:
        raise GradingError(f"--only: {path} records no grading seed: grade the whole class again, without --only")
    if options.seed is not None and options.seed != seed:
        raise GradingError(
            f"--only keeps the seed of the results in {options.out} ({seed}), not --seed {options.seed}: "
            "drop --seed, or grade the whole class again with it"
        )
    lang = saved.saved_lang()
    if lang is not None and lang != options.lang:
        raise GradingError(
            f"--only: the verdicts in {options.out} are in {lang!r}, not --lang {options.lang}: "
            "drop --lang (--only takes OUT's)"
        )
    return base


def unknown_ids(only: Sequence[str], known: Sequence[str], folder: Path) -> None:
    """One line naming the first id of ``only`` that is no submission of ``folder``
    (``known``: its ids), with the ids near it; the others unknown counted."""
    missing = [name for name in dict.fromkeys(only) if name not in set(known)]
    if not missing:
        return
    first = missing[0]
    near = near_ids(first, known)
    said = f"ids near it: {', '.join(near)}" if near else "it holds no submission"
    more = f"; {len(missing) - 1} other id(s) unknown too: {', '.join(missing[1:4])}" if len(missing) > 1 else ""
    raise GradingError(f"--only {first}: no submission with that id in {folder} ({said}){more}")


def near_ids(name: str, known: Sequence[str]) -> list[str]:
    """The ids of ``known`` most like ``name`` (a typo), else its alphabetical neighbours."""
    close = difflib.get_close_matches(name, known, n=NEAR, cutoff=0.6)
    if close:
        return close
    ordered = sorted(known)
    at = bisect.bisect(ordered, name)
    return ordered[max(0, at - 1) : at + NEAR - 1]


def unchanged_since(base: ClassResults, out: Path) -> bool:
    """Whether OUT's results.json still holds ``base`` (read before OUT was locked)."""
    from grader.results.codec import ResultsError, load

    try:
        return load(out / RESULTS_FILE).to_json() == base.to_json()
    except ResultsError:
        return False


def merged(base: ClassResults, regraded: dict[str, SubmissionResult]) -> list[SubmissionResult]:
    """OUT's results with ``regraded`` put in their place (a new id added), by id as
    ``discover`` orders a class."""
    by_id = {result.id: result for result in base.submissions}
    by_id.update(regraded)
    return [by_id[submission_id] for submission_id in sorted(by_id)]


def short(value: str) -> str:
    """A kit fact as a message shows it (a sha256 cut to 12 characters)."""
    return value[:12] + "…" if len(value) == 64 else value
