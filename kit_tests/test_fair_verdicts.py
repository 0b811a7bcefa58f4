"""Correct code always passes: returned values are judged by meaning, not by type."""

from grader.core.paths import SOLUTIONS_DIR as SOLUTIONS
from grader.judge.runner import run_kata


def test_a_version_number_returned_as_text_passes_4_1_as_the_int_does(tmp_path):
    """MLflow 3 gives ``version.version`` as an int; the hint says a string: both pass
    (the int is what the reference solution returns, run by the kit's own suite)."""
    for path in SOLUTIONS.glob("*.py"):
        (tmp_path / path.name).write_text(path.read_text())
    task4 = tmp_path / "task4_registry.py"
    source = task4.read_text()
    assert source.count("    return version.version\n") == 1
    task4.write_text(source.replace("    return version.version\n", "    return str(version.version)\n"))
    run = run_kata(tmp_path, tasks=[4], extra_args=["-k", "registered_and_its_version_returned"])
    assert run.todos["4.1"].status == "pass", run.todos["4.1"].message
