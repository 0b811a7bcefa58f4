"""``kata release``: the student kit and its GitHub Classroom path.

* What a release holds: the student's files and what the tests need, nothing of the
  instructor's (solutions, hidden tests, instructor modules and docs, caches).
* No solution in it: no file (stubs, tests, the kit's own modules) contains the code of a
  ``BEGIN TODO`` region of ``solutions/``, whole or one statement of it under other
  variable names; the check is shown to fire on copies with a solution planted, among
  them what the release once held (the warm-up's 3.3 and 4.1-4.4, the bonus test's B.1
  and B.2).
* Installed (not editable) in a fresh virtualenv, it runs ``pytest tests/test_task1.py``
  red with every TODO 1.x named, green against the solutions, and ``kata``'s student verbs.
* ``kata check --format classroom`` prints what GitHub Classroom's grading reporter
  reads, checked against that reporter's contract (classroom-resources/
  autograding-grading-reporter: ``<RUNNER>_RESULTS`` = base64 of JSON ``{version,
  status, max_score, tests: [{name, status, score, message, line_no, …}]}``; the points
  sent to Classroom are the sum of the tests' ``score`` over runners whose ``max_score``
  is not 0; a runner whose ``status`` is ``fail`` or ``error`` fails the job), and the
  workflow's runner steps are run by bash as GitHub Actions would.

The virtualenv is the student's: it holds only the distributions the release's pyproject
needs (and what they need), hard-linked from this kit's site-packages (installing MLflow would
take minutes), so the kata tests are shown to run without any instructor library. It gets
the release with ``pip install --no-deps`` (not editable), built offline when this
environment can build wheels, else by pip's isolated build (which fetches setuptools).
"""

import base64
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from grader.student import check as check_module
from grader.student.check import classroom_payload, classroom_results
from grader.cli.main import main as kata
from grader.core.paths import KIT_ROOT
from grader.authoring.release import (STUDENT_DATA, STUDENT_PACKAGES, ReleaseError, find_leaks, fingerprints,
                                      release, statement_fingerprints, todo_regions)
from grader.results.model import KataRun, TodoResult, score
from grader.authoring.stubgen import expected_exercises
from grader.lab.todos import load_tasks, load_todos

SOLUTIONS = KIT_ROOT / "solutions"
KIT_PARTS = ("grader", "labkit", "tests", "data", "solutions")
KIT_FILES = ("LAB.md", "conftest.py", "pytest.ini", "pyproject.toml")
TASK1_TODOS = [todo.id for todo in load_todos() if todo.task == 1]
NEVER_RELEASED = ("solutions", "examples", "kit_tests", "benchmarks", ".ci", "tests/hidden",
                   "grader/authoring/mistakes.toml", "grader/authoring/mistakes.py", "grader/classroom/grade.py",
                   "grader/authoring/validate.py", "grader/classroom/worker.py", "grader/classroom/submissions.py",
                   "grader/reports/class_files.py", "grader/reports/report.py", "grader/authoring/stubgen.py",
                   "grader/authoring/release.py", "grader/reports", "grader/classroom", "grader/platforms",
                   "grader/authoring")
REPORTER_STATUSES = {"pass", "fail", "error"}


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "student-kit"
    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        written = kata(["release", str(out)])
    assert written == 0, said.getvalue()  # a refused release says which file holds which solution
    return out


@pytest.fixture
def kit_copy(tmp_path) -> Path:
    """The parts of the kit a release is made from, in a folder a test may change."""
    kit = tmp_path / "kit"
    for part in KIT_PARTS:
        shutil.copytree(KIT_ROOT / part, kit / part, ignore=shutil.ignore_patterns("__pycache__"))
    for name in KIT_FILES:
        shutil.copy(KIT_ROOT / name, kit / name)
    return kit


# -- what a release holds -------------------------------------------------------------

