"""``kata export junit``: a ``results.json`` as JUnit XML, for CI dashboards and any tool
that reads test reports: one ``<testsuite>`` per submission, one ``<testcase>`` per TODO."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from grader.results.model import ClassResults, Status, SubmissionResult, score

XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    return XML_INVALID.sub("\ufffd", text)


def summary(results: ClassResults, sub: SubmissionResult) -> str:
    """A submission's grade in one line, its suite's ``<system-out>``."""
    earned, available = score(sub.todos, results.todos)
    graded = sub.status != "error"
    line = f"{sub.id}: graded, score {earned}/{available}" if graded else f"{sub.id}: nothing gradable: {sub.message}"
    seed = results.kit.get("seed")
    return line + (f" (grading seed {seed})" if seed else "")


def junit_xml(results: ClassResults) -> str:
    """One ``<testsuite>`` per submission (name = its id), one ``<testcase>`` per TODO of
    the table: ``name`` "<id> <title>", ``classname`` the submission id, ``time`` the
    TODO's ``duration_s`` when recorded. A failed TODO is a ``<failure>``; an errored or
    timed-out one an ``<error>`` (``type`` says which); a TODO with no recorded result is
    ``<skipped>``. A broken submission's every TODO is an ``<error>`` with its reason.
    Its score (or why it has none) and the grading seed are one line of the suite's
    ``<system-out>``, not ``<properties>``: a reader that merges every suite's
    properties into one table (xunitparser) refuses a name it has seen in another suite."""
    root = ET.Element("testsuites", name="mlflow-kata")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    total_time = 0.0
    for sub in results.submissions:
        counts = dict.fromkeys(totals, 0)
        suite = ET.SubElement(root, "testsuite", name=_xml_text(sub.id))
        for todo in results.todos:
            counts["tests"] += 1
            case = ET.SubElement(
                suite, "testcase", name=_xml_text(f"{todo.id} {todo.title}"), classname=_xml_text(sub.id)
            )
            if sub.status == "error":
                counts["errors"] += 1
                message = _xml_text(sub.message)
                ET.SubElement(case, "error", message=message, type="broken submission").text = message
                continue
            result = sub.todos.get(todo.id)
            if result is None:
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message="no result recorded for this TODO")
                continue
            if result.duration_s is not None:
                case.set("time", f"{result.duration_s:.3f}")
            message = _xml_text(result.message)
            if result.status is Status.FAIL:
                counts["failures"] += 1
                ET.SubElement(case, "failure", message=message, type="fail").text = message
            elif result.status in (Status.ERROR, Status.TIMEOUT):
                counts["errors"] += 1
                ET.SubElement(case, "error", message=message, type=result.status.value).text = message
        for key, count in counts.items():
            suite.set(key, str(count))
            totals[key] += count
        suite.set("time", f"{sub.duration_s:.3f}")
        total_time += sub.duration_s
        ET.SubElement(suite, "system-out").text = _xml_text(summary(results, sub))
    for key, total in totals.items():
        root.set(key, str(total))
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
