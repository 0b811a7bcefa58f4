"""Failure clusters: the failing verdicts of one TODO grouped by the *shape* of their
message, so an instructor of a big class reads "40 students — TODO 4.3: expected alias
'staging' … but the model has no alias at all" once instead of forty times.

Why masking, not exact matching: the kata's messages quote what each student's own MLflow
store holds, and much of that differs between students who made the same mistake —
numbers (metrics, versions, line numbers), run ids and uuids, quoted names (run names,
registered model names that vary with the grading seed), paths. Those parts are replaced
by placeholders (``pattern``); the words the kit wrote stay, and they say what went wrong.

What comes first: the clusters that cost the class the most points (a cluster's students
times its TODO's points), so the bonus, which counts no points, comes after every graded
TODO however many failed it. A task a student did not start (its file is the stub as
handed out: ``grader.classroom.untouched``) fails every TODO of it with the stub's own
verdicts, the same for every such student: those verdicts are not clustered but counted
per task (``not_started``: "N students did not start task K"), so that untouched stubs do
not fill the list. Which tasks a submission did not start is recorded in ``results.json``
(``SubmissionResult.not_started``), so the exports say "not attempted" for the same
verdicts (``grader.results.model.not_attempted``).

Pure functions over results; the report (``grader/reports/report.py``) lays the clusters out.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from grader.lab.todos import Todo, load_todos
from grader.results.model import FAILING, SubmissionResult, caused_by_kit, not_attempted

# Applied in this order: a uuid or path may contain what a later rule would half-mask.
_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<id>"),
    # 'name' or "name", but not the apostrophes of English text (config's, students')
    (re.compile(r"""(?<![\w'"])(?:'[^'\n]*'|"[^"\n]*")(?![\w'"])"""), "<q>"),
    # /abs/path, C:\dir\file, ./rel/file, dir/sub/file.py (two parts or more). Linear
    # time: a relative path starts only where a run of path characters starts (a start
    # inside ".-.-.-…" rescanned the rest of the run: 52 s for a 60,000-character name).
    (
        re.compile(r"(?:[A-Za-z]:|~|\.{1,2})?(?:[\\/][\w.@+-]+){2,}|(?<![\w.@+/\\-])[\w.@+-]++(?:[\\/][\w.@+-]+)+"),
        "<path>",
    ),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<id>"),
    # run ids, short hashes: hex with at least one digit and one letter, 6+ long
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,}\b", re.I), "<id>"),
    # 42, -1.5, 3.17.2, 1e-05 — not the digits of a word (r2, task1_baseline)
    (re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d+)*\.?|\.\d+)(?:e[-+]?\d+)?(?!\w)", re.I), "<n>"),
)
_SPACE = re.compile(r"\s+")


PATTERN_CHARS = 2000  # of a message, masked: the kit's words come first, a flood after them


def pattern(message: str) -> str:
    """``message`` with its student-specific parts masked and its whitespace collapsed:
    two failures with the same pattern are the same mistake. Only its first
    ``PATTERN_CHARS`` count (messages quote student-made names of any length)."""
    message = message[:PATTERN_CHARS]
    for regex, placeholder in _MASKS:
        message = regex.sub(placeholder, message)
    return _SPACE.sub(" ", message).strip()


@dataclass(frozen=True)
class Cluster:
    """The failing verdicts of one TODO that share a message pattern."""

    todo_id: str
    pattern: str
    example: str  # the cluster's most frequent exact message (the first seen on a tie)
    status: str  # the most frequent status among its verdicts
    students: tuple[str, ...]  # submission ids, in the class's order

    @property
    def count(self) -> int:
        return len(self.students)

    @property
    def kit_error(self) -> bool:
        """The kit's own failure, not the students' (``grader.results.model.caused_by_kit``)."""
        return caused_by_kit(self.example)


@dataclass(frozen=True)
class NotStarted:
    """The graded students who did not start a task: its file is the stub."""

    task: int
    students: tuple[str, ...]  # submission ids, in the class's order

    @property
    def count(self) -> int:
        return len(self.students)


def cluster_failures(
    submissions: Iterable[SubmissionResult],
    todo_ids: Sequence[str],
    untouched: Mapping[str, Collection[int]] | None = None,
    table: Sequence[Todo] | None = None,
) -> list[Cluster]:
    """Every failing (fail/error/timeout) verdict of the graded ``submissions``, grouped
    per TODO by ``pattern``. The graded TODOs' clusters first, by the points they cost
    (students times the TODO's points), then the largest; the bonus's last; ties in
    ``todo_ids`` order, then by pattern, so the same results always give the same list.
    Broken submissions are left out: their one reason is not a TODO's failure. TODOs not
    in ``todo_ids`` are ignored, and so are the verdicts of a task a submission did not
    start (``grader.results.model.not_attempted``; ``not_started`` counts them), unless the
    kit caused them. ``untouched`` (submission id -> task numbers) stands for the
    ``not_started`` of the submissions it names. ``table``: the TODOs' points and tasks (the kit's)."""
    order = {todo_id: index for index, todo_id in enumerate(todo_ids)}
    todos = {todo.id: todo for todo in (load_todos() if table is None else table)}
    groups: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    patterns: dict[str, str] = {}  # a big class repeats messages: mask each text once
    for sub in with_not_started(submissions, untouched):
        if sub.status != "graded":
            continue
        for todo_id, result in sub.todos.items():
            if todo_id not in order or result.status not in FAILING:
                continue
            if todo_id in todos and not_attempted(sub, todos[todo_id]):
                continue
            key = patterns.get(result.message)
            if key is None:
                key = patterns[result.message] = pattern(result.message)
            groups.setdefault((todo_id, key), []).append((sub.id, result.message, result.status))
    clusters = [_cluster(todo_id, key, members) for (todo_id, key), members in groups.items()]

    def points(todo_id: str) -> int:
        todo = todos.get(todo_id)
        return 0 if todo is None or todo.bonus else todo.points

    def bonus(todo_id: str) -> bool:
        return todo_id in todos and todos[todo_id].bonus

    clusters.sort(key=lambda c: (bonus(c.todo_id), -c.count * points(c.todo_id), -c.count, order[c.todo_id], c.pattern))
    return clusters


def with_not_started(
    submissions: Iterable[SubmissionResult], untouched: Mapping[str, Collection[int]] | None
) -> Iterable[SubmissionResult]:
    """The submissions, each one ``untouched`` names with the tasks it gives as its
    ``not_started``; the others as they are (their own ``not_started``)."""
    if not untouched:
        return submissions
    return (
        dataclasses.replace(sub, not_started=tuple(sorted(untouched[sub.id]))) if sub.id in untouched else sub
        for sub in submissions
    )


def not_started(
    submissions: Iterable[SubmissionResult], untouched: Mapping[str, Collection[int]] | None = None
) -> list[NotStarted]:
    """Per task, the graded submissions that did not start it (their ``not_started``, or
    ``untouched``: submission id -> task numbers), in task order."""
    tasks: dict[int, list[str]] = {}
    for sub in with_not_started(submissions, untouched):
        if sub.status == "graded":
            for number in sub.not_started:
                tasks.setdefault(number, []).append(sub.id)
    return [NotStarted(number, tuple(students)) for number, students in sorted(tasks.items())]


def _cluster(todo_id: str, key: str, members: list[tuple[str, str, str]]) -> Cluster:
    messages = Counter(message for _, message, _ in members)
    statuses = Counter(status for _, _, status in members)
    # Counter.most_common keeps first-seen order among equal counts
    return Cluster(
        todo_id,
        key,
        messages.most_common(1)[0][0],
        statuses.most_common(1)[0][0],
        tuple(sub_id for sub_id, _, _ in members),
    )
