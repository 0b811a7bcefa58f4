"""A hand-built class for the export and report tests: every kind of result a real
``kata grade`` can produce, plus the hostile ids a student can choose (a folder name)."""

from __future__ import annotations

from grader.results.model import ClassResults, SubmissionResult
from grader.judge.runner import TodoResult
from grader.lab.todos import load_todos

KIT = {"mlflow": "3.17.2", "python": "3.11.7", "tests_sha256": "0123456789abcdef" * 4}
SCRIPT_ID = "<script>alert('id')</script>"
FORMULA_ID = '=HYPERLINK("http://evil.example/x","click")'
SCRIPT_MESSAGE = "TODO 1.3: expected param <script>alert('msg')</script> & <img src=x onerror=alert(1)>"
BROKEN_REASON = "empty submission: no exercises/ folder at its root or one folder down"
BOB_NOTE = "no exercises/ folder: took the task files in bob-lab/; missing bonus_serving.py"


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
        SubmissionResult("bob", "graded", partial, duration_s=40.0, message=BOB_NOTE),
        SubmissionResult("carol", "error", {}, duration_s=0.01, message=BROKEN_REASON),
        SubmissionResult(SCRIPT_ID, "graded", hostile, duration_s=9.5),
        SubmissionResult(FORMULA_ID, "graded", all_todos("fail", "TODO: nothing done"), duration_s=3),
        SubmissionResult("zoë", "graded", all_todos("pass"), duration_s=7.25),
    ])


def big_class(n: int = 300) -> ClassResults:
    """``n`` students with varied scores, for size and speed checks. Failures use the
    kit's real message shapes with per-student values (run names, versions, numbers), a
    few of them timeouts or import errors, and each TODO carries a time, so the failure
    clusters and per-TODO times have something to show."""
    todos = load_todos()
    subs = []
    for i in range(n):
        results = {}
        for k, todo in enumerate(todos):
            seconds = round(0.1 + ((i * (k + 3)) % 23) / 10, 3)
            if (i + k) % (k + 2):
                results[todo.id] = TodoResult("pass", "", seconds)
            elif i % 7 == 0:
                results[todo.id] = TodoResult("timeout", f"TODO {todo.id}: {todo.module}.py did not "
                                              "return within the 30 s time limit", 30.0 + i % 3)
            elif i % 11 == 0:
                results[todo.id] = TodoResult("error", f"TODO {todo.id}: {todo.module}.py could not be "
                                              f"imported: SyntaxError: '(' was never closed (line {i % 90 + 3})",
                                              seconds)
            else:
                results[todo.id] = TodoResult("fail", big_class_failure(todo.id, i), seconds)
        subs.append(SubmissionResult(f"student{i:03d}", "graded", results, duration_s=i / 10))
    return ClassResults(kit=KIT, submissions=subs)


def big_class_failure(todo_id: str, i: int) -> str:
    """One of two real failure shapes per TODO (as tests/test_task*.py word them), with
    student ``i``'s own values in it."""
    shapes = (
        f"TODO {todo_id}: expected params {{'model_type': 'LinearRegression', 'random_state': '42'}}, "
        f"but the run 'run-{i}' holds {{'model_type': None, 'random_state': '42'}}",
        f"TODO {todo_id}: expected alias 'staging' of 'response-time-{i * 7919 % 16**6:06x}' to point "
        f"at version {i % 3 + 1}, but the model has no alias at all",
        f"TODO {todo_id}: expected metric rmse = {40 + i / 7:.4f} on the held-out 20 %, but MLflow "
        f"holds only ['r2', 'mae']",
    )
    return shapes[(i + len(todo_id)) % 2 + (1 if todo_id.startswith(("2", "4")) else 0)]


# Real failure messages of ``kata grade examples/submissions`` (and the same format strings
# with another student's values): what the failure clusters group.
ALIAS_MISSING = ("TODO 4.3: expected alias 'staging' of 'response-time-{model}' to point at version "
                 "{version}, but the model has no alias at all")
