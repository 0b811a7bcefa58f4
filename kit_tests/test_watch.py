"""`kata watch`: noticing saves with watchfiles, by file events and by its polling where
those are missing (a network or host-shared file system, file events that cannot start),
which tasks a save reruns and where the watch goes next (as functions), the loop with a
fake test run (moves on when green, a save reruns the saved file's task whatever the
current one, "every task is green" only when each passed in its last run, Ctrl-C → 130),
and for real in both
modes: a subprocess on a copy of the stubs goes green on task 1 when its solution is
saved, moves to task 2, and stops cleanly on SIGINT sent to its process group (as a
terminal's Ctrl-C is)."""

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
from grader.student.watch import Changes, needs_polling, next_focus, to_rerun, watch


@pytest.fixture(autouse=True)
def state(tmp_path, monkeypatch):
    monkeypatch.setenv(hints.STATE_ENV, str(tmp_path / "state"))


# -- noticing a save ------------------------------------------------------------------

MODES = pytest.mark.parametrize("polling", [False, True], ids=["file-events", "polling"])


def waiting(changes: Changes) -> queue.Queue:
    """``changes.wait()`` in a thread; what it returns arrives on the queue."""
    found: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: found.put(changes.wait()), daemon=True).start()
    return found


@MODES
def test_a_saved_source_file_is_noticed_and_nothing_else(tmp_path, polling):
    source = tmp_path / "task1_baseline.py"
    source.write_text("x = 1\n")
    changes = Changes(tmp_path, poll_s=0.05, polling=polling)
    changes.mark()
    try:
        time.sleep(3)  # the run (seconds, as a real one): the watcher is going by then
        (tmp_path / "notes.txt").write_text("not code")
        (tmp_path / "__pycache__").mkdir()
        (tmp_path / "__pycache__" / "x.py").write_text("")
        found = waiting(changes)
        with pytest.raises(queue.Empty):  # the two other writes did not count
            found.get(timeout=1.5)
        source.write_text("x = 22\n")
        assert [Path(path).resolve() for path in found.get(timeout=20)] == [source.resolve()]
        assert changes.polling is polling
    finally:
        changes.close()


@MODES
def test_a_save_made_while_the_tests_ran_is_noticed(tmp_path, polling):
    source = tmp_path / "task2_tuning.py"
    source.write_text("x = 1\n")
    changes = Changes(tmp_path, poll_s=0.05, polling=polling)
    changes.mark()  # before the run …
    time.sleep(3)  # the run (seconds, as a real one): the watcher is going by then
    source.write_text("x = 2  # saved\n")  # … a save during it (polling sees size or mtime: both change) …
    try:  # … is there when the run ends
        assert [Path(path).resolve() for path in waiting(changes).get(timeout=20)] == [source.resolve()]
    finally:
        changes.close()


MOUNTINFO = "\n".join([
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
    "30 22 0:40 / /srv/class rw,relatime shared:9 - nfs4 server:/class rw,vers=4.2",
    "31 30 8:2 / /srv/class/local rw,relatime - ext4 /dev/sda2 rw",
    "32 22 0:41 / /home/ana/remote rw,nosuid - fuse.sshfs ana@host:/ rw,user_id=1000",
    "33 22 0:42 / /mnt/my\\040share rw - cifs //host/share rw",
    "34 22 0:43 / /mnt/c rw - 9p drvfs rw",
    "35 22 0:44 / /tmp rw - tmpfs tmpfs rw",
    "36 22 0:45 / /media/usb rw - fuseblk /dev/sdb1 rw",
])


@pytest.mark.parametrize("folder,polled", [
    ("/home/ana/kata/exercises", False), ("/srv/class/ana/exercises", True),
    ("/srv/class/local/exercises", False), ("/home/ana/remote/kata/exercises", True),
    ("/mnt/my share/exercises", True), ("/mnt/c/Users/ana/exercises", True), ("/tmp/exercises", False),
    ("/media/usb/exercises", False), ("/srv/classic/exercises", False),
])
def test_a_folder_whose_changes_raise_no_events_is_polled(folder, polled):
    assert needs_polling(Path(folder), {}, MOUNTINFO) is polled


@pytest.mark.parametrize("value,polled", [("1", True), ("true", True), ("false", False), ("disable", False)])
def test_watchfiles_own_switch_decides_first(value, polled):
    assert needs_polling(Path("/srv/class/ana"), {"WATCHFILES_FORCE_POLLING": value}, MOUNTINFO) is polled
    assert needs_polling(Path("/home/ana"), {"WATCHFILES_FORCE_POLLING": value}, MOUNTINFO) is polled


