"""JUnit XML of a ``results.json``, for CI dashboards and any tool that reads test reports.

* ``kata export junit`` (``junit_xml``): the class, for the instructor: one ``<testsuite>``
  per submission, one ``<testcase>`` per TODO, in English.
* ``kata feedback`` (``student_junit_xml``): one file per student, beside their page, in
  the page's language: their own suite only, no grading seed (students must not know it),
  built from the same view as the page (``grader.reports.feedback.feedback_view``).

Both give every TODO the verdict ``results.json`` gives it. A failing verdict of a task the
student did not start (its file was the stub as handed out: ``grader.results.model.
not_attempted``) is a ``<failure type="not attempted">`` saying so, not the stub's own
message, and is counted apart in the suite's summary line."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from grader.core import i18n
from grader.lab.todos import TASK_MODULES, Todo, todo_by_id
from grader.reports.feedback import feedback_view
from grader.reports.feedback import summary as student_summary
from grader.results.model import ClassResults, Status, SubmissionResult, not_attempted, score

XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
NOT_ATTEMPTED = "not attempted"  # the ``type`` of a failure that is the stub's own
BROKEN = "broken submission"  # the ``type`` of each TODO's error in a broken submission's suite


def _xml_text(text: str) -> str:
    return XML_INVALID.sub("\ufffd", text)


@dataclass(frozen=True)
class Case:
    """One ``<testcase>``: ``outcome`` is ``pass``, ``failure``, ``error`` or ``skipped``;
    ``kind`` its element's ``type``."""

    name: str
    outcome: str
    message: str = ""
    kind: str = ""
    time: float | None = None


def class_cases(results: ClassResults, sub: SubmissionResult) -> list[Case]:
    """``sub``'s TODOs as the class file shows them (the TODO table's English titles)."""
    cases = []
    for todo in results.todos:
        name = f"{todo.id} {todo.title}"
        if sub.status == "error":
            cases.append(Case(name, "error", sub.message, BROKEN))
            continue
        result = sub.todos.get(todo.id)
        if result is None:
            cases.append(Case(name, "skipped", "no result recorded for this TODO"))
        elif not_attempted(sub, todo):
            message = f"not attempted: {task_file(todo)} is the stub as handed out"
            cases.append(Case(name, "failure", message, NOT_ATTEMPTED, result.duration_s))
        else:
            cases.append(_verdict(name, result.status, result.message, result.duration_s))
    return cases


def task_file(todo: Todo) -> str:
    """The name of ``todo``'s task file (``task4_registry.py``), as far as this kit knows it."""
    module = TASK_MODULES.get(todo.task)
    return f"{module}.py" if module else f"task {todo.task}'s file"


def _verdict(name: str, status: str, message: str, time: float | None) -> Case:
    if status == Status.FAIL:
        return Case(name, "failure", message, "fail", time)
    if status in (Status.ERROR, Status.TIMEOUT):
        return Case(name, "error", message, str(status), time)
    return Case(name, "pass", time=time)


def summary(results: ClassResults, sub: SubmissionResult) -> str:
    """A submission's grade in one line, its suite's ``<system-out>`` in the class file;
    the TODOs of tasks not started counted apart."""
    earned, available = score(sub.todos, results.todos)
    if sub.status == "error":
        line = f"{sub.id}: nothing gradable: {sub.message}"
    else:
        line = f"{sub.id}: graded, score {earned}/{available}"
        idle = [todo for todo in results.todos if not_attempted(sub, todo)]
        if idle:
            files = ", ".join(dict.fromkeys(task_file(todo) for todo in idle))
            line += f"; {len(idle)} TODO(s) not attempted ({files} as handed out)"
    seed = results.kit.get("seed")
    return line + (f" (grading seed {seed})" if seed else "")


