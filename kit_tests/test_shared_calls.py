"""One student call judged by several TODO tests (grader.judge.shared_calls): made once per
session when the same call starts from the same state, replayed on a copy otherwise,
and never a way for what student code left to reach the judge."""

import os
from pathlib import Path

import pytest

from grader.core.paths import SOLUTIONS_DIR
from grader.judge.shared_calls import SharedCalls
from grader.judge.snapshots import safe_copy

SHARED_TESTS = '''
import pytest

FIRST = []


def baseline(case):
    return case.call("log_baseline_run", case.sample_data(60), experiment_name=case.name("e"))


@pytest.mark.todo("1.2")
@pytest.mark.inputs("same")
def test_the_first_test_makes_the_call(case):
    FIRST.append(baseline(case))
    assert case.shared.hits == 0


@pytest.mark.todo("1.3")
@pytest.mark.inputs("same")
def test_a_test_with_the_same_inputs_judges_its_own_copy_of_that_call(case):
    run_id = baseline(case)
    assert case.shared.hits == 1 and run_id == FIRST[0]
    assert case.run_or_none(run_id).info.run_name == "baseline"


@pytest.mark.todo("1.4")
@pytest.mark.inputs("same")
def test_the_same_inputs_from_another_state_make_a_call_of_their_own(case):
    case.client.create_experiment("something else")
    run_id = baseline(case)
    assert case.shared.hits == 1 and run_id != FIRST[0]


@pytest.mark.todo("1.1")
def test_a_test_without_the_marker_draws_other_inputs(case):
    run_id = baseline(case)
    assert case.shared.hits == 1 and run_id != FIRST[0]
'''


def test_tests_with_the_same_inputs_share_one_call_and_others_do_not(pytester):
    pytester.makeconftest('pytest_plugins = ["grader.judge.plugin"]')
    pytester.makepyfile(test_shared=SHARED_TESTS)
    result = pytester.runpytest_subprocess(f"--exercises={SOLUTIONS_DIR}", "-p", "no:randomly",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_the_key_changes_with_any_file_of_the_case_folder(tmp_path):
    calls, case = SharedCalls(tmp_path / "calls"), tmp_path / "case"
    (case / "store").mkdir(parents=True)
    (case / "store" / "mlflow.db").write_bytes(b"one")
    request = {"function": "f", "args": [1]}
    before = calls.keys(case, "call", request)
    assert calls.keys(case, "call", request) == before
    assert calls.keys(case, "call", {"function": "f", "args": [2]})[0] != before[0]
    (case / "store" / "mlflow.db").write_bytes(b"two")
    assert calls.keys(case, "call", request)[0] != before[0]


def test_a_call_with_excuses_also_has_the_key_it_would_have_without_them(tmp_path):
    calls, case = SharedCalls(tmp_path / "calls"), tmp_path / "case"
    (case / "store").mkdir(parents=True)
    plain = {"function": "f", "excused": []}
    excused_key, unexcused_key = calls.keys(case, "call", {**plain, "excused": ["model_logging"]})
    assert calls.keys(case, "call", plain) == (unexcused_key, "")
    assert excused_key != unexcused_key


@pytest.mark.parametrize("used, returned, replayed", [
    ([], True, True),
    (["model_logging"], True, False),  # an excuse changed what the call did
    (None, False, False),  # it raised: what an excuse changed is unknown
], ids=["excuses-unused", "excuse-used", "call-raised"])
def test_an_excused_call_stands_for_the_unexcused_one_only_when_its_excuses_swallowed_nothing(
        tmp_path, used, returned, replayed):
    from grader.sandbox import CallResult

    calls, case = SharedCalls(tmp_path / "calls"), tmp_path / "case"
    (case / "store").mkdir(parents=True)
    result = (CallResult("ok", value="runs", excuses_used=used) if returned
              else CallResult("raised", kind="raised", error="ValueError: no"))
    calls.keep(("excused", "unexcused"), case, ("store",), result)
    assert calls.replay("excused", case, ("store",)) is not None
    assert (calls.replay("unexcused", case, ("store",)) is not None) is replayed


def test_a_replay_gives_each_test_a_fresh_copy_of_what_the_call_left(tmp_path):
    from grader.sandbox import CallResult

    calls, case = SharedCalls(tmp_path / "calls"), tmp_path / "case"
    (case / "store").mkdir(parents=True)
    (case / "store" / "mlflow.db").write_text("after the call")
    calls.keep(("k", ""), case, ("store", "work"), CallResult("ok", value="run-1"))
    (case / "store" / "mlflow.db").write_text("a judge's later change")
    assert calls.replay("unknown", case, ("store", "work")) is None
    assert calls.replay("k", case, ("store", "work")).value == "run-1"
    assert (case / "store" / "mlflow.db").read_text() == "after the call"
    calls.close()
    assert not (tmp_path / "calls").exists()


def test_a_call_that_left_too_much_is_not_kept_but_made_again(tmp_path, monkeypatch):
    import grader.judge.shared_calls
    from grader.sandbox import CallResult

    monkeypatch.setattr(grader.judge.shared_calls, "KEEP_MAX_BYTES", 1000)
    calls, case = SharedCalls(tmp_path / "calls"), tmp_path / "case"
    (case / "work").mkdir(parents=True)
    (case / "work" / "filler").write_bytes(b"x" * 1001)
    calls.keep(("k", ""), case, ("store", "work"), CallResult("ok", value="run-1"))
    assert calls.replay("k", case, ("store", "work")) is None


def test_copying_what_student_code_left_follows_no_link_and_reads_no_special_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("the instructor's")
    left = tmp_path / "left"
    (left / "mlruns").mkdir(parents=True)
    (left / "mlruns" / "model.pkl").write_bytes(b"weights")
    (left / "link").symlink_to(secret)
    os.link(secret, left / "hard-link")
    os.mkfifo(left / "fifo")
    safe_copy(left, tmp_path / "copy")
    copy = tmp_path / "copy"
    assert (copy / "mlruns" / "model.pkl").read_bytes() == b"weights"
    assert (copy / "link").is_symlink() and os.readlink(copy / "link") == str(secret)
    assert not (copy / "hard-link").exists() and not (copy / "fifo").exists()


@pytest.mark.parametrize("task", ["3"])
def test_a_tasks_suite_on_the_reference_shares_its_calls(task, pytester):
    """Task 3's three TODOs judge one compare_models call: 3.1 makes it with model
    logging excused, and 3.2 and 3.3 replay it, since on the reference nothing needed
    excusing (the mistake matrix covers a log_model that fails: 3.3 alone fails)."""
    pytester.makeconftest('pytest_plugins = ["grader.judge.plugin"]')
    tests = Path(__file__).resolve().parents[1] / "tests" / f"test_task{task}.py"
    pytester.makepyfile(test_copy=tests.read_text() + (
        "\n\ndef test_zz_calls_were_shared(shared_calls):\n    assert shared_calls.hits == 2\n"))
    result = pytester.runpytest_subprocess(f"--exercises={SOLUTIONS_DIR}", "-p", "no:randomly",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