def test_file_events_that_cannot_start_fall_back_to_polling(tmp_path, monkeypatch):
    """E.g. the inotify watch limit reached: watchfiles raises OSError when it starts."""
    import watchfiles

    real, modes = watchfiles.watch, []

    def watch(*args, force_polling, **kwargs):
        modes.append(force_polling)
        if not force_polling:
            raise OSError("OS file watch limit reached.")
        return real(*args, force_polling=force_polling, **kwargs)

    monkeypatch.setattr(watchfiles, "watch", watch)
    source = tmp_path / "task1_baseline.py"
    source.write_text("x = 1\n")
    changes = Changes(tmp_path, poll_s=0.05, polling=False)
    changes.mark()
    time.sleep(3)  # (the polling watcher is going, as after a real run)
    source.write_text("x = 2  # saved\n")  # (polling sees size or mtime: both change)
    try:
        assert [Path(path).resolve() for path in waiting(changes).get(timeout=20)] == [source.resolve()]
    finally:
        changes.close()
    assert modes == [False, True] and changes.polling


def test_a_folder_that_cannot_be_watched_at_all_is_one_line(tmp_path, monkeypatch, capsys):
    import watchfiles

    def refuse(*args, **kwargs):
        raise PermissionError("permission denied")

    monkeypatch.setattr(watchfiles, "watch", refuse)
    def run(folder, tasks):
        return verdicts(tasks[0], False)

    assert watch(tmp_path, None, "en", Changes(tmp_path, poll_s=0.05), run) == 2
    assert capsys.readouterr().err.startswith(f"kata watch: cannot watch {tmp_path}: permission denied")


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


