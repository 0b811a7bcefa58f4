"""Progressive hints: the levels in todos.toml (checked on load), `kata hint` showing one
more level each time and remembering it per exercises folder, and `kata check` showing
the level reached; `kata check`'s screen (one line per task, the failing TODOs opened;
`--all` for every TODO), its last line (the bonus's real state) and the bonus's name
(`bonus`, `5` an alias). All in-process and cheap (no kata test runs)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from grader.student import hints
from grader.student.check import show
from grader.core.paths import KIT_ROOT, SOLUTIONS_DIR
from grader.results.model import KataRun, Status, TodoResult
from grader.lab.todos import HINT_LEVELS, TODOS_FILE, _table, load_todos, todo_by_id


@pytest.fixture
def state(tmp_path, monkeypatch) -> Path:
    """A private state folder for the levels seen."""
    folder = tmp_path / "state"
    monkeypatch.setenv(hints.STATE_ENV, str(folder))
    return folder


@pytest.fixture
def exercises(tmp_path) -> Path:
    folder = tmp_path / "exercises"
    folder.mkdir()
    return folder


# -- the table ------------------------------------------------------------------------

def test_every_todo_has_two_or_three_levels_in_both_languages():
    for todo in load_todos():
        assert HINT_LEVELS[0] <= len(todo.hints_en) == len(todo.hints_es) <= HINT_LEVELS[1], todo.id
        assert all(level.strip() for level in todo.hints_en + todo.hints_es)
        assert len(set(todo.hints_en)) == len(todo.hints_en), f"{todo.id}: a level repeats"
        # Level 1 is what failure messages and reports show.
        assert (todo.hint_en, todo.hint_es) == (todo.hints_en[0], todo.hints_es[0])
        assert todo.hint("en") == todo.hint_en and todo.hint("es") == todo.hint_es
        assert todo.hint("es", 99) == todo.hints_es[-1] and todo.hint("en", 0) == todo.hints_en[0]


def test_spanish_hints_keep_logging_and_registering_apart():
    """*log* is "anotar"; "registrar" is only for the Model Registry."""
    for todo in load_todos():
        for level in todo.hints_es:
            for sentence in re.split(r"(?<=[.;:])\s", level):
                if re.search(r"\bregistr", sentence, re.IGNORECASE):
                    assert "Model Registry" in sentence, (todo.id, sentence)
        if todo.task in (1, 2, 3):  # tracking only: nothing is registered
            assert not any(re.search(r"\bregistr", level, re.IGNORECASE) for level in todo.hints_es), todo.id


@pytest.mark.parametrize("change, error", [
    (lambda row: row.update(hints_es=row["hints_es"][:1]), "hints_es has 1 levels"),
    (lambda row: row.update(hints_en=row["hints_en"] * 2), "levels, not 2-3"),
    (lambda row: row.update(hints_es=row["hints_es"][:2]), "hints_en has 3 levels, hints_es 2"),
    (lambda row: row.update(hints_en=["a nudge", ""]), "non-empty strings"),
    (lambda row: row.update(hint_en="one hint"), "lists of levels"),
], ids=["one-level", "too-many", "counts-differ", "empty-level", "old-field"])
def test_the_loader_refuses_bad_hint_levels(tmp_path, change, error):
    import tomllib

    data = tomllib.loads(TODOS_FILE.read_text(encoding="utf-8"))
    row = next(row for row in data["todo"] if row["id"] == "1.3")
    change(row)
    path = tmp_path / "todos.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(error)):
        _table(path)


def to_toml(data: dict) -> str:
    """Enough TOML for the task and TODO tables (strings, ints, bools, lists of strings)."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(item) for item in v) + "]"
        return json.dumps(v, ensure_ascii=False)
    return "".join(f"[[{table}]]\n" + "".join(f"{k} = {value(v)}\n" for k, v in row.items()) + "\n"
                   for table in ("task", "todo") for row in data[table])


def test_the_last_levels_do_not_hand_out_the_solutions(tmp_path):
    """The release's no-solution check reads level 1 as a TODO's public text: the other
    levels (and LAB.md's examples) come near the code without containing a solution's
    TODO region."""
    from grader.authoring.release import find_leaks, fingerprints

    bodies, _told, _short = fingerprints(SOLUTIONS_DIR)
    assert len(bodies) >= len(load_todos()) // 2
    (tmp_path / "grader" / "lab").mkdir(parents=True)
    shutil.copy(TODOS_FILE, tmp_path / "grader" / "lab" / "todos.toml")
    shutil.copy(KIT_ROOT / "LAB.md", tmp_path / "LAB.md")
    assert find_leaks(tmp_path, bodies) == []


