"""A synthetic class (issue 23): three students whose journals are made by really running
the kata on seeded sequences of edits of task 1 (``benchmarks/synthetic_class.py``: the
stubs, or the reference solution with the mistake matrix's slips applied, then fixed one
at a time). What each student's journal summarises to, and the class's figures, equal
what the sequences imply, computed by the script on its own record of the runs."""

import importlib.util
import json
import sys

import pytest

from grader.core.paths import KIT_ROOT
from grader.results import journal

# Seed 685 gives, with at most three runs each (6 runs of the kata): student-01 starts
# with "log metrics after the with block" (1.4), fixes it, then breaks a green 1.3 with
# "typo'd name in 1.3"; student-02 starts from the stubs, writes every TODO with
# "hard-coded experiment name" (1.1) and reruns: 1.1 never green. Each one's work is
# handed in again by five students at other paces (the same verdicts, every wait scaled):
# twelve journals whose times spread, for no more runs.
SEED, STUDENTS, MAX_RUNS, PACES = 685, 2, 3, 6
REAL = ["student-01", "student-02"]


def synthetic_class():
    spec = importlib.util.spec_from_file_location("synthetic_class", KIT_ROOT / "benchmarks" / "synthetic_class.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    script = synthetic_class()
    out = tmp_path_factory.mktemp("class")
    with script.InProcess() as runner:
        expected = script.build_class(out, SEED, STUDENTS, [1], runner, MAX_RUNS, PACES)
    assert json.loads((out / "expected.json").read_text()) == expected
    summaries = {}
    for student in expected["students"]:
        reading = journal.read_file(journal.journal_path(out / "submissions" / student / "exercises"))
        summaries[student] = journal.summarise(reading, journal.lab_hash())
    return expected, summaries


def test_each_students_journal_summarises_to_what_their_sequence_implies(built):
    expected, summaries = built
    paced = [f"{student}-pace{pace}" for student in REAL for pace in range(2, PACES + 1)]
    assert sorted(summaries) == sorted(REAL + paced)
    for student, summary in summaries.items():
        assert summary == expected["students"][student]["summary"], student
    # the sequences hold what makes the figures worth comparing
    todos = {student: summary["todos"] for student, summary in summaries.items()}
    assert todos["student-01"]["1.3"]["broke_again"] == 1 and todos["student-01"]["1.3"]["attempts"] == 1
    assert todos["student-01"]["1.4"]["attempts"] == 2 and todos["student-01"]["1.4"]["seconds_to_green"] > 0
    assert all(path["attempts"] == 2 and path["green"] for todo, path in todos["student-02"].items() if todo != "1.1")
    assert not todos["student-02"]["1.1"]["green"] and todos["student-02"]["1.1"]["seconds_to_green"] is None
    assert todos["student-02"]["1.1"]["attempts"] == 3
    assert sorted(todos["student-02"]["1.1"]["messages"].values()) == [1, 2]  # the stub's, then the slip's twice


def test_the_class_figures_equal_what_the_sequences_imply(built):
    expected, summaries = built
    figures = journal.class_summary({**summaries, "no-journal": None})
    assert figures == {**expected["class"], "missing": 1}
    assert figures["todos"]["1.1"]["students"] == 12 and figures["todos"]["1.1"]["green"] == 6
    # the figures tell the definitions apart: the median of an even count is the mean of
    # the two middle values, the 90th percentile of 12 values the 11th, not the largest
    seconds = sorted(summary["todos"]["1.4"]["seconds_to_green"] for summary in summaries.values())
    assert figures["todos"]["1.4"]["seconds_to_green"]["median"] == (seconds[5] + seconds[6]) / 2 != seconds[5]
    assert figures["todos"]["1.4"]["seconds_to_green"]["p90"] == seconds[10] < seconds[11]


def test_a_slip_declared_to_fail_a_todo_shows_it_red_until_fixed(built):
    expected, _summaries = built
    runs = expected["students"]["student-01"]["runs"]
    assert [run["edit"] for run in runs] == [
        "start from the solution with log metrics after the with block",
        "fix log metrics after the with block",
        "break a green TODO again: typo'd name in 1.3",
    ]
    verdicts = [{todo: status for todo, (status, _shown) in run["todos"].items()} for run in runs]
    red = ("fail", "error")
    assert [verdict["1.4"] in red for verdict in verdicts] == [True, False, False]
    assert [verdict["1.3"] in red for verdict in verdicts] == [False, False, True]
    assert all(verdict["1.1"] == verdict["1.2"] == "pass" for verdict in verdicts)
    assert {runs[0]["todos"]["1.4"][1], runs[2]["todos"]["1.3"][1]} <= set(journal.messages_by_id())
