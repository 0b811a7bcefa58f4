"""``kata grade`` as a process: run by its full path without the virtualenv on PATH,
one run per ``OUT`` (a lock), and nothing left behind when it is interrupted or
killed (no worker, no model server, no workspace of student files).

One tiny class (a copy of the solutions) keeps this file near a minute: one killed with
-9, one interrupted with SIGINT; one run graded by full path of the bonus alone (what needs
the virtualenv's programs: ``mlflow models serve`` and uvicorn; the lock is tried against it
while it runs); a model server that cannot start is checked without grading.
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from grader.core.paths import KIT_ROOT
from grader.authoring.stubgen import render

SOLUTIONS = KIT_ROOT / "solutions"
BONUS = "bonus_serving.py"
KATA = Path(sys.executable).parent / "kata"  # the console script of the kit's install
GRADE = [sys.executable, "-m", "grader", "grade"]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc (Linux)")


@pytest.fixture(scope="module")
def tiny_class(tmp_path_factory):
    """One submission: the reference solutions, TODOs filled in."""
    submissions = tmp_path_factory.mktemp("tiny") / "submissions"
    exercises = submissions / "perfect" / "exercises"
    exercises.mkdir(parents=True)
    for path in SOLUTIONS.glob("*.py"):
        (exercises / path.name).write_text(render(path.read_text(), stub_ids=()))
    return submissions


def workspace_of(pid: int, timeout: float = 60) -> Path:
    """The workspace of the ``kata grade`` with this pid (its ``owner.pid``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for owner in Path(tempfile.gettempdir()).glob("kata-grade-*/owner.pid"):
            try:
                if owner.read_text().split()[0] == str(pid):
                    return owner.parent
            except (OSError, IndexError):
                pass
        time.sleep(0.1)
    raise AssertionError(f"kata grade (pid {pid}) made no workspace in {timeout} s")


def processes() -> dict[int, tuple[str, str]]:
    """Every live process: pid -> (command line, working directory)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            cwd = ""
        if command:  # zombies have none
            found[int(entry.name)] = (command, cwd)
    return found


def of_run(workspace: Path, port: str | None = None, by_cwd: bool = True) -> list[str]:
    """Command lines of the run's processes: naming its workspace (workers, model
    server), working in it (sandboxes), or serving on its model server's port."""
    marks = [str(workspace) + "/"] + ([f"--port {port} "] if port else [])
    return [command for command, cwd in processes().values()
            if any(mark in command for mark in marks)
            or (by_cwd and (cwd + "/").startswith(str(workspace) + "/"))]


