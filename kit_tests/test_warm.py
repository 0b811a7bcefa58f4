"""The warm judge: a student's rerun is judged by a process that outlived the last
run, with the same verdicts as a cold run; a dead judge is replaced unnoticed; a
socket folder another user could enter is never used."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from grader.core.paths import KIT_ROOT, SOLUTIONS_DIR
from grader.authoring.stubgen import render

MISTAKE = ("    return run.info.run_id if run else None\n", "    return run\n")  # costs 1.2 only


@pytest.fixture
def student(tmp_path):
    """A student's exercises (task 1 with one slip) and a private runtime folder."""
    exercises = tmp_path / "exercises"
    exercises.mkdir()
    source = render((SOLUTIONS_DIR / "task1_baseline.py").read_text(), stub_ids=())
    assert source.count(MISTAKE[0]) == 1
    (exercises / "task1_baseline.py").write_text(source.replace(*MISTAKE))
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    yield exercises, runtime
    for pid in judge_pids(runtime):  # judges started here leave with the test
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def judge_pids(runtime) -> list[int]:
    folder = runtime / f"mlflow-kata-{os.getuid()}"
    logs = folder.glob("judge-*.log") if folder.is_dir() else []
    return [int(pid) for log in logs for pid in re.findall(r"warm judge (\d+) ready", log.read_text())]


def student_pytest(exercises, runtime, **env) -> subprocess.CompletedProcess:
    """``pytest tests/test_task1.py`` as a student types it, by the venv's full path."""
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "pytest"), "tests/test_task1.py",
         "--exercises", str(exercises), "-p", "no:cacheprovider", "-rA"],
        cwd=KIT_ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime), "KATA_WARM_IDLE_S": "120",
             "KATA_WARM": "1", **env})


def verdicts(run: subprocess.CompletedProcess) -> list[str]:
    """The per-test outcome lines and each failure's first line (TODO id, message)."""
    lines = [line for line in run.stdout.splitlines()
             if line.startswith(("PASSED ", "FAILED ", "TODO "))]
    return sorted(re.sub(r"[0-9a-f]{32}", "<run id>", line) for line in lines)


def test_a_rerun_is_judged_warm_with_a_cold_runs_verdicts_even_after_the_judge_died(student):
    exercises, runtime = student
    cold = student_pytest(exercises, runtime, KATA_WARM="0")
    assert judge_pids(runtime) == []  # KATA_WARM=0: no judge was started
    first = student_pytest(exercises, runtime)
    started = judge_pids(runtime)
    again = student_pytest(exercises, runtime)
    assert len(started) == 1 and judge_pids(runtime) == started  # the rerun reused it
    for run in (cold, first, again):
        assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    assert verdicts(first) == verdicts(cold) == verdicts(again)
    assert any(line.startswith("TODO 1.2: expected the id of the new run to be returned, but got "
                               "an ActiveRun") for line in verdicts(again))
    assert sum(line.startswith("PASSED ") for line in verdicts(again)) == 3

    # `kata check` is judged by the same warm judge, with the same verdicts.
    check = subprocess.run(
        [sys.executable, "-m", "grader", "check", "--task", "1", "--format", "json",
         "--exercises", str(exercises)], cwd=KIT_ROOT, capture_output=True, text=True,
        timeout=600, env={**os.environ, "XDG_RUNTIME_DIR": str(runtime), "KATA_WARM_IDLE_S": "120",
                          "KATA_WARM": "1"})
    checked = json.loads(check.stdout)["todos"]
    assert judge_pids(runtime) == started, check.stderr[-2000:]
    assert [todo for todo, result in checked.items() if result["status"] != "pass"] == ["1.2"]
    assert checked["1.2"]["message"].startswith("TODO 1.2: expected the id of the new run to be "
                                                "returned, but got an ActiveRun")

    # Two terminals at once: the second run waits its turn; the judge is not taken for stale.
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(lambda _: student_pytest(exercises, runtime), range(2)))
    assert [verdicts(run) for run in together] == [verdicts(cold)] * 2
    assert judge_pids(runtime) == started

    # A judge that died (killed, crashed, the machine slept) is replaced unnoticed.
    os.kill(started[0], signal.SIGKILL)
    time.sleep(0.2)
    after = student_pytest(exercises, runtime)
    assert verdicts(after) == verdicts(cold), after.stdout[-2000:] + after.stderr[-2000:]
    assert "Traceback" not in after.stdout + after.stderr
    assert [pid for pid in judge_pids(runtime) if pid != started[0]]  # a new judge answered


def test_a_socket_folder_other_users_can_enter_is_never_used(student):
    exercises, runtime = student
    shared = runtime / f"mlflow-kata-{os.getuid()}"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    run = student_pytest(exercises, runtime)
    assert run.returncode == 1 and "3 passed" in run.stdout  # judged in the pytest process
    assert list(shared.iterdir()) == []  # no socket, no log: no judge