RUN_NAME = "TODO 1.2: expected the run to be named 'baseline', but it is the run '{name}'"
SYNTAX_ERROR = ("TODO 2.1: task2_tuning.py could not be imported: SyntaxError: '(' was never "
                "closed (line {line})")


def clustered_class() -> ClassResults:
    """Seven students: three miss the staging alias (each their own model and version),
    two misname the run, one has a syntax error, one passes everything but the bonus."""
    def student(sub_id: str, **failures: TodoResult) -> SubmissionResult:
        todos = all_todos("pass")
        todos.update({key.replace("_", "."): value for key, value in failures.items()})
        return SubmissionResult(sub_id, "graded", todos, duration_s=20.0)

    return ClassResults(kit=KIT, submissions=[
        student("ana", **{"4_3": TodoResult("fail", ALIAS_MISSING.format(model="e82fa4", version=1))}),
        student("ben", **{"4_3": TodoResult("fail", ALIAS_MISSING.format(model="3b9c0d", version=2)),
                          "1_2": TodoResult("fail", RUN_NAME.format(name="basline"))}),
        student("cai", B_1=TodoResult("fail", "TODO B.1: the server answered 400")),
        student("dee", **{"4_3": TodoResult("fail", ALIAS_MISSING.format(model="77aa01", version=1))}),
        student("eve", **{"1_2": TodoResult("fail", RUN_NAME.format(name="Baseline run"))}),
        student("fay", **{"2_1": TodoResult("error", SYNTAX_ERROR.format(line=40))}),
        student("gus"),
    ])


# -- a class that handed in journals (the report's "How the class got there") ----------------
RUN_NAME_MSGID = "expected the run to be named 'baseline', but it is {run}"
JOURNAL_START = 1_767_000_000


def journal_summary(*runs: dict[str, str], shown: str | None = None, step: int = 60, kit: str | None = None,
                    start: int = JOURNAL_START) -> dict:
    """The summary ``kata grade`` stores for a journal of ``runs`` (TODO id → verdict), each
    run ``step`` seconds after the one before and each failure showing ``shown``."""
    import json

    from grader.results import journal

    lines = []
    for n, verdicts in enumerate(runs):
        results = {todo_id: TodoResult(status, "" if status == "pass" else "x") for todo_id, status in verdicts.items()}
        line = journal.entry(results, "pytest", now=start + n * step, kit=kit)
        for todo_id, status in verdicts.items():
            if status != "pass":
                line["todos"][todo_id][1] = shown
        lines.append(json.dumps(line))
    return journal.summarise(journal.read("\n".join(lines).encode()), journal.lab_hash())


def journal_class() -> ClassResults:
    """The sample class with journals: alice took 3 tries at 1.2 (the run-name message twice)
    and broke it again once; bob 2 tries (the message once); the hostile id's journal
    is of another kit (a flag); carol's (broken) journal was too large; zoë handed in none."""
    from grader.results import journal

    name = journal.id_of(RUN_NAME_MSGID)
    results = sample_class()
    by_id = {sub.id: sub for sub in results.submissions}
    by_id["alice"].journal = journal_summary(
        {"1.1": "pass", "1.2": "fail"}, {"1.1": "pass", "1.2": "fail"}, {"1.1": "pass", "1.2": "pass"},
        {"1.1": "pass", "1.2": "fail"}, {"1.1": "pass", "1.2": "pass"}, shown=name)
    by_id["bob"].journal = journal_summary({"1.2": "fail"}, {"1.2": "pass"}, shown=name, step=600)
    by_id[SCRIPT_ID].journal = journal_summary({"1.2": "fail"}, {"1.2": "pass"}, shown="0123456789ab",
                                               kit="f" * 16)
    by_id["carol"].journal = {"status": "ignored", "note": "too-large", "skipped_lines": 0}
    return results
