"""The golden ``results.json`` of the demo class: what ``kata grade examples/submissions
--seed demo-class`` must give, with what changes from run to run or machine to machine
masked (times, versions, hashes (the kit's, the task files'), the seed, the isolation
level, names keyed by the judge process's secret, MLflow's random run names, the order
of a printed set). Verdicts, scores and messages stay: a change to any of them is a diff
of ``kit_tests/demo_class.golden.json`` in review.

Regenerate it (and review the diff) with
``KATA_UPDATE_GOLDEN=1 pytest kit_tests/test_demo_class.py -k golden``.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path

GOLDEN = Path(__file__).with_name("demo_class.golden.json")
UPDATE_ENV = "KATA_UPDATE_GOLDEN"

MASKED_KIT = {"mlflow": "<version>", "python": "<version>", "tests_sha256": "<sha256>", "seed": "<seed>",
              "isolation": "<isolation>"}
MESSAGE_MASKS = (
    # experiment and model names end in a key of the judge process's secret (grader.judge.case)
    (re.compile(r"\b([a-z]+(?:-[a-z]+)*)-[0-9a-f]{6}\b"), r"\1-<key>"),
    # a run without a name gets one of MLflow's random ones ('illustrious-toad-653')
    (re.compile(r"MLflow named it '[^']*'"), "MLflow named it '<random>'"),
    # a Python set printed by MLflow's server ({'inputs', 'instances', …}): its order is
    # the process's string hashing
    (re.compile(r"\{'[^'{}:]*'(?:, '[^'{}:]*')+\}"),
     lambda found: "{" + ", ".join(sorted(found.group(0)[1:-1].split(", "))) + "}"),
)


def mask_message(message: str) -> str:
    for pattern, replacement in MESSAGE_MASKS:
        message = pattern.sub(replacement, message)
    return message


def masked(results: dict) -> dict:
    """``results`` with the parts that vary between runs masked (a new dict)."""
    results = json.loads(json.dumps(results))
    for key, mask in MASKED_KIT.items():
        if key in results.get("kit", {}):
            results["kit"][key] = mask
    for submission in results.get("submissions", []):
        if "duration_s" in submission:
            submission["duration_s"] = "<s>"
        if "files_sha256" in submission:  # the staged task files' hash: the files are the diff's business
            submission["files_sha256"] = "<sha256>"
        if "message" in submission:
            submission["message"] = mask_message(submission["message"])
        for todo in submission.get("todos", {}).values():
            if "duration_s" in todo:
                todo["duration_s"] = "<s>"
            todo["message"] = mask_message(todo["message"])
    return results


def dumps(results: dict) -> str:
    return json.dumps(results, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def difference(results: dict, golden: Path = GOLDEN, may_update: bool = True) -> str:
    """The unified diff from the golden file to ``results`` (masked); empty when equal.
    With $KATA_UPDATE_GOLDEN set, the golden file is rewritten first, unless the caller
    compares results it made up (``may_update=False``: the mask's own test)."""
    text = dumps(masked(results))
    if may_update and os.environ.get(UPDATE_ENV):
        golden.write_text(text, encoding="utf-8")
    expected = golden.read_text(encoding="utf-8") if golden.is_file() else ""
    return "".join(difflib.unified_diff(expected.splitlines(keepends=True), text.splitlines(keepends=True),
                                        str(golden.name), "this run (masked)"))