# -- a ladder that teaches: level 1 gives no code away ---------------------------------

CALLED = re.compile(r"([A-Za-z_]\w*)\s*\(")  # a called name: set_experiment( , float(
CALL_TOKEN = re.compile(r"[A-Za-z_][\w.]*\(")  # code calling something, as a hint writes it
CODE_MARK = re.compile(r"[(=\[.]")  # what makes a region line code rather than a bare name
MIN_LINE = 16  # characters (without whitespace) of a region line worth looking for


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


class Region:
    """One TODO's solution region in ``solutions/`` (``# BEGIN TODO`` … ``# END TODO``,
    read with the stub generator's own markers) and what its stub shows."""

    def __init__(self, todo_id: str):
        self.id = todo_id
        self.code: list[str] = []  # the region's lines (its ``# STUB:`` lines aside)
        self.stub: list[str] = []  # the ``# STUB:`` lines: code the student file shows

    @property
    def lines(self) -> list[str]:
        """The region's lines of code worth looking for, whitespace and a trailing , or :
        dropped: ``mlflow.set_experiment(experiment_name)``, not ``)``, ``name="model",``
        or a call's opening line ``mlflow.log_params(`` (its name counts, in ``names``)."""
        found = []
        for line in self.code:
            line = squeezed(line).rstrip(",:")
            if (len(line) >= MIN_LINE and not line.startswith("#") and not line.endswith("(")
                    and CODE_MARK.search(line)):
                found.append(line)
        return found

    @property
    def names(self) -> set[str]:
        """Every name the region calls: ``set_experiment``, ``items``, ``float``."""
        return {name for line in self.code for name in CALLED.findall(line)}

    def shown(self, todo) -> str:
        """What the student file shows of this TODO: its comment (both languages) and
        its stub code."""
        return "\n".join([todo.todo_en, todo.todo_es, *self.stub])


def solution_regions() -> dict[str, Region]:
    from grader.authoring.stubgen import BEGIN, END, STUB

    regions: dict[str, Region] = {}
    for path in sorted(SOLUTIONS_DIR.glob("*.py")):
        current = None
        for line in path.read_text(encoding="utf-8").splitlines():
            if begin := BEGIN.match(line):
                current = regions.setdefault(begin["id"], Region(begin["id"]))
            elif END.match(line):
                current = None
            elif current is not None and (stub := STUB.match(line)):
                current.stub.append(stub["code"])
            elif current is not None and line.strip():
                current.code.append(line)
    return regions


def names_in(text: str, names: set[str]) -> set[str]:
    """The names of ``names`` that ``text`` mentions: a Python builtin only when called
    (``float(``, as prose says "a float"), any other name as a word (``log_params``)."""
    import builtins

    return {name for name in names
            if re.search(rf"(?<![\w.]){re.escape(name)}\(" if hasattr(builtins, name) else
                         rf"\b{re.escape(name)}\b", text)}


def given_away(todo, region: Region, level: str) -> list[str]:
    """What ``level`` shows of the solution that the student file does not: the region's
    called names, its lines of code, and any call written out."""
    shown = region.shown(todo)
    found = [f"calls {name}" for name in sorted(names_in(level, region.names) - names_in(shown, region.names))]
    found += [f"has the line {line}" for line in region.lines
              if line in squeezed(level) and line not in squeezed(shown)]
    found += [f"writes the call {call}" for call in sorted(set(CALL_TOKEN.findall(level)))
              if squeezed(call) not in squeezed(shown)]
    return found


def test_every_todo_has_a_solution_region_with_calls_to_look_for():
    regions = solution_regions()
    assert set(regions) == {todo.id for todo in load_todos()}
    for region in regions.values():
        assert region.names and region.lines, region.id
    assert "set_experiment" in regions["1.1"].names and "float" in regions["B.2"].names
    assert "mlflow.set_experiment(experiment_name)" in regions["1.1"].lines
    assert regions["1.2"].stub == ["with nullcontext():"]


def test_level_1_is_a_nudge_that_gives_no_code_the_todo_comment_does_not_show():
    """Level 1 is what every failing test prints: the concept and where to look, never a
    call or a line of the solution region the student's TODO comment does not already
    show (``mlflow.set_experiment(experiment_name)`` was 1.1's level 1)."""
    regions = solution_regions()
    problems = [f"TODO {todo.id} ({lang}): level 1 {what}"
                for todo in load_todos() for lang in ("en", "es")
                for what in given_away(todo, regions[todo.id], todo.hint(lang, 1))]
    assert problems == []