def wait_until_grading(kata: subprocess.Popen, workspace: Path, timeout: float = 120) -> str | None:
    """Wait until the run's worker is up (its model server is then up too); return
    the server's port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert kata.poll() is None, kata.communicate()
        commands = of_run(workspace, by_cwd=False)
        if any("grader.classroom.worker" in command for command in commands):
            served = [re.search(r" -p (\d+)", c) for c in commands if "models serve" in c]
            return next((match.group(1) for match in served if match), None)
        time.sleep(0.1)
    raise AssertionError("kata grade's worker did not start")


def wait_for_none(workspace: Path, port: str | None, by_cwd: bool, timeout: float = 15) -> list[str]:
    deadline = time.monotonic() + timeout
    while (left := of_run(workspace, port, by_cwd)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.fixture(scope="module")
def full_path_run(tmp_path_factory):
    """``kata grade`` by its full path, with a minimal environment (no venv on PATH, a
    fresh HOME: no cache), started in the background (the lock test runs against it), on
    a submission of the bonus's reference solution alone: the bonus is what needs the
    virtualenv's own programs (its model server and uvicorn)."""
    if not KATA.is_file():
        pytest.skip(f"no kata console script next to {sys.executable}")
    root = tmp_path_factory.mktemp("full-path")
    bonus_only = root / "submissions" / "bonus_only" / "exercises"
    bonus_only.mkdir(parents=True)
    (bonus_only / BONUS).write_text(render((SOLUTIONS / BONUS).read_text(), stub_ids=()))
    out = root / "out"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(root)}
    kata = subprocess.Popen([str(KATA), "grade", str(root / "submissions"), "--out", str(out), "--jobs", "1"],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    yield {"process": kata, "out": out}
    if kata.poll() is None:
        kata.kill()
        kata.communicate()


def test_a_second_run_into_the_same_out_is_refused_while_one_runs(full_path_run, tiny_class):
    kata, out = full_path_run["process"], full_path_run["out"]
    lock, deadline = out / ".kata-lock", time.monotonic() + 60
    while time.monotonic() < deadline:  # the owner writes its pid once it holds the lock
        assert kata.poll() is None, kata.communicate()
        if lock.is_file() and lock.read_text().strip() == str(kata.pid):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the first kata grade never held OUT/.kata-lock")
    second = subprocess.run([*GRADE, str(tiny_class), "--out", str(out), "--jobs", "1"],
                            cwd=KIT_ROOT, capture_output=True, text=True, timeout=60)
    assert second.returncode != 0
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "another kata grade" in lines[0] and str(out) in lines[0], second.stderr
    assert kata.poll() is None  # the first run goes on


def test_run_by_full_path_without_the_venv_on_path_grades_the_bonus(full_path_run):
    kata, out = full_path_run["process"], full_path_run["out"]
    _, stderr = kata.communicate(timeout=600)
    assert kata.returncode == 0, stderr[-3000:]
    (bonus_only,) = json.loads((out / "results.json").read_text())["submissions"]
    todos = bonus_only["todos"]
    assert bonus_only["status"] == "graded", bonus_only
    assert todos["B.1"]["status"] == "pass" and todos["B.2"]["status"] == "pass", todos
    assert "task1_baseline.py is missing" in todos["1.1"]["message"], todos["1.1"]


def test_kill_9_leaves_no_process_and_the_next_run_removes_its_workspace(tiny_class, tmp_path):
    kata = subprocess.Popen([*GRADE, str(tiny_class), "--out", str(tmp_path / "out"), "--jobs", "1"],
                            cwd=KIT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        workspace = workspace_of(kata.pid)
        port = wait_until_grading(kata, workspace)
        assert port and (workspace / "staging").is_dir()
    finally:
        kata.kill()
        kata.wait()
    assert wait_for_none(workspace, port, by_cwd=False) == []  # workers, server: at once
    assert workspace.is_dir()  # kill -9 leaves it to the next run
    empty = tmp_path / "empty"
    empty.mkdir()
    nextrun = subprocess.run([*GRADE, str(empty), "--out", str(tmp_path / "out2")], cwd=KIT_ROOT,
                             capture_output=True, text=True, timeout=120)
    assert nextrun.returncode == 0, nextrun.stderr
    assert not workspace.exists()
    assert wait_for_none(workspace, port, by_cwd=True) == []


def test_sigint_stops_in_order_with_one_line_and_exit_130(tiny_class, tmp_path):
    out = tmp_path / "out"
    kata = subprocess.Popen([*GRADE, str(tiny_class), "--out", str(out), "--jobs", "1"],
                            cwd=KIT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        workspace = workspace_of(kata.pid)
        port = wait_until_grading(kata, workspace)
        kata.send_signal(signal.SIGINT)
        _, stderr = kata.communicate(timeout=60)
    finally:
        if kata.poll() is None:
            kata.kill()
            kata.communicate()
    assert kata.returncode == 130, stderr
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kata grade: interrupted"), stderr
    assert not workspace.exists()
    assert wait_for_none(workspace, port, by_cwd=True) == []
    assert not (out / "results.json").exists()


def test_a_model_server_that_cannot_start_makes_the_bonus_an_error_with_one_line(monkeypatch, tmp_path):
    import grader.judge.model_server
    from grader.classroom.serving import start_model_server
    from grader.judge.model_server import SERVER_ERROR_ENV

    def broken(home, **options):
        raise RuntimeError("mlflow models serve exited with code 127: exec: uvicorn: not found\n(log tail)")

    monkeypatch.setattr(grader.judge.model_server, "serve_kit_model", broken)
    env: dict[str, str] = {}  # the workers' environment
    assert start_model_server(tmp_path, env) is None
    reason = "kit error: the model server could not start: mlflow models serve exited with code 127"
    assert env == {SERVER_ERROR_ENV: reason + ": exec: uvicorn: not found"}  # no SERVER_ENV
    # What a worker then reports for the bonus (the fixture fails before any sandbox call).
    code = ("import json; from pathlib import Path; from grader.judge.runner import run_kata; "
            "run = run_kata(Path('solutions'), tasks=[5]); "
            "print(json.dumps({k: v.to_json() for k, v in run.todos.items()}))")
    run = subprocess.run([sys.executable, "-c", code], cwd=KIT_ROOT, capture_output=True, text=True,
                         timeout=120, env={**os.environ, **env})
    todos = json.loads(run.stdout.strip().splitlines()[-1])
    for todo_id in ("B.1", "B.2"):
        assert todos[todo_id]["status"] == "error"
        assert reason in todos[todo_id]["message"] and "\n" not in todos[todo_id]["message"]
