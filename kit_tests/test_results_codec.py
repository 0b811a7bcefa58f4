"""results.json's one codec (grader.results.codec): what it writes the schema accepts, what
it reads comes back byte for byte, and what it refuses it says in one line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace

import jsonschema
import pytest
from report_samples import KIT, sample_class

from grader.core.paths import KIT_ROOT
from grader.lab.todos import load_todos
from grader.results import codec
from grader.results.codec import ResultsError
from grader.results.model import ClassResults, Status, SubmissionResult, TodoResult

SCHEMA = json.loads((KIT_ROOT / "grader" / "results" / "results.schema.json").read_text())


def test_what_the_codec_writes_the_schema_accepts_and_reads_back_byte_for_byte():
    text = codec.dumps(sample_class())
    jsonschema.validate(json.loads(text), SCHEMA)
    again = codec.loads(text)
    assert codec.dumps(again) == text
    assert [sub.id for sub in again.submissions] == [sub.id for sub in sample_class().submissions]


def test_a_file_of_another_todo_table_keeps_its_scores_when_written_again():
    table = tuple(replace(todo, points=3) if todo.id == "1.1" else todo for todo in load_todos())
    passed = {todo.id: TodoResult(Status.PASS) for todo in table}
    text = codec.dumps(ClassResults(kit=KIT, submissions=[SubmissionResult("ana", "graded", passed)],
                                    todos=table))
    assert json.loads(text)["submissions"][0]["score"] == 17
    assert codec.dumps(codec.loads(text)) == text  # scored by the file's table, not todos.toml


def test_the_hash_of_a_submissions_graded_files_is_kept_and_checked():
    """``files_sha256`` (what --resume compares) goes through the codec both ways, and only
    as a sha256."""
    graded = sample_class()
    graded.submissions[0] = replace(graded.submissions[0], files_sha256="ab" * 32)
    text = codec.dumps(graded)
    assert json.loads(text)["submissions"][0]["files_sha256"] == "ab" * 32
    assert "files_sha256" not in json.loads(text)["submissions"][2]  # carol: nothing could be taken
    assert codec.loads(text).submissions[0].files_sha256 == "ab" * 32
    assert codec.dumps(codec.loads(text)) == text
    data = json.loads(text)
    data["submissions"][0]["files_sha256"] = "not a hash"
    with pytest.raises(ResultsError, match=r"^results.json: not a kata results.json: submissions\[0\]\.files_sha256"):
        codec.loads(json.dumps(data))


def test_the_kit_never_writes_a_results_json_the_schema_refuses():
    results = ClassResults(kit={**KIT, "seed": "a b"}, submissions=[])
    with pytest.raises(ResultsError, match=r"^the kit would write an invalid results.json: kit.seed: 'a b'"):
        codec.dumps(results)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(constant):
    data = json.loads(codec.dumps(sample_class()))
    text = json.dumps(data).replace('"duration_s": 12.345', f'"duration_s": {constant}', 1)
    with pytest.raises(ResultsError, match=rf"^results.json: not JSON \({re.escape(constant)} is not a JSON number\)$"):
        codec.loads(text)


def test_an_integer_is_written_without_a_fraction():
    """The stock validator takes 12.0 for an integer; the codec does not: the kit never
    writes one, and the model would carry a float where it counts points."""
    data = json.loads(codec.dumps(sample_class()))
    data["submissions"][0]["score"] = 15.0
    jsonschema.validate(data, SCHEMA)
    with pytest.raises(ResultsError, match=r"^submissions\[0\]\.score: 15\.0 is a number, not an integer$"):
        codec.validate(data)


def test_a_refusal_is_one_line_whatever_the_student_named_things():
    data = json.loads(codec.dumps(sample_class()))
    data["submissions"][0]["todos"]["1.1\n\x1b[2J"] = {"status": "done\nreally", "message": ""}
    with pytest.raises(ResultsError) as refused:
        codec.loads(json.dumps(data), source="OUT/results.json")
    message = str(refused.value)
    assert message.startswith("OUT/results.json: not a kata results.json: submissions[0].todos['1.1\\n\\x1b[2J']")
    assert message.isprintable() and "'done\\nreally' is not one of 'pass', 'fail', 'error', 'timeout'" in message


def test_the_student_kit_uses_the_results_wing_without_jsonschema():
    """jsonschema is imported only where results.json is read or written, which no
    student verb does."""
    code = ("import sys; sys.modules['jsonschema'] = None\n"
            "from grader.results import codec, model\n"
            "from grader.student import check\n"
            "print(model.KataRun.from_json({'todos': {'1.1': {'status': 'pass'}}, 'duration_s': 1}).failed())")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=KIT_ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "set()"