def test_the_middle_level_names_the_call_and_only_the_last_comes_near_the_code():
    """Level 2 names a call of the solution region; no level before the last has a whole
    line of the region the TODO comment does not show (1.2's level 2 was its line), and no
    level has the whole region where it is worth fingerprinting (``kata release``)."""
    from grader.authoring.release import fingerprints, normalised

    regions = solution_regions()
    bodies, _told, _short = fingerprints(SOLUTIONS_DIR)
    problems = []
    for todo in load_todos():
        region = regions[todo.id]
        for lang in ("en", "es"):
            levels = todo.hints(lang)
            if not names_in(levels[1], region.names):
                problems.append(f"TODO {todo.id} ({lang}): level 2 names none of {sorted(region.names)}")
            for number, level in enumerate(levels[:-1], start=1):
                problems += [f"TODO {todo.id} ({lang}): level {number} has the line {line}"
                             for line in region.lines
                             if line in squeezed(level) and line not in squeezed(region.shown(todo))]
            for number, level in enumerate(levels, start=1):
                if any(body in normalised(level) for body in bodies.get(todo.id, [])):
                    problems.append(f"TODO {todo.id} ({lang}): level {number} is the whole solution")
    assert problems == []


# -- kata hint --------------------------------------------------------------------------

def test_kata_hint_shows_level_1_alone_first_then_one_level_more_each_time_then_says_there_are_no_more(
        state, exercises, capsys):
    """The first ask showed levels 1 and 2 at once: a student asking for a nudge got the
    MLflow call with it. Now one level per ask, level 1 first."""
    todo = todo_by_id()["1.3"]
    assert hints.current_level(todo, exercises) == 1  # the failing test shows level 1
    shown = []
    for _ in range(len(todo.hints_en) + 1):
        assert hints.main_for("1.3", str(exercises), "en") == 0
        shown.append(capsys.readouterr().out)
    for level, out in enumerate(shown[:3], start=1):
        assert out.splitlines()[:2] == [f"TODO 1.3 — {todo.title} — hint {level}/3", todo.hints_en[level - 1]]
        assert out.count(" — hint ") == 1  # one level per ask
    assert "Next time: `kata hint 1.3` shows hint 2/3." in shown[0]
    assert "Next time: `kata hint 1.3` shows hint 3/3." in shown[1]
    assert "That was the last hint for TODO 1.3." in shown[2]
    assert todo.hints_en[-1] in shown[3] and "No more hints for TODO 1.3" in shown[3]
    assert hints.current_level(todo, exercises) == 3
    assert (state / "hints.json").is_file()  # in the state folder, not in exercises/
    assert list(exercises.iterdir()) == []


def test_levels_are_per_exercises_folder_and_todo_and_reset(state, exercises, tmp_path, capsys):
    other = tmp_path / "other"
    one, two = todo_by_id()["1.3"], todo_by_id()["B.1"]
    for _ in range(3):
        hints.main_for("1.3", str(exercises), "en")
    hints.main_for("b.1", str(exercises), "es")  # ids are case-insensitive
    hints.main_for("b.1", str(exercises), "es")
    assert "pista 2/3" in capsys.readouterr().out.splitlines()[-3]
    assert (hints.current_level(one, exercises), hints.current_level(two, exercises)) == (3, 2)
    assert hints.current_level(one, other) == 1
    assert hints.main_for("1.3", str(exercises), "en", reset_levels=True) == 0
    assert "start again" in capsys.readouterr().out
    assert hints.seen(exercises) == {"B.1": 2}
    assert hints.main_for(None, str(exercises), "es", reset_levels=True) == 0
    assert hints.seen(exercises) == {}


def test_unknown_or_missing_todo_is_one_line_and_exit_2(state, exercises, capsys):
    assert hints.main_for("9.9", str(exercises), "en") == 2
    assert hints.main_for(None, str(exercises), "es") == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("kata hint: there is no TODO 9.9; the TODOs are 1.1, 1.2")
    assert err[1].startswith("kata hint: ¿qué TODO?")


def test_a_broken_or_unwritable_state_still_gives_hints(tmp_path, exercises, monkeypatch, capsys):
    state = tmp_path / "state"
    state.mkdir()
    (state / "hints.json").write_text("{not json")
    monkeypatch.setenv(hints.STATE_ENV, str(state))
    assert hints.main_for("2.1", str(exercises), "en") == 0
    assert "hint 1/3" in capsys.readouterr().out
    assert hints.seen(exercises) == {"2.1": 1}  # rewritten whole
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv(hints.STATE_ENV, str(blocked))  # its "folder" is a file: cannot save
    assert hints.main_for("2.1", str(exercises), "en") == 0
    captured = capsys.readouterr()
    assert "hint 1/3" in captured.out and "could not remember" in captured.err


