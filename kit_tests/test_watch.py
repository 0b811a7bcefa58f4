"""`kata watch`: noticing saves (watchfiles and the polling fallback), the loop with a
fake test run (moves on when green, Ctrl-C → 130), and once for real: a subprocess on a
copy of the stubs goes green on task 1 when its solution is saved, moves to task 2, and
stops cleanly on SIGINT sent to its process group (as a terminal's Ctrl-C is)."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.student import hints
from grader.core.paths import EXERCISES_DIR, KIT_ROOT, SOLUTIONS_DIR
from grader.results.model import KataRun, Status, TodoResult
from grader.lab.todos import load_todos
from grader.student.watch import Changes, watch


@pytest.fixture(autouse=True)
def state(tmp_path, monkeypatch):
    monkeypatch.setenv(hints.STATE_ENV, str(tmp_path / "state"))


# -- noticing a save ------------------------------------------------------------------

def test_polling_notices_a_saved_source_file_only(tmp_path):
    source = tmp_path / "task1_baseline.py"
    source.write_text("x = 1\n")
    changes = Changes(tmp_path, poll_s=0.01, polling=True)
    changes.mark()
    steps = iter([
        lambda: (tmp_path / "notes.txt").write_text("not code"),
        lambda: (tmp_path / "__pycache__").mkdir() or (tmp_path / "__pycache__" / "x.py").write_text(""),
        lambda: source.write_text("x = 22\n"),
    ])
    looked = []

    def sleep(_seconds):
        looked.append(1)
        next(steps)()

    assert changes.wait(sleep) == [str(source)]
    assert len(looked) == 3  # the two other writes did not count


def test_watchfiles_notices_a_save_made_while_the_tests_ran(tmp_path):
    pytest.importorskip("watchfiles")
    source = tmp_path / "task2_tuning.py"
    source.write_text("x = 1\n")
    changes = Changes(tmp_path, poll_s=0.05, polling=False)
    changes.mark()  # before the run …
    time.sleep(0.3)  # (the watcher thread gets going)
    source.write_text("x = 2\n")  # … a save during it …
    found: queue.Queue = queue.Queue()
    waiter = threading.Thread(target=lambda: found.put(changes.wait()), daemon=True)
    waiter.start()  # … is there when the run ends
    try:
        assert [Path(path).resolve() for path in found.get(timeout=20)] == [source.resolve()]
    finally:
        changes.close()


# -- the loop, with a fake run ---------------------------------------------------------

class Saves:
    """Changes whose every wait is one save; Ctrl-C after the last."""

    def __init__(self, count: int):
        self.count, self.polling, self.poll_s = count, False, 0.0

    def mark(self):
        pass

    def wait(self):
        if not self.count:
            raise KeyboardInterrupt
        self.count -= 1
        return ["task.py"]

    def close(self):
        pass


def verdicts(task: int, passing: bool) -> KataRun:
    return KataRun({todo.id: TodoResult(Status.PASS) if passing else
                    TodoResult(Status.FAIL, f"TODO {todo.id}: expected something")
                    for todo in load_todos() if todo.task == task}, 0.1, [])


def test_the_loop_moves_on_when_green_and_stops_on_ctrl_c(tmp_path, capsys):
    runs = []
    script = iter([False, True, False])  # task 1 red, saved → green; task 2 red

    def run_task(folder, tasks):
        runs.append(tasks)
        return verdicts(tasks[0], next(script))

    assert watch(tmp_path, None, "en", Saves(1), run_task) == 130
    out = capsys.readouterr().out
    assert runs == [[1], [1], [2]]
    assert "✓ Task 1 is green — on to task 2." in out
    assert "TODO 2.1: expected something" in out
    assert "hint 1/3: " + next(t for t in load_todos() if t.id == "2.1").hints_en[0][:40] in out.replace("\n", " ")
    assert out.rstrip().endswith("kata watch: stopped.")


def test_ctrl_c_during_a_run_stops_too(tmp_path, capsys):
    def run_task(folder, tasks):
        return KataRun({}, 0.1, ["pytest exited with INTERRUPTED"])

    assert watch(tmp_path, "bonus", "es", Saves(5), run_task) == 130
    assert "kata watch: detenido." in capsys.readouterr().out


def test_a_missing_folder_is_one_line(tmp_path, capsys):
    assert watch(tmp_path / "nope", None, "en") == 2
    assert capsys.readouterr().err.startswith("kata watch: no folder")


# -- for real ---------------------------------------------------------------------------

class Screen:
    """A subprocess's stdout, line by line, waited on with a deadline."""

    def __init__(self, process: subprocess.Popen):
        self.lines: list[str] = []
        self._new = threading.Condition()
        self.reader = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self.reader.start()
        self.errors: list[str] = []  # read too, so a chatty stderr cannot block the process
        threading.Thread(target=lambda: self.errors.extend(process.stderr), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            with self._new:
                self.lines.append(line.rstrip("\n"))
                self._new.notify_all()

    def wait_for(self, text: str, after: int = 0, timeout: float = 180) -> int:
        """The index of the first line from ``after`` containing ``text``."""
        deadline = time.monotonic() + timeout
        with self._new:
            while True:
                for index in range(after, len(self.lines)):
                    if text in self.lines[index]:
                        return index
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {text!r} in {timeout} s; screen:\n" + "\n".join(self.lines))
                self._new.wait(left)


def test_kata_watch_goes_green_moves_on_and_stops_on_sigint(tmp_path):
    exercises = tmp_path / "exercises"
    shutil.copytree(EXERCISES_DIR, exercises, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120", "KATA_WARM": "0",
           hints.STATE_ENV: str(tmp_path / "state")}
    process = subprocess.Popen(
        [sys.executable, "-m", "grader", "watch", "1", "--exercises", str(exercises), "--lang", "en"],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(KIT_ROOT)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        screen = Screen(process)
        red = screen.wait_for("0/4 TODOs of task 1 pass")
        screen.wait_for("TODO 1.2: expected", red)  # 1.1 waits for the run 1.2 starts
        waiting = screen.wait_for("save a file to rerun", red)
        shutil.copy(SOLUTIONS_DIR / "task1_baseline.py", exercises / "task1_baseline.py")
        green = screen.wait_for("✓ Task 1 is green — on to task 2.", waiting)
        task2 = screen.wait_for("0/4 TODOs of task 2 pass", green)
        screen.wait_for("save a file to rerun", task2)
        os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole group
        assert process.wait(timeout=60) == 130
        screen.reader.join(timeout=10)
        assert screen.lines[-1] == "kata watch: stopped."
        assert screen.wait_for("kata watch: stopped.", task2, timeout=1) == len(screen.lines) - 1
        assert not any("Traceback" in line for line in screen.errors), "".join(screen.errors)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
