"""One snapshot store (grader.judge.snapshots) for both of its uses, the kit's trusted seeding
and the student's shared calls: a key names copies of a case folder's parts and a JSON value,
published whole or not at all, out of the children's reach, copied without following a link."""

import os
import stat

import pytest

from grader.core.paths import SOLUTIONS_DIR
from grader.judge import snapshots
from grader.judge.snapshots import Snapshots, safe_copy
from grader.sandbox.untrusted_tree import Caps


@pytest.fixture
def case(tmp_path):
    folder = tmp_path / "case"
    (folder / "store").mkdir(parents=True)
    (folder / "store" / "mlflow.db").write_text("seeded")
    (folder / "work").mkdir()
    return folder


def test_a_snapshot_gives_back_its_parts_and_its_value_and_only_when_saved(tmp_path, case):
    store = Snapshots(tmp_path / "snapshots")
    assert stat.S_IMODE(os.stat(tmp_path / "snapshots").st_mode) == 0o700
    assert store.restore("k", case, ("store", "work")) is None and store.peek("") is None
    assert store.save("k", case, ("store", "work"), None)
    (case / "store" / "mlflow.db").write_text("changed")
    (case / "work" / "left").write_text("by a later call")
    found = store.restore("k", case, ("store", "work"))
    assert found is not None and found.value is None  # a null value is a value
    assert (case / "store" / "mlflow.db").read_text() == "seeded"
    assert not (case / "work" / "left").exists()


def test_a_part_the_snapshot_lacks_is_removed_on_restore(tmp_path, case):
    store = Snapshots(tmp_path / "snapshots")
    store.save("k", case, ("store", "missing"), {"run": "1"})
    (case / "missing").mkdir()
    assert store.restore("k", case, ("store", "missing")).value == {"run": "1"}
    assert not (case / "missing").exists()


def test_a_part_past_the_caps_keeps_nothing_not_even_a_draft(tmp_path, case):
    store = Snapshots(tmp_path / "snapshots")
    (case / "work" / "filler").write_bytes(b"x" * 2000)
    assert not store.save("k", case, ("store", "work"), 1, Caps(bytes=1000))
    assert os.listdir(tmp_path / "snapshots") == []
    (case / "big-file").write_bytes(b"x" * 2000)  # a part that is one file: capped too
    assert not store.save("k", case, ("big-file",), 1, Caps(bytes=1000))
    assert os.listdir(tmp_path / "snapshots") == []


def test_a_saved_key_stays_and_an_alias_names_the_same_snapshot(tmp_path, case):
    store = Snapshots(tmp_path / "snapshots")
    store.save("k", case, ("store",), "first")
    assert store.save("k", case, ("store",), "second") and store.peek("k").value == "first"
    store.alias("k", "other")
    store.alias("k", "k")  # a key already saved is never replaced by a link
    assert store.peek("other").value == "first" and not os.path.islink(tmp_path / "snapshots" / "k")
    store.close()
    assert not (tmp_path / "snapshots").exists()


def test_the_key_hashes_the_case_path_the_request_and_the_state(tmp_path):
    base = snapshots.key(tmp_path / "a", ["call", {"f": 1}], b"state")
    assert base == snapshots.key(tmp_path / "a", ["call", {"f": 1}], b"state")
    assert base != snapshots.key(tmp_path / "b", ["call", {"f": 1}], b"state")
    assert base != snapshots.key(tmp_path / "a", ["call", {"f": 2}], b"state")
    assert base != snapshots.key(tmp_path / "a", ["call", {"f": 1}], b"other state")


def test_a_single_file_is_copied_without_following_a_link(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("the instructor's")
    (tmp_path / "link").symlink_to(secret)
    assert safe_copy(tmp_path / "link", tmp_path / "copy").within_caps
    assert os.readlink(tmp_path / "copy") == str(secret)


SEEDING_TESTS = '''
import os

import pytest


def seed(case):
    candidates = [{"model_type": "LinearRegression", "r2": 0.5, "slice": [0, 40]}]
    return case.kit("seed_comparison", data_path=case.sample_data(60), experiment_name=case.name("e"),
                    candidates=candidates)


@pytest.mark.todo("1.1")
@pytest.mark.inputs("same")
def test_the_first_test_seeds_and_snapshots(case):
    seed(case)
    assert len(os.listdir(case.sandbox.root / "seeded")) == 1


@pytest.mark.todo("1.2")
@pytest.mark.inputs("same")
def test_the_next_one_gets_the_snapshot_back(case, monkeypatch):
    import grader.judge.calls

    def no_seeding(*args, **kwargs):
        raise AssertionError("seeded again")

    monkeypatch.setattr(grader.judge.calls, "run", no_seeding)
    assert len(seed(case)["run_ids"]) == 1
    assert len(os.listdir(case.sandbox.root / "seeded")) == 1
    assert len(case.all_runs()) == 1 and (case.dir / "store" / "mlflow.db").is_file()
'''


def test_trusted_seeding_is_snapshotted_once_and_copied_back(pytester):
    pytester.makeconftest('pytest_plugins = ["grader.judge.plugin"]')
    pytester.makepyfile(test_seeding=SEEDING_TESTS)
    result = pytester.runpytest_subprocess(f"--exercises={SOLUTIONS_DIR}", "-p", "no:randomly",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


NO_FILE_TESTS = '''
import pytest


@pytest.mark.todo("4.1")
def test_a_task_whose_file_was_not_handed_in(case):
    candidates = [{"model_type": "LinearRegression", "r2": 0.5, "slice": [0, 40]}]
    case.kit("seed_comparison", data_path=case.sample_data(60), experiment_name=case.name("e"),
             candidates=candidates)
    raise AssertionError("seeded for a task file that is not there")
'''


def test_nothing_is_seeded_for_a_task_file_that_was_not_handed_in(pytester, tmp_path, monkeypatch):
    """Seeding costs seconds (task 4 fits and logs three models), once per worker that
    grades such a submission first: a missing task file fails at once, as its import would."""
    from grader.judge.store import cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_dir().parent))  # this process's store template
    exercises = tmp_path / "exercises"
    exercises.mkdir()
    (exercises / "task1_baseline.py").write_text((SOLUTIONS_DIR / "task1_baseline.py").read_text())
    pytester.makeconftest('pytest_plugins = ["grader.judge.plugin"]')
    pytester.makepyfile(test_no_file=NO_FILE_TESTS)
    result = pytester.runpytest_subprocess(f"--exercises={exercises}", "-p", "no:randomly",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "TODO 4.1: FileNotFoundError: task4_registry.py is missing from the exercises folder" in output, output
    assert "seeded for a task file" not in output