def test_the_cli_has_the_hint_verb(state, exercises, capsys):
    from grader.cli.main import main

    assert main(["hint", "4.3", "--exercises", str(exercises), "--lang", "es"]) == 0
    assert todo_by_id()["4.3"].hints_es[0] in capsys.readouterr().out


# -- kata check ---------------------------------------------------------------------------

def test_kata_check_shows_the_level_reached(state, exercises, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "250")
    run = KataRun({"1.1": TodoResult(Status.PASS), "1.2": TodoResult(Status.PASS),
                   "1.3": TodoResult(Status.FAIL, "TODO 1.3: expected params"),
                   "1.4": TodoResult(Status.FAIL, "TODO 1.4: expected metrics")}, 1.0, [])
    todo = todo_by_id()["1.3"]
    show(run, "en", exercises)
    out = " ".join(capsys.readouterr().out.split())  # a long hint wraps, even at 250 columns
    assert f"Next: fix TODO 1.3 — hint 1/3: {todo.hints_en[0]}" in out
    assert "More help, one level at a time: `kata hint 1.3` (3 levels)." in out
    hints.main_for("1.3", str(exercises), "en")  # the first ask: level 1 alone
    assert "hint 1/3" in capsys.readouterr().out
    show(run, "en", exercises)
    assert "More help: `kata hint 1.3` (hint 2/3)." in " ".join(capsys.readouterr().out.split())
    hints.main_for("1.3", str(exercises), "en")  # shows what check promised: hint 2/3
    assert "hint 2/3" in capsys.readouterr().out
    show(run, "es", exercises)
    out = " ".join(capsys.readouterr().out.split())
    assert f"Siguiente: arregla el TODO 1.3 — pista 2/3: {todo.hints_es[1]}" in out
    assert "Más ayuda: `kata hint 1.3` (pista 3/3)." in out


def test_kata_check_sends_the_student_to_the_todo_a_failure_waits_for(state, exercises, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "250")
    waits = KataRun({"1.1": TodoResult(Status.FAIL, "TODO 1.1: no run yet: TODO 1.2 starts it",
                                       waiting_for="1.2"),
                     "1.2": TodoResult(Status.FAIL, "TODO 1.2: expected a run")}, 1.0, [])
    assert waits.next_to_fix(["1.1", "1.2"]) == "1.2"
    show(waits, "en", exercises)
    assert "Next: fix TODO 1.2 — hint 1/" in capsys.readouterr().out
    done = KataRun({"1.1": TodoResult(Status.FAIL, "TODO 1.1: …", waiting_for="1.2"),
                    "1.2": TodoResult(Status.PASS)}, 1.0, [])
    assert done.next_to_fix(["1.1", "1.2"]) == "1.1"  # what it waited for passes now
    assert KataRun({"1.1": TodoResult(Status.PASS)}, 1.0, []).next_to_fix(["1.1"]) is None


def test_kata_check_where_there_is_no_exercises_folder_says_so_in_one_line(tmp_path, capsys):
    from grader.student.check import check

    assert check(tmp_path / "exercises", None, "es") == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("kata check: no existe la carpeta ")


def verdicts(failing: dict[str, str] | None = None, only: set[int] | None = None) -> KataRun:
    """Every TODO (of the tasks ``only``) passing but ``failing`` (TODO id -> message)."""
    failing = failing or {}
    return KataRun({todo.id: TodoResult(Status.FAIL, f"TODO {todo.id}: {failing[todo.id]}")
                    if todo.id in failing else TodoResult(Status.PASS)
                    for todo in load_todos() if only is None or todo.task in only}, 1.0, [])


