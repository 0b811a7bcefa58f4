"""A hand-built class for the export and report tests: every kind of result a real
``kata grade`` can produce, plus the hostile ids a student can choose (a folder name)."""

from __future__ import annotations

from grader.results import ClassResults, SubmissionResult
from grader.runner import TodoResult
from grader.todos import load_todos

KIT = {"mlflow": "3.17.2", "python": "3.11.7", "tests_sha256": "0123456789abcdef" * 4}
SCRIPT_ID = "<script>alert('id')</script>"
FORMULA_ID = '=HYPERLINK("http://evil.example/x","click")'
SCRIPT_MESSAGE = "TODO 1.3: expected param <script>alert('msg')</script> & <img src=x onerror=alert(1)>"
BROKEN_REASON = "empty submission: no exercises/ folder at its root or one folder down"


def all_todos(status: str, message: str = "") -> dict[str, TodoResult]:
    return {todo.id: TodoResult(status, message) for todo in load_todos()}


def sample_class() -> ClassResults:
    partial = all_todos("pass")
    partial["2.1"] = TodoResult("fail", "TODO 2.1: expected 3 runs with n_estimators, but MLflow holds 0")
    partial["3.2"] = TodoResult("error", "ImportError: cannot import name 'compare' from 'task3_compare'")
    partial["4.3"] = TodoResult("timeout", "TODO 4.3: student code took longer than 30 s")
    partial["B.1"] = TodoResult("fail", "TODO B.1: the server answered 400:\n  line two\n  line three")
    del partial["B.2"]  # a TODO with no recorded result
    hostile = all_todos("pass")
    hostile["1.3"] = TodoResult("fail", SCRIPT_MESSAGE)
    return ClassResults(kit=KIT, submissions=[
        SubmissionResult("alice", "graded", all_todos("pass"), duration_s=12.345),
        SubmissionResult("bob", "graded", partial, duration_s=40.0),
        SubmissionResult("carol", "error", {}, duration_s=0.01, message=BROKEN_REASON),
        SubmissionResult(SCRIPT_ID, "graded", hostile, duration_s=9.5),
        SubmissionResult(FORMULA_ID, "graded", all_todos("fail", "TODO: nothing done"), duration_s=3),
        SubmissionResult("zoë", "graded", all_todos("pass"), duration_s=7.25),
    ])


def big_class(n: int = 300) -> ClassResults:
    """``n`` students with varied scores, for size and speed checks."""
    todos = load_todos()
    subs = []
    for i in range(n):
        results = {todo.id: TodoResult("pass" if (i + k) % (k + 2) else "fail",
                                       "" if (i + k) % (k + 2) else f"TODO {todo.id}: wrong")
                   for k, todo in enumerate(todos)}
        subs.append(SubmissionResult(f"student{i:03d}", "graded", results, duration_s=i / 10))
    return ClassResults(kit=KIT, submissions=subs)