def test_the_loop_moves_on_when_green_and_stops_on_ctrl_c(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    runs = []
    script = iter([False, True, False])  # task 1 red, saved → green; task 2 red

    def run_task(folder, tasks):
        runs.append(tasks)
        return verdicts(tasks[0], next(script))

    assert watch(tmp_path, None, "en", Saves(1), run_task) == 130
    out = capsys.readouterr().out
    assert runs == [[1], [1], [2]]
    assert out.count("✓ Task 1 is green — on to task 2.") == 1  # said once, under task 2's title
    assert out.index("✓ Task 1 is green — on to task 2.") > out.index("kata watch — task 2")
    assert "✗ fails" in out and "✓ passes" in out  # every mark on the screen is explained
    assert "TODO 2.1: expected something" in out
    assert "hint 1/3: " + next(t for t in load_todos() if t.id == "2.1").hints_en[0][:40] in out.replace("\n", " ")
    assert out.rstrip().endswith("kata watch: stopped.")
    assert max(map(len, out.splitlines())) <= 79  # a line filling the terminal wraps in some


# -- what a save reruns, where the watch goes next ----------------------------------------

def test_a_save_reruns_the_task_of_the_saved_file_and_every_task_importing_it(tmp_path):
    exercises = tmp_path / "exercises"
    shutil.copytree(EXERCISES_DIR, exercises, ignore=shutil.ignore_patterns("__pycache__"))
    (exercises / "helpers.py").write_text("import os\n")
    (exercises / "unused.py").write_text("x = 1\n")
    (exercises / "shared").mkdir()
    (exercises / "shared" / "__init__.py").write_text("")
    (exercises / "shared" / "io.py").write_text("def read():\n    return 1\n")
    with open(exercises / "task2_tuning.py", "a") as task2:  # task 2 uses helpers …
        task2.write("\nimport helpers  # noqa\n")
    with open(exercises / "task4_registry.py", "a") as task4:  # … task 4 uses task 3, which uses shared
        task4.write("\nfrom task3_compare import compare_models  # noqa\n")
    with open(exercises / "task3_compare.py", "a") as task3:
        task3.write("\nfrom shared.io import read  # noqa\n")
    (exercises / "bonus_serving.py").write_text("def build_request(rows:\n")  # does not parse

    def saved(*names, current=5):
        return to_rerun([str(exercises / name) for name in names], exercises, current)

    # the issue: every task green, the current one the bonus — a save of task 1's file reruns task 1
    assert saved("task1_baseline.py") == [1]
    assert saved("task2_tuning.py", current=1) == [2]
    assert saved("helpers.py") == [2]
    assert saved("task3_compare.py", current=1) == [3, 4]  # task 4 imports it
    assert saved("shared/io.py", current=1) == [3, 4]  # through task 3
    assert saved("bonus_serving.py", current=1) == [5]  # its own task says why it does not parse
    assert saved("task1_baseline.py", "task2_tuning.py") == [1, 2]
    assert saved("unused.py", current=3) == [3]  # nothing imports it: the current task
    assert to_rerun([str(tmp_path / "elsewhere.py")], exercises, 2) == [2]


def test_the_watch_goes_to_the_first_red_task_and_says_all_green_only_when_every_last_run_passed():
    assert next_focus(1, [1], {1: False}) == 1  # red: stay
    assert next_focus(1, [1], {1: True}) == 2  # green: on to a task never run
    assert next_focus(5, [1], {1: False, 2: True, 3: True, 4: True, 5: True}) == 1  # a saved task went red
    assert next_focus(3, [1], {1: True, 3: False}) == 3  # another task went green: back to the current one
    assert next_focus(3, [1, 3], {1: False, 3: False}) == 3  # the current one among the red
    assert next_focus(3, [1, 2], {1: False, 2: False, 3: False}) == 1
    assert next_focus(5, [5], {1: True, 2: True, 3: True, 4: True, 5: True}) is None
    # green in its last run, not just once: task 2 went red since
    assert next_focus(5, [5], {1: True, 2: False, 3: True, 4: True, 5: True}) == 2
    assert next_focus(3, [3], {3: True}) == 4  # from `kata watch 3`: on, then from the first
    assert next_focus(5, [5], {3: True, 4: True, 5: True}) == 1


class SavesOf(Saves):
    """Changes whose waits are these saves (lists of file names in ``folder``); Ctrl-C after."""

    def __init__(self, folder: Path, *saves: list[str]):
        super().__init__(len(saves))
        self.folder, self.saves = folder, list(saves)

    def wait(self):
        super().wait()
        return [str(self.folder / name) for name in self.saves.pop(0)]


def test_a_save_reruns_its_task_whatever_the_current_one_and_all_green_is_never_a_lie(tmp_path, capsys):
    """The issue: once every task was green, a save reran only the bonus and the watch said
    every task was green while tasks 1 and 2 were broken."""
    runs, passing = [], {1: True, 2: True, 3: True, 4: True, 5: True}

    def run_task(folder, tasks):
        runs.append(tasks[0])
        return verdicts(tasks[0], passing[tasks[0]])

    saves = SavesOf(tmp_path, ["task1_baseline.py"], ["task2_tuning.py"], ["task1_baseline.py"],
                    ["task2_tuning.py"])
    original_wait = saves.wait

    def wait():  # the student breaks task 1, then task 2, then fixes 1, then 2
        found = original_wait()
        step = 4 - len(saves.saves)
        passing.update({1: {1: False, 2: False, 3: True, 4: True}[step], 2: {1: True, 2: False, 3: False, 4: True}[step]})
        return found

    saves.wait = wait
    assert watch(tmp_path, None, "es", saves, run_task) == 130
    out = capsys.readouterr().out
    assert runs == [1, 2, 3, 4, 5, 1, 2, 1, 2]
    screens = [" ".join(screen.split()) for screen in out.split("✓ Todas las tareas están en verde. ¡Enhorabuena!")]
    assert len(screens) == 3  # after the first pass, and after the last fix; never in between
    assert "0/4 TODOs de la tarea 1 pasan" in screens[1] and "0/4 TODOs de la tarea 2 pasan" in screens[1]
    # task 1 is fixed while task 2 is red: back to task 2, its last run shown, not rerun
    assert "La última ejecución de la tarea 2 (ninguno de sus archivos ha cambiado desde entonces):" in screens[1]
    assert out.count("pasamos a la tarea") == 4  # each move said once
    assert "✗ falla" in out and "✓ pasa" in out


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


@pytest.mark.parametrize("force_polling", ["false", "1"], ids=["file-events", "polling"])
def test_kata_watch_goes_green_moves_on_and_stops_on_sigint(tmp_path, force_polling):
    """Once with the kernel's file events, once as where they are missing (watchfiles'
    polling, chosen as a network file system would choose it)."""
    exercises = tmp_path / "exercises"
    shutil.copytree(EXERCISES_DIR, exercises, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120", "KATA_WARM": "0",
           hints.STATE_ENV: str(tmp_path / "state"), "WATCHFILES_FORCE_POLLING": force_polling}
    process = subprocess.Popen(
        [sys.executable, "-m", "grader", "watch", "1", "--exercises", str(exercises), "--lang", "en"],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(KIT_ROOT)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
        # as a terminal starts it: Ctrl-C not ignored, whatever an earlier test in this pytest
        # worker left (a child inherits an ignored SIGINT across exec; local:N's Dask workers
        # ignore it, grader.classroom.dask_worker.LeaveInterruptsToKataGrade)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        screen = Screen(process)
        red = screen.wait_for("0/4 TODOs of task 1 pass")
        screen.wait_for("TODO 1.2: expected", red)  # 1.1 waits for the run 1.2 starts
        waiting = screen.wait_for("save a file to rerun", red)
        polling_note = any("(no file events here: looking for changes every" in line
                           for line in screen.lines[red:waiting])
        assert polling_note is (force_polling == "1")
        shutil.copy(SOLUTIONS_DIR / "task1_baseline.py", exercises / "task1_baseline.py")
        green = screen.wait_for("✓ Task 1 is green — on to task 2.", waiting)
        task2 = screen.wait_for("0/4 TODOs of task 2 pass", green)
        screen.wait_for("save a file to rerun", task2)
        os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole group
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:  # say what is still running, and what it said
            group = subprocess.run(["ps", "-o", "pid,stat,etime,wchan:20,args", "-g", str(process.pid)],
                                   capture_output=True, text=True).stdout
            raise AssertionError("kata watch still running 60 s after SIGINT:\n" + group
                                 + "\nstdout tail:\n" + "\n".join(screen.lines[-5:])
                                 + "\nstderr tail:\n" + "".join(screen.errors[-20:])) from None
        assert code == 130
        screen.reader.join(timeout=10)
        assert screen.lines[-1] == "kata watch: stopped."
        assert screen.wait_for("kata watch: stopped.", task2, timeout=1) == len(screen.lines) - 1
        assert not any("Traceback" in line for line in screen.errors), "".join(screen.errors)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