def test_kata_check_fits_a_screen_one_line_per_task_only_failing_todos_opened(state, exercises, monkeypatch,
                                                                              capsys):
    monkeypatch.setenv("COLUMNS", "80")
    long = "expected the run's params to hold model_type, but MLflow holds " + "x" * 200
    run = verdicts({"2.3": long + "\nsecond line", "2.4": "expected tags"})
    run.todos["3.3"] = TodoResult(Status.ERROR, "TODO 3.3: task3_compare.py could not be imported")
    show(run, "en", exercises)
    lines = capsys.readouterr().out.splitlines()
    # shorter than the terminal (a full line wraps in some terminals), no trailing spaces
    assert len(lines) <= 20 and max(map(len, lines)) <= 79
    assert not [line for line in lines[:9] if line != line.rstrip()]
    # the message gets the room (the title is in the TODO comment): it was cut after 36 characters
    assert lines[3] == "    ✗ 2.3  expected the run's params to hold model_type, but MLflow holds xxxx…"
    assert [line.split()[0] for line in lines[1:9]] == ["✓", "✗", "✗", "✗", "!", "!", "✓", "✓"]
    assert "Task 2" in lines[2] and "2/4" in lines[2] and "Task 1" in lines[1] and "4/4" in lines[1]
    assert "2.3" in lines[3] and lines[3].rstrip().endswith("…") and "second line" not in "\n".join(lines)
    assert "2.1" not in "\n".join(lines)  # a passing TODO is not opened
    assert "3.3" in lines[6] and "task3_compare.py could not be" in lines[6]
    assert "✓ passes  ·  ✗ fails  ·  ! does not run (an error: the message says where)" in lines
    assert "Every TODO and its first message: kata check --all" in lines
    monkeypatch.setenv("COLUMNS", "400")
    show(run, "en", exercises, full=True)  # --all: today's table, every TODO and its whole message
    full = capsys.readouterr().out
    assert "2.1" in full and long in full and "kata check --all" not in full


@pytest.mark.parametrize("run, lang, last", [
    (verdicts(), "es", "Los 15 TODOs pasan. ¡Enhorabuena! El bonus también pasa."),
    (verdicts(only={1, 2, 3, 4}), "en",
     "All 15 TODOs pass. Well done! Next, the bonus (not counted): pytest tests/test_bonus.py"),
    (verdicts(only={5}), "en", "✓ Task bonus is green. `kata check` shows every TODO and your score."),
    (verdicts(only={1}), "es", "✓ La tarea 1 está en verde. Siguiente: la tarea 2, pytest tests/test_task2.py"),
    (verdicts({"B.2": "expected floats"}), "en", "Run `pytest tests/test_bonus.py` to see every detail."),
], ids=["all-and-bonus", "graded-only", "bonus-only", "task-1", "bonus-failing"])
def test_kata_checks_last_line_is_the_bonuss_real_state(state, exercises, monkeypatch, capsys, run, lang, last):
    monkeypatch.setenv("COLUMNS", "200")
    show(run, lang, exercises)
    out = capsys.readouterr().out
    assert last in out and "Try the bonus" not in out and "Prueba el bonus" not in out
    assert ("0/0" not in out) and (("Score" in out or "Puntuación" in out) is (run.todos.keys() != {"B.1", "B.2"}))
    if "B.2" in run.todos and not run.todos["B.2"].passed:
        assert "All 15 TODOs pass. Well done!" in out and "Next: fix TODO B.2 — hint 1/" in out


@pytest.mark.parametrize("name", ["bonus", "5", "BONUS", "B", "b"])
def test_the_bonus_is_bonus_everywhere_and_5_an_alias(state, exercises, monkeypatch, capsys, name):
    from grader.cli.main import build_parser, main
    from grader.student import check as check_module

    asked = []
    monkeypatch.setattr(check_module, "run_kata", lambda folder, tasks, extra, warm=False, journal=None: asked.append(tasks)
                        or verdicts(only=set(tasks)))
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["check", "--task", name, "--exercises", str(exercises), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert asked == [[5]]
    assert "B.1" in out and "B.2" in out and "Bonus (not counted): 2/2" in out and "Score" not in out
    monkeypatch.setattr(check_module, "run_kata", lambda folder, tasks, extra, warm=False, journal=None:
                        verdicts({"B.1": "expected a body"}, only=set(tasks)))
    assert main(["check", "--task", name, "--exercises", str(exercises)]) == 1
    capsys.readouterr()
    parser = build_parser()
    assert parser.parse_args(["run", name]).task == "bonus"
    assert parser.parse_args(["run", "--task", name]).task == "bonus"  # as kata check takes it
    assert parser.parse_args(["watch", name]).task == "bonus"
    assert parser.parse_args(["check", "--task", "1", "--task", name]).task == [1, 5]
    for argv in (["check", "--task", "6"], ["run", "C"], ["watch", "B.1"]):
        with pytest.raises(SystemExit) as stop:
            parser.parse_args(argv)
        assert stop.value.code == 2
        said = capsys.readouterr().err  # one line, listing the tasks; no usage
        assert said == (f"kata {argv[0]}: no task {argv[-1]!r}: the tasks are 1, 2, 3, 4, bonus; "
                        "B and 5 name the bonus too\n"), said