def _suite(parent: ET.Element, name: str, cases: Sequence[Case], duration_s: float, said: str) -> dict[str, int]:
    """One ``<testsuite>`` of ``cases`` under ``parent``, ``said`` its ``<system-out>``;
    its counts."""
    counts = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    suite = ET.SubElement(parent, "testsuite", name=_xml_text(name))
    for case in cases:
        counts["tests"] += 1
        element = ET.SubElement(suite, "testcase", name=_xml_text(case.name), classname=_xml_text(name))
        if case.time is not None:
            element.set("time", f"{case.time:.3f}")
        message = _xml_text(case.message)
        if case.outcome == "skipped":
            counts["skipped"] += 1
            ET.SubElement(element, "skipped", message=message)
        elif case.outcome in ("failure", "error"):
            counts["failures" if case.outcome == "failure" else "errors"] += 1
            ET.SubElement(element, case.outcome, message=message, type=case.kind).text = message
    for key, count in counts.items():
        suite.set(key, str(count))
    suite.set("time", f"{duration_s:.3f}")
    ET.SubElement(suite, "system-out").text = _xml_text(said)
    return counts


def _document(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def junit_xml(results: ClassResults) -> str:
    """One ``<testsuite>`` per submission (name = its id), one ``<testcase>`` per TODO of
    the table: ``name`` "<id> <title>", ``classname`` the submission id, ``time`` the
    TODO's ``duration_s`` when recorded. A failed TODO is a ``<failure>`` (``type``
    ``fail``, or ``not attempted`` for the stub's own failure); an errored or timed-out one
    an ``<error>`` (``type`` says which); a TODO with no recorded result is ``<skipped>``.
    A broken submission's every TODO is an ``<error>`` with its reason.
    Its score (or why it has none) and the grading seed are one line of the suite's
    ``<system-out>``, not ``<properties>``: a reader that merges every suite's
    properties into one table (xunitparser) refuses a name it has seen in another suite."""
    root = ET.Element("testsuites", name="mlflow-kata")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    total_time = 0.0
    for sub in results.submissions:
        counts = _suite(root, sub.id, class_cases(results, sub), sub.duration_s, summary(results, sub))
        for key, count in counts.items():
            totals[key] += count
        total_time += sub.duration_s
    for key, total in totals.items():
        root.set(key, str(total))
    root.set("time", f"{total_time:.3f}")
    return _document(root)


def not_attempted_count(results: ClassResults) -> int:
    """How many verdicts of the class are "not attempted" (the stub's own failure)."""
    return sum(1 for sub in results.submissions for todo in results.todos if not_attempted(sub, todo))


def student_junit_xml(results: ClassResults, sub: SubmissionResult, lang: str = "en") -> str:
    """``sub``'s own JUnit file, in ``lang``: one ``<testsuite>`` (name = its id), one
    ``<testcase>`` per TODO with the title, verdict and message its feedback page shows
    ("not attempted" where the page says so; a broken submission's reason on every TODO),
    its short summary (``grader.reports.feedback.summary``) as the suite's
    ``<system-out>``. Nothing of another student, no grading seed."""
    view = feedback_view(results, sub, lang)
    cases = []
    if not view.graded:
        known = todo_by_id()
        with i18n.use(lang):
            titles = [known[todo.id].shown_title if todo.id in known else todo.title for todo in results.todos]
        cases = [Case(f"{todo.id} {title}", "error", sub.message, BROKEN) for todo, title in zip(results.todos, titles)]
    for task in view.tasks:
        for todo in task.todos:
            name = f"{todo.id} {todo.title}"
            result = sub.todos.get(todo.id)
            time = result.duration_s if result is not None else None
            if todo.status == "missing":
                cases.append(Case(name, "skipped", todo.message))
            elif todo.not_attempted:
                cases.append(Case(name, "failure", todo.message, NOT_ATTEMPTED, time))
            else:
                cases.append(_verdict(name, todo.status, todo.message, time))
    root = ET.Element("testsuites", name="mlflow-kata")
    counts = _suite(root, sub.id, cases, sub.duration_s, student_summary(results, sub, lang))
    for key, count in counts.items():
        root.set(key, str(count))
    root.set("time", f"{sub.duration_s:.3f}")
    return _document(root)
