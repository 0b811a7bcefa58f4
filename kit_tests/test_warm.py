"""The warm judge: a student's rerun is judged by a process that outlived the last
run, with the same verdicts as a cold run; a dead judge is replaced unnoticed; a
socket folder another user could enter is never used. Its footprint: the first run says
it starts one, a new terminal (another PATH, ``python3`` for ``python``) reuses it,
``kata check`` says what runs in the background, ``kata stop`` stops it (and what it
started) and says what it freed."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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


ANNOUNCED = "Starting the kata's judge in the background"


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody reaped yet does not: a container's first
    process may never reap the orphans it inherits)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def other_name_of_python() -> str:
    """The virtualenv's interpreter by its other name (``python3`` for ``python``)."""
    folder = Path(sys.executable).parent
    for name in ("python3", "python"):
        if (folder / name).exists() and name != Path(sys.executable).name:
            return str(folder / name)
    return sys.executable


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
    # Ctrl-C on the first run while the judge it started warms up: the next run waits for
    # that judge (it started a second ~0.5-GB one, which `kata stop` never saw)
    interrupted = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "pytest"), "tests/test_task1.py",
         "--exercises", str(exercises), "-p", "no:cacheprovider"], cwd=KIT_ROOT, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime), "KATA_WARM_IDLE_S": "120", "KATA_WARM": "1"})
    folder, deadline = runtime / f"mlflow-kata-{os.getuid()}", time.monotonic() + 120
    while not (folder.is_dir() and list(folder.glob("judge-*.log"))):  # its judge is starting
        assert interrupted.poll() is None and time.monotonic() < deadline, interrupted.communicate()
        time.sleep(0.05)
    os.killpg(interrupted.pid, signal.SIGINT)
    _, interrupted_said = interrupted.communicate(timeout=120)
    first = student_pytest(exercises, runtime)
    started = judge_pids(runtime)
    # a new terminal: another PATH (it was part of the judge's key: a second ~0.5-GB judge)
    again = student_pytest(exercises, runtime, PATH=f"/usr/bin:/bin:{os.environ.get('PATH', '')}")
    assert len(started) == 1 and judge_pids(runtime) == started  # the rerun reused it
    assert ANNOUNCED in interrupted_said and ANNOUNCED not in first.stderr + again.stderr  # said once, by
    # the run that started it
    for run in (cold, first, again):
        assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    assert verdicts(first) == verdicts(cold) == verdicts(again)
    assert any(line.startswith("TODO 1.2: expected the id of the new run to be returned, but got "
                               "an ActiveRun") for line in verdicts(again))
    assert sum(line.startswith("PASSED ") for line in verdicts(again)) == 3

    # `kata check` is judged by the same warm judge, with the same verdicts, even run by
    # another name of the interpreter (`kata` runs .venv/bin/python3, pytest .venv/bin/python).
    check = subprocess.run(
        [other_name_of_python(), "-m", "grader", "check", "--task", "1", "--format", "json",
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
    replaced = [pid for pid in judge_pids(runtime) if pid != started[0]]
    assert replaced  # a new judge answered

    # `kata check` says what runs in the background; `kata stop` stops it and says what it freed.
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "KATA_WARM": "1", "COLUMNS": "300", "KATA_LANG": "en"}
    shown = subprocess.run([sys.executable, "-m", "grader", "check", "--task", "1", "--exercises", str(exercises)],
                           cwd=KIT_ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert re.search(r"In the background: the kata's judge \(\d+ processes, \d+ MB\); `kata stop` stops it now\.",
                     shown.stdout), shown.stdout[-2000:]
    stopped = subprocess.run([sys.executable, "-m", "grader", "stop"], cwd=KIT_ROOT, capture_output=True,
                             text=True, timeout=120, env=env)
    assert stopped.returncode == 0
    assert re.fullmatch(r"Stopped the kata's judge \(\d+ processes\): about \d+ MB of memory freed\.\n",
                        stopped.stdout), stopped.stdout + stopped.stderr
    assert not any(running(pid) for pid in replaced)
    assert not list((runtime / f"mlflow-kata-{os.getuid()}").glob("*.sock"))


def test_a_socket_folder_other_users_can_enter_is_never_used(student):
    exercises, runtime = student
    shared = runtime / f"mlflow-kata-{os.getuid()}"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    run = student_pytest(exercises, runtime)
    assert run.returncode == 1 and "3 passed" in run.stdout  # judged in the pytest process
    assert list(shared.iterdir()) == []  # no socket, no log: no judge


# -- the footprint, fast: real processes, no judge ---------------------------------------------

def test_a_new_terminal_finds_the_same_judge_whatever_its_path_or_pythons_name(monkeypatch):
    """PATH was part of the judge's key and the interpreter's name too: a terminal with
    another PATH, or ``kata`` (``python3``) after ``pytest`` (``python``), started a second
    judge. The sandbox's PATH is fixed instead, as its locale is."""
    from grader.judge import warm
    from grader.sandbox import client

    key = warm.judge_key()
    monkeypatch.setenv("PATH", "/somewhere/else:/usr/bin")
    monkeypatch.setattr(sys, "executable", other_name_of_python())
    assert warm.judge_key() == key
    assert "PATH" not in client.ZYGOTE_ENV and "/somewhere" not in client.ZYGOTE_PATH
    monkeypatch.setenv("TMPDIR", "/another/tmp")  # what does shape the sandbox still counts
    assert warm.judge_key() != key


FAKE_JUDGE = """
import socket, subprocess, sys, time
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(sys.argv[1])
listener.listen(1)
server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "mlflow", "models", "serve"])
print("ready", flush=True)
time.sleep(120)
"""


@pytest.fixture
def fake_judge(tmp_path, monkeypatch):
    """A process listening on a judge socket of this user's private folder, with a child
    whose command says ``mlflow models serve``: what ``kata stop`` finds and stops."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    folder = runtime / f"mlflow-kata-{os.getuid()}"
    folder.mkdir(mode=0o700)
    judge = subprocess.Popen([sys.executable, "-c", FAKE_JUDGE, str(folder / "judge-test.sock")],
                             stdout=subprocess.PIPE, text=True)
    assert judge.stdout.readline() == "ready\n"
    yield judge, folder
    judge.kill()
    judge.wait()


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="Linux /proc")
def test_kata_stop_stops_the_judge_and_what_it_started_and_says_what_it_freed(fake_judge, capsys):
    from grader.cli.main import main
    from grader.judge import footprint

    judge, folder = fake_judge
    (folder / "judge-gone.sock").touch()  # a socket nobody answers: a judge that is gone
    found = footprint.judges()
    assert [j.pid for j in found] == [judge.pid] and not (folder / "judge-gone.sock").exists()
    (found_judge,) = found
    assert len(found_judge.processes) == 2 and found_judge.serves_model and found_judge.memory > 1 << 20
    with i18n_use("es"):
        line = footprint.background_line(found, "es")
    assert re.fullmatch(r"En segundo plano: el juez del kata y el servidor del modelo del bonus \(2 procesos, "
                        r"\d+ MB\); `kata stop` lo detiene ya\.", line), line
    server = next(p.pid for p in found_judge.processes if p.pid != judge.pid)
    assert main(["stop", "--lang", "en"]) == 0
    said = capsys.readouterr().out
    assert re.fullmatch(r"Stopped the kata's judge and the bonus's model server \(2 processes\): "
                        r"about \d+ MB of memory freed\.\n", said), said
    assert judge.wait(timeout=10) is not None
    assert not running(server)
    assert not (folder / "judge-test.sock").exists()
    assert main(["stop", "--lang", "es"]) == 0
    assert capsys.readouterr().out == "Nada del kata se está ejecutando en segundo plano.\n"


def i18n_use(lang):
    from grader.core import i18n

    return i18n.use(lang)


def test_the_first_run_says_it_starts_the_judge_in_the_students_language(capsys, monkeypatch):
    from grader.core import i18n
    from grader.judge import warm

    monkeypatch.setenv(warm.IDLE_ENV, "600")
    with i18n.use("es"):
        warm.announce()
    said = capsys.readouterr().err
    assert said.startswith("Arrancando el juez del kata en segundo plano") and said.count("\n") == 1
    assert "`kata stop` lo detiene; se va solo tras 10 minutos sin uso." in said


def test_the_model_server_of_the_bonus_is_stopped_when_its_idle_time_is_over(monkeypatch):
    """The warm judge kept the bonus's model server (~0.5 GB) as long as itself: it stops it
    (``stop_shared``) a short while after the last run; the next run starts another."""
    from grader.judge import model_server

    server = model_server.ModelServer.__new__(model_server.ModelServer)  # a real process, not mlflow's
    server.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                                      start_new_session=True)
    server.namespaced = False
    monkeypatch.setattr(model_server, "_shared", server)
    monkeypatch.setattr(model_server, "_starting", None)
    assert model_server.serving()
    assert model_server.stop_shared() and server.process.poll() is not None
    assert not model_server.serving() and model_server._shared is None
    assert not model_server.stop_shared()  # nothing left to stop