def test_a_release_holds_the_student_kit(released):
    files = files_under(released)
    for needed in ("README.md", "LAB.md", "pyproject.toml", "conftest.py", "pytest.ini",
                   "kata_launcher.py", ".gitignore", ".github/workflows/classroom.yml",
                   "data/devops_metrics.csv", "labkit/__init__.py", "grader/lab/todos.toml",
                   "grader/judge/plugin.py", "grader/sandbox/zygote.py", "grader/student/check.py"):
        assert needed in files
    exercises = {name: (released / "exercises" / name).read_text() for name in
                 sorted(p.name for p in (released / "exercises").iterdir())}
    assert exercises == expected_exercises(SOLUTIONS)  # the stubs, as the generator makes them
    public_tests = {f"tests/{task.test_file}" for task in load_tasks()}
    assert {f for f in files if f.startswith("tests/")} == public_tests
    shipped = {f for f in files if f.startswith("grader/")}
    wings = {p.relative_to(KIT_ROOT).as_posix() for package in STUDENT_PACKAGES
             for p in (KIT_ROOT / "grader" / package).rglob("*")
             if p.is_file() and "__pycache__" not in p.parts}
    data = {p.relative_to(KIT_ROOT).as_posix() for pattern in STUDENT_DATA for p in KIT_ROOT.glob(pattern)}
    assert "grader/locale/es/LC_MESSAGES/kata.po" in data  # students read their messages in Spanish
    assert shipped == wings | data  # whole wings: the import contract keeps instructors' out
    assert {f.split("/")[1] for f in shipped if f.count("/") > 1} <= {*STUDENT_PACKAGES, "locale"}


STUDENT_VERBS = "{check,run,hint,watch,progress,stop}"


def released_kata(released: Path, *args: str, lang: str = "es") -> subprocess.CompletedProcess:
    """``kata`` of the release run as a tester did: this kit's virtualenv (where the
    instructor's kit is installed too), the release first on ``PYTHONPATH``."""
    env = {**os.environ, "PYTHONPATH": str(released), "KATA_LANG": lang, "KATA_WARM": "0", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=released, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_releases_kata_offers_the_student_verbs_and_says_an_instructor_verb_is_not_here(released):
    """The release's ``kata --help`` listed validate, grade, stubs, release and export when the
    instructor's kit was installed in the same virtualenv (its wings were found there):
    ``kata validate`` was a traceback, ``kata stubs`` did nothing with exit 0. A kit's verbs
    are those its own ``grader/`` holds: the others are one line, exit 2, in the student's
    language."""
    shown = released_kata(released, "--help")
    assert shown.returncode == 0 and not shown.stderr, shown.stderr
    assert f"uso: kata [-h] {STUDENT_VERBS}" in shown.stdout, shown.stdout
    for name in ("validate", "grade", "stubs", "release", "export"):
        assert name not in shown.stdout
    offered = ", ".join(f"kata {verb}" for verb in STUDENT_VERBS.strip("{}").split(","))
    for argv, lang, line in (
            (["validate"], "es", f"kata validate es un verbo del kit del profesor; el tuyo ofrece {offered}"),
            (["stubs", "--check"], "es", f"kata stubs es un verbo del kit del profesor; el tuyo ofrece {offered}"),
            (["grade", "x", "--out", "y"], "en", f"kata grade is a verb of the instructor's kit; yours offers {offered}"),
            (["export", "junit", "r.json", "--out", "x"], "es", "kata export es un verbo del kit del profesor")):
        said = released_kata(released, *argv, lang=lang)
        assert said.returncode == 2 and said.stdout == "", (argv, said.stdout)
        assert said.stderr.startswith(line) and said.stderr.count("\n") == 1, (argv, said.stderr)


def test_a_release_holds_nothing_of_the_instructor(released):
    files = files_under(released)
    for part in NEVER_RELEASED:
        assert not any(f == part or f.startswith(part + "/") for f in files), part
    assert not [f for f in files if "__pycache__" in f or f.endswith((".pyc", ".db"))
                or "hidden" in f]
    readme = (released / "README.md").read_text()
    assert "kata grade" not in readme and "solutions/" not in readme
    assert "## English" in readme and "## Español" in readme
    assert "pip install -e .\npytest tests/test_task1.py\n" in readme  # its two commands


def test_a_release_installs_the_students_dependencies_only(released):
    """The student kit's pyproject lists every runtime dependency of the kit but the ones
    ``[tool.kata] instructor-only`` names (pytest-html, jinja2, copydetect)."""
    kit = tomllib.loads((KIT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    student = tomllib.loads((released / "pyproject.toml").read_text(encoding="utf-8"))
    instructor = {canonicalize_name(name) for name in kit["tool"]["kata"]["instructor-only"]}
    assert instructor >= {"pytest-html", "jinja2", "copydetect"}
    names = [canonicalize_name(Requirement(d).name) for d in student["project"]["dependencies"]]
    assert not instructor & set(names)
    assert names == [canonicalize_name(Requirement(d).name) for d in kit["project"]["dependencies"]
                     if canonicalize_name(Requirement(d).name) not in instructor]
    assert set(names) >= {"mlflow", "scikit-learn", "pandas", "numpy", "pytest", "rich", "skops",
                          "babel", "watchfiles"}


def test_a_stale_instructor_only_list_is_refused(kit_copy, tmp_path):
    pyproject = kit_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('instructor-only = ["pytest-html"',
                                                       'instructor-only = ["pytest-htlm"'))
    with pytest.raises(ReleaseError, match="pytest-htlm"):
        release(tmp_path / "out", kit=kit_copy)
    assert not (tmp_path / "out").exists()


def test_hidden_tests_stay_out(kit_copy, tmp_path):
    hidden = kit_copy / "tests" / "hidden"
    hidden.mkdir(exist_ok=True)
    (hidden / "test_task1_hidden.py").write_text("def test_secret():\n    pass\n")
    (hidden / "conftest.py").write_text("")
    (kit_copy / "tests" / "test_task1_extra.py").write_text(
        "import pytest\n\npytestmark = pytest.mark.hidden\n\n\ndef test_secret():\n    pass\n")
    (kit_copy / "tests" / "test_hidden_inputs.py").write_text("def test_secret():\n    pass\n")
    out = tmp_path / "out"
    release(out, kit=kit_copy)
    assert {f for f in files_under(out) if f.startswith("tests/")} == \
        {f"tests/{task.test_file}" for task in load_tasks()}


def test_a_public_file_with_some_hidden_tests_is_refused(kit_copy, tmp_path):
    with open(kit_copy / "tests" / "test_task1.py", "a") as test:
        test.write("\n\n@pytest.mark.hidden\ndef test_secret():\n    pass\n")
    with pytest.raises(ReleaseError, match="marks some tests hidden"):
        release(tmp_path / "out", kit=kit_copy)
    assert not (tmp_path / "out").exists()  # nothing half-written is left


# -- no solution in it ----------------------------------------------------------------

def test_every_todo_region_is_fingerprinted_or_public_by_design():
    bodies, told, short = fingerprints(SOLUTIONS)
    regions = {todo_id for path in SOLUTIONS.glob("*.py")
               for todo_id, _ in todo_regions(path.read_text())}
    assert regions == {todo.id for todo in load_todos()}
    assert set(bodies) | set(told) | set(short) == regions
    assert len(bodies) >= len(regions) // 2, "most TODOs must be checkable"
    hints = {todo.id: todo.hint_en + todo.hint_es + todo.todo_en + todo.todo_es for todo in load_todos()}
    stubs = "".join("".join(text.split()) for text in expected_exercises(SOLUTIONS).values())
    assert "1.1" in told  # task 2's and task 3's starting code call mlflow.set_experiment(experiment_name)
    for todo_id in told:  # public by design: its own hint or instruction spells the code out,
        body = "".join("".join(line.split()) for path in SOLUTIONS.glob("*.py")  # or a stub shows it
                       for region, lines in todo_regions(path.read_text()) if region == todo_id
                       for line in lines)
        assert body in "".join(hints[todo_id].split()) or body in stubs


def test_each_statement_of_a_solution_is_looked_for_but_the_plain_calls():
    """Every statement of every region is looked for on its own, but one call with only
    variables and literals as arguments: the call and the values its TODO's instruction
    spells out (``mlflow.start_run(run_name=name)``), which the kit's own seeding of
    Task 4's runs makes too (``mlflow.log_param("model_type", model_type)``). Their
    regions' whole bodies are still looked for (``fingerprints``)."""
    looked_for, plain = statement_fingerprints(SOLUTIONS)
    assert sorted((statement.todo_id, statement.code) for statement in plain) == [
        ("1.1", "mlflow.set_experiment(_)"), ("1.2", "mlflow.start_run(run_name='baseline')"),
        ("1.4", "_.items()"), ("1.4", "mlflow.log_metric(_, _)"), ("2.3", "mlflow.log_metrics(_)"),
        ("3.1", "mlflow.log_param('model_type', _)"), ("3.1", "mlflow.start_run(run_name=_)")]
    only_plain = {"1.1", "1.2", "1.4", "2.3", "3.1"}
    assert {statement.todo_id for statement in looked_for} == {todo.id for todo in load_todos()} - only_plain
    bodies, _, _ = fingerprints(SOLUTIONS)
    assert only_plain - {"1.1", "2.3"} <= set(bodies)  # 1.1: its instruction; 2.3: one short call


def test_no_file_of_a_release_contains_a_solution(released):
    bodies, _, _ = fingerprints(SOLUTIONS)
    statements, _ = statement_fingerprints(SOLUTIONS)
    assert find_leaks(released, bodies, statements) == []


# What the release once held (tests/test_bonus.py, grader/judge/preload.py's warm-up): the
# statements of B.1, B.2, 3.3, 4.1, 4.3 and 4.4 under other names.
ONCE_IN_THE_BONUS_TEST = """
def test_the_servers_reply_is_parsed_into_predictions(case, model_server):
    rows = random_rows(case)
    status, reply = model_server.invoke({"dataframe_split": rows.to_dict(orient="split", index=False)})
    parsed = case.call("parse_predictions", reply)
    expected = [float(value) for value in reply["predictions"]]
"""
ONCE_IN_THE_WARM_UP = """
def walk(client, experiment_id, model, X):
    with mlflow.start_run(run_name="warm-up", experiment_id=experiment_id) as run:
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(X, model.predict(X)),
            skops_trusted_types=["sklearn.tree._tree.Tree"],
        )
    client.search_runs([run.info.experiment_id], order_by=["metrics.m DESC"])
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", "warm-up")
    client.set_model_version_tag("warm-up", version.version, "k", "v")
    client.update_model_version("warm-up", version.version, description="d")
    client.set_registered_model_alias("warm-up", "staging", version.version)
    mlflow.pyfunc.load_model("models:/warm-up@staging").predict(X)
"""


def plant_solution_file(root: Path) -> None:
    shutil.copy(SOLUTIONS / "task4_registry.py", root / "exercises" / "task4_registry.py")


def plant_reindented_region_in_markdown(root: Path) -> None:
    (_, lines), = [r for r in todo_regions((SOLUTIONS / "task3_compare.py").read_text()) if r[0] == "3.3"]
    block = "\n".join(line.strip() for line in lines)
    with open(root / "LAB.md", "a") as lab:
        lab.write(f"\n\n```python\n{block}\n```\n")


def plant_commented_region_on_one_line(root: Path) -> None:
    (_, lines), = [r for r in todo_regions((SOLUTIONS / "task2_tuning.py").read_text()) if r[0] == "2.2"]
    with open(root / "tests" / "test_task2.py", "a") as test:
        test.write("\n#   " + " ".join(line.strip() for line in lines) + "\n")


def plant_mistake_matrix(root: Path) -> None:
    shutil.copy(KIT_ROOT / "grader" / "authoring" / "mistakes.toml", root / "grader" / "mistakes.toml")


def plant_old_bonus_test(root: Path) -> None:
    with open(root / "tests" / "test_bonus.py", "a") as test:
        test.write(ONCE_IN_THE_BONUS_TEST)


def plant_old_warm_up(root: Path) -> None:
    with open(root / "grader" / "judge" / "preload.py", "a") as module:
        module.write(ONCE_IN_THE_WARM_UP)


def plant_renamed_statement_in_markdown(root: Path) -> None:
    with open(root / "LAB.md", "a") as lab:
        lab.write("\n```python\nmv = c.set_registered_model_alias(\n    'devops', 'staging', mv.version)\n```\n")


def plant_commented_out_statement(root: Path) -> None:
    with open(root / "grader" / "judge" / "seeding.py", "a") as module:
        module.write("\n# best = c.search_runs([e.experiment_id], max_results=1,\n"
                     "#                       order_by=[f'metrics.{m} DESC'])[0]\n")


@pytest.mark.parametrize("plant,todo_id,where", [
    (plant_solution_file, "4.1", "exercises/task4_registry.py"),
    (plant_reindented_region_in_markdown, "3.3", "LAB.md"),
    (plant_commented_region_on_one_line, "2.2", "tests/test_task2.py"),
    (plant_mistake_matrix, "1.4", "grader/mistakes.toml"),
    (plant_old_bonus_test, "B.1", "tests/test_bonus.py"),
    (plant_old_bonus_test, "B.2", "tests/test_bonus.py"),
    (plant_old_warm_up, "3.3", "grader/judge/preload.py"),
    (plant_old_warm_up, "4.1", "grader/judge/preload.py"),
    (plant_old_warm_up, "4.3", "grader/judge/preload.py"),
    (plant_old_warm_up, "4.4", "grader/judge/preload.py"),
    (plant_renamed_statement_in_markdown, "4.3", "LAB.md"),
    (plant_commented_out_statement, "4.1", "grader/judge/seeding.py"),
], ids=["solution-file", "reindented-in-markdown", "commented-on-one-line", "mistakes.toml",
        "once-in-the-bonus-test-B.1", "once-in-the-bonus-test-B.2", "once-in-the-warm-up-3.3",
        "once-in-the-warm-up-4.1", "once-in-the-warm-up-4.3", "once-in-the-warm-up-4.4",
        "renamed-in-markdown", "commented-out-renamed"])
def test_the_check_finds_a_planted_solution(released, tmp_path, plant, todo_id, where):
    copy = tmp_path / "copy"
    shutil.copytree(released, copy)
    plant(copy)
    bodies, _, _ = fingerprints(SOLUTIONS)
    statements, _ = statement_fingerprints(SOLUTIONS)
    assert (where, todo_id) in {(leak.path, leak.todo_id) for leak in find_leaks(copy, bodies, statements)}


@pytest.mark.parametrize("code", [
    "mlflow.log_param('model_type', model_type)",  # 3.1's call: plain, the kit's seeding makes it
    "version = mlflow.register_model(f'runs:/{run_id}/model', model_name)",  # 4.1's instruction, not its code
    "signature = infer_signature(X_test, model.predict(X_train))",  # one variable, two expressions
    "mlflow.sklearn.log_model(model, name='model', signature=signature)",  # another statement
    "client.set_registered_model_alias(name, 'champion', version.version)",  # another literal
    "model = mlflow.pyfunc.load_model('models:/devops-response-time/1')",  # by number, not alias
], ids=["plain-call", "instruction", "inconsistent-variable", "other-keywords", "other-literal", "other-uri"])
def test_code_near_a_solution_is_no_leak(tmp_path, code):
    (tmp_path / "module.py").write_text(code + "\n")
    statements, _ = statement_fingerprints(SOLUTIONS)
    assert find_leaks(tmp_path, {}, statements) == []


def test_a_release_that_would_hold_a_solution_is_refused_and_removed(kit_copy, tmp_path):
    with open(kit_copy / "LAB.md", "a") as lab:
        lab.write("\n" + (SOLUTIONS / "task1_baseline.py").read_text())
    out = tmp_path / "out"
    with pytest.raises(ReleaseError, match=r"LAB.md contains the solution of TODO 1\.[234]"):
        release(out, kit=kit_copy)
    assert not out.exists()


def test_a_release_that_would_hold_a_solutions_statement_names_its_line(kit_copy, tmp_path):
    plant_old_warm_up(kit_copy)
    line = len((KIT_ROOT / "grader" / "judge" / "preload.py").read_text().splitlines()) + 4
    out = tmp_path / "out"
    with pytest.raises(ReleaseError) as refused:
        release(out, kit=kit_copy)
    assert str(refused.value).startswith(
        f"grader/judge/preload.py:{line} contains the solution of TODO 3.3 (its statement "
        "mlflow.sklearn.log_model(_, name='model', signature=infer_signature(_, _.predict(_)), "
        "skops_trusted_types=['sklearn.tree._tree.Tree']))")
    assert "(4 leak(s))" in str(refused.value) and not out.exists()


# -- where it is written --------------------------------------------------------------

def test_out_must_be_new_or_empty_unless_forced(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert kata(["release", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not empty" in err and "--force" in err
    assert kata(["release", str(out), "--force"]) == 2  # not a release: never emptied
    assert "not a previous kata release" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine"


def test_force_replaces_a_previous_release_and_keeps_its_git(released, tmp_path):
    out = tmp_path / "template-repo"
    shutil.copytree(released, out)
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (out / "exercises" / "stale.py").write_text("")
    assert kata(["release", str(out), "--force"]) == 0
    assert (out / ".git" / "HEAD").is_file() and not (out / "exercises" / "stale.py").exists()
    assert files_under(out) - {".git/HEAD"} == files_under(released)


@pytest.mark.parametrize("where", [".", "..", "tests/student-kit", "solutions"])
def test_out_is_never_the_kit_or_one_of_its_folders(kit_copy, where):
    before = files_under(kit_copy)
    with pytest.raises(ReleaseError, match="kit"):
        release(kit_copy / where, force=True, kit=kit_copy)
    assert files_under(kit_copy) == before


# -- the GitHub Classroom payload -----------------------------------------------------

def reporter_reads(env_value: str) -> dict:
    """What the grading reporter does with ``<RUNNER>_RESULTS``: base64, UTF-8, JSON."""
    return json.loads(base64.b64decode(env_value, validate=True).decode("utf-8"))


def classroom_points(runners: list[dict]) -> tuple[float, float]:
    """The reporter's total sent to Classroom: per runner with a max_score, the sum of its
    tests' scores, and the sum of the max_scores."""
    counted = [results for results in runners if results.get("max_score")]
    return (sum(test["score"] for results in counted for test in results["tests"]),
            sum(results["max_score"] for results in counted))


def a_run(statuses: dict[str, str], problems=()) -> KataRun:
    return KataRun({todo_id: TodoResult(status, f"TODO {todo_id}: …" if status != "pass" else "", 0.25)
                    for todo_id, status in statuses.items()}, 3.0, list(problems))


def assert_reporter_contract(results: dict) -> None:
    assert results["version"] == 1
    assert results["status"] in REPORTER_STATUSES
    assert isinstance(results["max_score"], (int, float))
    for test in results["tests"]:
        assert isinstance(test["name"], str) and test["name"]
        assert test["status"] in REPORTER_STATUSES
        assert isinstance(test["score"], (int, float))
        assert isinstance(test["message"], str)
        assert test["line_no"] == 0  # else the reporter prints "- line <line_no>" after the name
    assert len({test["name"] for test in results["tests"]}) == len(results["tests"])


def test_the_payload_has_one_test_per_todo_with_its_points():
    todos = load_todos()
    statuses = {todo.id: "pass" for todo in todos}
    statuses.update({"1.2": "fail", "2.3": "error", "3.1": "timeout", "B.1": "fail"})
    run = a_run(statuses)
    results = reporter_reads(classroom_payload(run))
    assert_reporter_contract(results)
    assert results == classroom_results(run)
    assert results["max_score"] == 15 == sum(todo.points for todo in todos if not todo.bonus)
    assert [test["name"].split(":")[0] for test in results["tests"]] == [f"TODO {t.id}" for t in todos]
    by_id = {todo.id: test for todo, test in zip(todos, results["tests"])}
    for todo in todos:
        test = by_id[todo.id]
        expected = {"pass": "pass", "fail": "fail", "error": "error", "timeout": "error"}[statuses[todo.id]]
        assert test["status"] == expected
        assert test["score"] == (todo.points if statuses[todo.id] == "pass" and not todo.bonus else 0)
        assert test["message"] == run.todos[todo.id].message
        assert test["duration"] == 250
    assert "bonus, 0 points" in by_id["B.1"]["name"] and "bonus, 0 points" in by_id["B.2"]["name"]
    assert by_id["B.2"]["score"] == 0  # a passing bonus earns nothing
    assert results["status"] == "fail"
    assert classroom_points([results]) == (score(run.todos)[0], 15) == (12, 15)


@pytest.mark.parametrize("statuses,problems,status", [
    ({"1.1": "pass", "1.2": "pass", "B.1": "fail"}, [], "pass"),  # a failing bonus is not a failure
    ({"1.1": "pass", "1.2": "fail"}, [], "fail"),
    ({"1.1": "pass", "1.2": "error"}, [], "fail"),
    ({"1.1": "pass"}, ["collection error in tests/test_task1.py: …"], "error"),
    ({}, [], "error"),
])
def test_the_run_status_fails_the_job_only_for_graded_todos(statuses, problems, status):
    results = reporter_reads(classroom_payload(a_run(statuses, problems)))
    assert_reporter_contract(results)
    assert results["status"] == status
    if problems:
        assert problems[0] in results["message"]


def test_the_bonus_runner_shows_its_todos_and_counts_nothing():
    kata_run = reporter_reads(classroom_payload(a_run({t.id: "pass" for t in load_todos() if not t.bonus})))
    bonus = reporter_reads(classroom_payload(a_run({"B.1": "pass", "B.2": "fail"})))
    assert (bonus["max_score"], bonus["status"], [t["score"] for t in bonus["tests"]]) == (0, "pass", [0, 0])
    assert classroom_points([kata_run, bonus]) == (15, 15)


def test_check_prints_the_payload_alone_and_reports_a_broken_run(monkeypatch, capsys):
    monkeypatch.setattr(check_module, "run_kata", lambda exercises, tasks, extra, warm=False, journal=None: a_run(
        {"1.1": "pass", "1.2": "fail", "1.3": "pass", "1.4": "pass"}))
    assert kata(["check", "--format", "classroom", "--task", "1"]) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert classroom_points([reporter_reads(out.strip())]) == (3, 4)
    assert kata(["check", "--format", "classroom-json", "--task", "1"]) == 1
    assert json.loads(capsys.readouterr().out)["max_score"] == 4

    def broken(exercises, tasks, extra, warm=False, journal=None):
        raise RuntimeError("no sandbox")
    monkeypatch.setattr(check_module, "run_kata", broken)
    assert kata(["check", "--format", "classroom", "--task", "2"]) == 1
    results = reporter_reads(capsys.readouterr().out.strip())
    assert_reporter_contract(results)
    assert results["status"] == "error" and "no sandbox" in results["message"]
    assert [t["status"] for t in results["tests"]] == ["error"] * 4


def test_check_passes_its_seed_and_keeps_json(monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(check_module, "run_kata",
                        lambda exercises, tasks, extra, warm=False, journal=None: seen.append(extra) or a_run({"1.1": "pass"}))
    assert kata(["check", "--json", "--task", "1", "--seed", "run-42"]) == 0
    assert json.loads(capsys.readouterr().out)["todos"]["1.1"]["status"] == "pass"
    (extra,) = seen
    assert extra[extra.index("--kata-seed") + 1] == "run-42"
    with pytest.raises(SystemExit):
        kata(["check", "--seed", "no spaces"])


# -- the workflow ---------------------------------------------------------------------

def workflow(released: Path) -> dict:
    return yaml.safe_load((released / ".github/workflows/classroom.yml").read_text())


def test_the_workflow_feeds_every_runner_to_the_reporter(released):
    flow = workflow(released)
    assert set(flow["on"]) >= {"push"}
    assert flow["permissions"]["checks"] == "write"
    (job_id, job), = flow["jobs"].items()
    assert job_id == "run-autograding-tests"  # the reporter looks its check run up by this name
    steps = {step.get("id"): step for step in job["steps"]}
    reporter = job["steps"][-1]
    assert reporter["uses"].startswith("classroom-resources/autograding-grading-reporter@")
    runners = reporter["with"]["runners"].split(",")
    assert runners == ["kata", "bonus"]
    for runner in runners:
        assert reporter["env"][f"{runner.upper()}_RESULTS"] == f"${{{{ steps.{runner}.outputs.result }}}}"
        assert "kata check --format classroom" in steps[runner]["run"]
    assert "--task 1 --task 2 --task 3 --task 4" in steps["kata"]["run"]
    assert "--task bonus" in steps["bonus"]["run"]


@pytest.mark.parametrize("kata_prints,ok", [("UEFZTE9BRA==", True), ("", False)],
                         ids=["payload", "crash-without-payload"])
def test_the_runner_steps_write_their_result_output(released, tmp_path, kata_prints, ok):
    """Each runner step's script under bash, with a stand-in ``kata`` (it exits 1 as
    ``kata check`` does when a TODO fails)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kata").write_text(f'#!/bin/sh\necho "$@" >> "{tmp_path}/args"\n'
                                  f'[ -n "{kata_prints}" ] && echo "{kata_prints}"\nexit 1\n')
    (bin_dir / "kata").chmod(0o755)
    (_, job), = workflow(released)["jobs"].items()
    for step in job["steps"]:
        if step.get("id") not in ("kata", "bonus"):
            continue
        script = step["run"].replace("${{ github.run_id }}", "4242")
        assert "${{" not in script
        output = tmp_path / f"{step['id']}.out"
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               "GITHUB_OUTPUT": str(output), "RUNNER_TEMP": str(tmp_path)}
        # as GitHub Actions runs a `run:` script with `shell: bash`
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                              env=env, cwd=released)
        assert (done.returncode == 0) is ok
        if ok:
            assert output.read_text() == f"result={kata_prints}\n"
    assert all("--seed 4242" in line for line in (tmp_path / "args").read_text().splitlines())


# -- installed in a fresh virtualenv --------------------------------------------------

def can_build_offline() -> bool:
    """Whether this environment builds a wheel without fetching a build backend."""
    if find_spec("wheel"):
        return True
    import setuptools

    return tuple(int(p) for p in setuptools.__version__.split(".")[:2]) >= (70, 1)


def distributions(requirements: list[str]) -> dict[str, metadata.Distribution]:
    """The distributions of this environment that ``requirements`` need, transitively
    (markers and extras as pip would read them), by canonical name. One that is not
    installed here is not needed by this kit's own runs either, and is left out."""
    found: dict[str, metadata.Distribution] = {}
    wanted = [(Requirement(text), "") for text in requirements]
    while wanted:
        requirement, extra = wanted.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for chosen in ("", *sorted(requirement.extras)):
            if (name, chosen) in found:
                continue
            found[(name, chosen)] = distribution
            wanted += [(Requirement(text), chosen) for text in distribution.requires or []]
    return {name: distribution for (name, _), distribution in found.items()}


def link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)  # hard links: the sandbox's new root binds the venv, not links out of it
    except OSError:
        shutil.copy2(source, target)


def link_distributions(chosen: dict[str, metadata.Distribution], site_packages: Path) -> None:
    """Each distribution's top-level packages, modules and .dist-info folders (as its
    RECORD lists them) in ``site_packages``, hard-linked from this environment's."""
    for distribution in chosen.values():
        base = Path(distribution.locate_file(""))
        for top in sorted({Path(file).parts[0] for file in distribution.files or []}):
            source, target = base / top, site_packages / top
            if top == ".." or not source.exists() or target.exists():
                continue
            if source.is_dir():
                # __pycache__ too: the compiled modules stay valid (same files, same times)
                shutil.copytree(source, target, symlinks=True, copy_function=link_or_copy)
            else:
                link_or_copy(str(source), str(target))


@pytest.fixture(scope="module")
def installed(released, tmp_path_factory) -> Path:
    """A student-only virtualenv: the release installed (not editable), beside the
    distributions its pyproject needs and nothing else of this environment (hard-linked
    from here: installing MLflow would take minutes), so no instructor library (pytest-html,
    copydetect, distributed) is there unless a student dependency itself needs it.
    Returns its python."""
    venv = tmp_path_factory.mktemp("venv") / "student"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    student = tomllib.loads((released / "pyproject.toml").read_text(encoding="utf-8"))
    build = ["setuptools", "wheel"]  # the release's build backend, as an isolated build would fetch it
    link_distributions(distributions(student["project"]["dependencies"] + build), Path(purelib))
    isolation = ["--no-build-isolation"] if can_build_offline() else []  # else pip fetches setuptools
    # This kit's pip installs into the venv (--python): no pip of its own to bootstrap.
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                           "--no-deps", "--disable-pip-version-check", *isolation, str(released)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return python


def in_venv(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """A command of the virtualenv, by its full path, without activating it."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "KATA_EXERCISES")}
    env["KATA_WARM"] = "0"  # judge in the pytest process: no judge outlives the test
    return subprocess.run([*args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_installed_kit_is_the_release_not_this_kit(installed, tmp_path):
    done = in_venv(str(installed), "-c",
                   "import grader, kata_launcher; print(grader.__file__)", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(installed.parent.parent)
    assert not (Path(done.stdout.strip()).parent / "grade.py").exists()


def test_the_student_venv_has_no_instructor_library(installed, tmp_path):
    for module in ("pytest_html", "copydetect", "distributed", "grader.classroom", "grader.reports"):
        done = in_venv(str(installed), "-c", f"import {module}", cwd=tmp_path)
        assert done.returncode == 1 and "ModuleNotFoundError" in done.stderr, (module, done.stderr)
    done = in_venv(str(installed), "-c", "import mlflow, sklearn, skops, watchfiles, babel, rich", cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_installed_pytest_task1_is_red_naming_every_todo(installed, released):
    done = in_venv(str(installed), "-m", "pytest", "tests/test_task1.py", cwd=released)
    assert done.returncode == 1, done.stdout + done.stderr
    for todo_id in TASK1_TODOS:
        assert f"TODO {todo_id}: " in done.stdout


def test_installed_pytest_task1_is_green_against_the_solutions(installed, released):
    done = in_venv(str(installed), "-m", "pytest", "tests/test_task1.py",
                   "--exercises", str(SOLUTIONS), cwd=released)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(TASK1_TODOS)} passed" in done.stdout


def test_installed_kata_offers_the_student_verbs_only(installed, released):
    kata_script = str(installed.parent / "kata")
    for cwd in (released, released / "exercises", installed.parent):  # in, below and outside the kit
        done = in_venv(kata_script, "--help", cwd=cwd)
        assert done.returncode == 0 and not done.stderr, done.stderr
        assert STUDENT_VERBS in done.stdout
    refused = in_venv(kata_script, "validate", cwd=released)  # one line, not a traceback
    assert refused.returncode == 2 and refused.stderr.startswith("kata validate is a verb of the instructor's kit")
    assert refused.stderr.count("\n") == 1, refused.stderr


def test_installed_kata_check_prints_the_classroom_payload(installed, released):
    done = in_venv(str(installed.parent / "kata"), "check", "--task", "1",
                   "--format", "classroom", cwd=released)
    assert done.returncode == 1, done.stderr
    results = reporter_reads(done.stdout.strip())
    assert_reporter_contract(results)
    assert (results["status"], results["max_score"]) == ("fail", len(TASK1_TODOS))
    assert [t["status"] for t in results["tests"]] == ["fail"] * len(TASK1_TODOS)
    assert all(t["message"].startswith(t["name"].split(":")[0] + ":") for t in results["tests"])
