"""``kata export gradescope``: the bundle's contents, and its ``run_autograder`` run for
real against a temporary ``/autograder`` tree, its results.json checked field by field
against Gradescope's documented format."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import grader.cli.main as cli
from grader.platforms.gradescope import CONFIG_FILE, export
from grader.core.paths import SOLUTIONS_DIR
from grader.authoring.stubgen import render
from grader.lab.todos import load_todos

SPECS = "https://gradescope-autograders.readthedocs.io/en/latest/specs/"
FORMATS = {"text", "html", "simple_format", "md", "ansi"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
TOP_LEVEL = {"score", "execution_time", "output", "output_format", "test_output_format",
             "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests",
             "leaderboard"}
TEST_FIELDS = {"score", "max_score", "status", "name", "name_format", "number", "output",
               "output_format", "tags", "visibility", "extra_data"}


def assert_gradescope_results(results: dict) -> None:
    """``results.json`` as Gradescope's autograder specification documents it
    (https://gradescope-autograders.readthedocs.io/en/latest/specs/, "Output format"):
    top-level ``score`` (required when the tests carry none), ``execution_time`` in
    seconds, ``output``, ``output_format``/``test_output_format``/``test_name_format``
    (text, html, simple_format, md, ansi), ``visibility`` and ``stdout_visibility``
    (hidden, after_due_date, after_published, visible), ``extra_data``, ``tests``: each
    with ``score``, ``max_score``, ``status`` (passed or failed), ``name``, ``number``,
    ``output``, ``tags``, ``visibility``, ``extra_data``. No other key."""
    assert set(results) <= TOP_LEVEL, set(results) - TOP_LEVEL
    assert isinstance(results["score"], (int, float)) and not isinstance(results["score"], bool)
    if "execution_time" in results:
        assert isinstance(results["execution_time"], int) and results["execution_time"] >= 0
    assert isinstance(results.get("output", ""), str)
    for key in ("output_format", "test_output_format", "test_name_format"):
        assert results.get(key, "text") in FORMATS, key
    for key in ("visibility", "stdout_visibility"):
        assert results.get(key, "visible") in VISIBILITIES, key
    assert isinstance(results.get("extra_data", {}), dict)
    assert isinstance(results["tests"], list)
    for test in results["tests"]:
        assert set(test) <= TEST_FIELDS, set(test) - TEST_FIELDS
        for key in ("score", "max_score"):
            assert isinstance(test[key], (int, float)) and not isinstance(test[key], bool), key
        assert 0 <= test["score"] <= test["max_score"] or test["max_score"] == test["score"] == 0
        assert test["status"] in ("passed", "failed")
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["number"], str) and isinstance(test["output"], str)
        assert isinstance(test["tags"], list) and all(isinstance(tag, str) for tag in test["tags"])
        assert test.get("visibility", "visible") in VISIBILITIES
        assert isinstance(test.get("extra_data", {}), dict)
    if results["tests"]:
        assert results["score"] == sum(test["score"] for test in results["tests"])


def autograder_tree(tmp_path: Path, bundle: Path) -> Path:
    """Gradescope's layout: the bundle extracted to ROOT/source, ROOT/submission, ROOT/results."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    (root / "submission").mkdir()
    (root / "results").mkdir()
    return root


def run_autograder(root: Path, python: str = sys.executable, served: dict | None = None) -> subprocess.CompletedProcess:
    """The bundle's run_autograder; ``served``: the session's model server (``served_model_env``)."""
    env = {**os.environ, "KATA_AUTOGRADER_ROOT": str(root), "KATA_AUTOGRADER_PYTHON": python, **(served or {})}
    env.pop("PYTHONPATH", None)
    return subprocess.run(["bash", str(root / "source" / "run_autograder")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=900)


def results_of(root: Path) -> dict:
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    export(out, seed="gs-kit-test")
    return out


def test_the_bundle_has_the_scripts_the_seed_and_the_kit_with_its_hidden_tests_and_no_solutions(
        bundle, tmp_path):
    with zipfile.ZipFile(bundle) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        config = json.loads(archive.read(CONFIG_FILE))
    for script in ("setup.sh", "run_autograder"):  # at the root of the zip, executable
        assert (infos[script].external_attr >> 16) & 0o777 == 0o755
    assert config == {"seed": "gs-kit-test", "timeout": 60.0, "visibility": "visible", "budget": 540.0}
    names = set(infos)
    for needed in ("kit/pyproject.toml", "kit/conftest.py", "kit/pytest.ini", "kit/README.md",
                   "kit/data/devops_metrics.csv", "kit/grader/platforms/gradescope.py", "kit/grader/lab/todos.toml",
                   "kit/grader/sandbox/zygote.py", "kit/labkit/__init__.py", "kit/tests/test_task1.py",
                   "kit/tests/test_bonus.py", *(f"kit/tests/hidden/test_task{n}_hidden.py"
                                                for n in (1, 2, 3, 4))):
        assert needed in names, needed
    for name in names:
        parts = Path(name).parts
        assert not {"solutions", "exercises", "examples", "kit_tests", "benchmarks",
                    "__pycache__"} & set(parts), name
    assert "kit/grader/authoring/mistakes.toml" not in names  # its edits quote the solutions
    # The same kit and seed give the same bytes; without --seed, a fresh seed each time.
    again = tmp_path / "again.zip"
    export(again, seed="gs-kit-test")
    assert again.read_bytes() == bundle.read_bytes()
    seeds = {export(tmp_path / f"{n}.zip").seed for n in range(2)}
    assert len(seeds) == 2


def test_setup_sh_and_run_autograder_are_valid_bash(bundle, tmp_path):
    root = autograder_tree(tmp_path, bundle)
    for script in ("setup.sh", "run_autograder"):
        checked = subprocess.run(["bash", "-n", str(root / "source" / script)], capture_output=True,
                                 text=True)
        assert checked.returncode == 0, checked.stderr


def test_kata_export_gradescope_refuses_a_bad_seed_in_one_line(tmp_path, capsys):
    code = cli.main(["export", "gradescope", "--out", str(tmp_path / "b.zip"), "--seed", "no spaces"])
    assert code == 2 and not (tmp_path / "b.zip").exists()
    assert capsys.readouterr().err.strip().startswith("kata export gradescope: --seed 'no spaces'")
    assert cli.main(["export", "gradescope", "--out", str(tmp_path / "b.zip"), "--seed", "s1"]) == 0
    err = capsys.readouterr().err
    assert "grading seed s1" in err
    assert err.strip().splitlines()[-1] == ("kata export gradescope: It needs 768 MB of memory (Gradescope's "
                                            "default; each call of student code then gets 128 MiB, more if you "
                                            "give it more) and at most 600 s per submission (its default limit "
                                            "is 600 s), the worst submission included: leave both at their "
                                            "defaults or above.")


def test_an_unusable_upload_gets_a_valid_results_json_with_score_0_and_one_line(bundle, tmp_path):
    root = autograder_tree(tmp_path, bundle)
    (root / "submission" / "notes.md").write_text("I could not finish, sorry.\n")
    run = run_autograder(root)
    assert run.returncode == 0, run.stderr[-2000:]
    results = results_of(root)
    assert_gradescope_results(results)
    assert results["score"] == 0 and results["tests"] == []
    assert "\n" not in results["output"]
    assert results["output"].startswith("Not graded / No calificado: no exercises/ folder")
    assert "sube tu carpeta exercises/" in results["output"]


def test_a_kit_that_cannot_start_still_leaves_a_valid_results_json(bundle, tmp_path):
    root = autograder_tree(tmp_path, bundle)
    run = run_autograder(root, python="/bin/false")
    assert run.returncode != 0
    results = results_of(root)
    assert_gradescope_results(results)
    assert results["score"] == 0 and "tell your instructor" in results["output"]


def solution(name):
    return render((SOLUTIONS_DIR / name).read_text(encoding="utf-8"), stub_ids=())


# -- Gradescope's defaults: 768 MB of memory, 600 s per submission -------------------------
def own_memory_cgroup() -> Path | None:
    """This process's cgroup v1 memory folder, where we may make groups in it; else None."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if "memory" in names.split(","):
            folder = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            return folder if os.access(folder, os.W_OK) else None
    return None


@pytest.fixture(scope="module")
def shared_tree(bundle, tmp_path_factory) -> Path:
    """One /autograder tree for the tests of Gradescope's defaults (each rewrites its upload)."""
    return autograder_tree(tmp_path_factory.mktemp("defaults"), bundle)


def upload(root: Path, files: dict[str, str], **config) -> None:
    """``files`` as the upload, a fresh results/, ``config`` over the bundle's settings."""
    import shutil

    for folder in ("submission", "results"):
        shutil.rmtree(root / folder, ignore_errors=True)
        (root / folder).mkdir()
    for name, text in files.items():
        (root / "submission" / name).write_text(text)
    settings = root / "source" / CONFIG_FILE
    settings.write_text(json.dumps({**json.loads(settings.read_text()), **config}))


MEMORY_MIB = 768  # Gradescope's default


def run_autograder_in_768_mib(root: Path, served: dict | None = None, seconds: float = 600):
    """The bundle's run_autograder under Gradescope's defaults: in a memory cgroup of 768 MiB,
    swap counted (the kit, its worker, the sandbox's zygote and calls, the model server unless
    ``served`` names one outside), killed by ``timeout`` after ``seconds``. Returns the run,
    the group's peak in MiB and its ``memory.oom_control`` (v1 counts a kill in the group
    of the process killed: this group holds the top process, its nested groups the kata
    worker's and the calls')."""
    group = own_memory_cgroup() / f"kata-gs-{os.getpid()}"
    group.mkdir()
    try:
        limit = str(MEMORY_MIB << 20)
        (group / "memory.limit_in_bytes").write_text(limit)
        if (group / "memory.memsw.limit_in_bytes").exists():
            (group / "memory.memsw.limit_in_bytes").write_text(limit)
        env = {**os.environ, "KATA_AUTOGRADER_ROOT": str(root), "KATA_AUTOGRADER_PYTHON": sys.executable,
               **(served or {})}
        env.pop("PYTHONPATH", None)
        if not served:
            env.pop("KATA_MODEL_SERVER", None)  # its own model server, inside the group
        run = subprocess.run(["timeout", f"{seconds:g}", "bash", str(root / "source" / "run_autograder")],
                             cwd=root, env=env, capture_output=True, text=True, timeout=seconds + 60,
                             preexec_fn=lambda: (group / "cgroup.procs").write_text("0"))
        peak = int((group / "memory.max_usage_in_bytes").read_text()) >> 20
        kills = (group / "memory.oom_control").read_text()
    finally:
        import time

        for _ in range(50):  # nested groups first (the kata worker's, its calls'), once empty
            for folder in sorted(group.rglob("*/"), key=lambda path: len(path.parts), reverse=True) + [group]:
                try:
                    folder.rmdir()
                except OSError:
                    pass
            if not group.exists():
                break
            time.sleep(0.1)
    return run, peak, kills


needs_memory_cgroup = pytest.mark.skipif(own_memory_cgroup() is None,
                                         reason="needs a cgroup v1 memory hierarchy we may write in")


def test_run_autograder_grades_a_zipped_upload_with_the_seed_and_hidden_tests_in_768_mib(bundle, tmp_path):
    """One real grading, as on Gradescope and within its default 768 MiB (swap counted,
    where a memory cgroup can be made here: the kit, its worker, the sandbox's zygote and
    calls, the model server for the bonus; no kill): a zip with task 1 tuned to the public
    inputs (it returns the newest run of the experiment: the public 1.2 test passes, the
    hidden one does not), Task 2 with its tags set after the loop (2.4), Tasks 3, 4 and the
    bonus solved (every task's memory in one run)."""
    root = autograder_tree(tmp_path, bundle)
    task1 = solution("task1_baseline.py").replace(
        "    return run.info.run_id if run else None\n",
        "    newest = mlflow.search_runs(experiment_names=[experiment_name],\n"
        "                                order_by=['attributes.start_time DESC'])\n"
        "    return newest.iloc[0]['run_id']\n")
    task2 = solution("task2_tuning.py")
    tags = '            mlflow.set_tags({"task": "hyperparameter-tuning", "model_family": "RandomForest"})\n'
    assert task2.count(tags) == 1
    task2 = task2.replace(tags, "").replace("    return run_ids\n", tags[8:] + "    return run_ids\n")
    with zipfile.ZipFile(root / "submission" / "lab.zip", "w") as upload:
        upload.writestr("lab/exercises/task1_baseline.py", task1)
        upload.writestr("lab/exercises/task2_tuning.py", task2)
        for name in ("task3_compare.py", "task4_registry.py", "bonus_serving.py"):
            upload.writestr(f"lab/exercises/{name}", solution(name))
    if own_memory_cgroup() is not None:
        run, peak, kills = run_autograder_in_768_mib(root)
        assert "oom_kill 0" in kills, (kills, peak)
    else:  # no memory group here: the grading alone
        run = run_autograder(root)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "seed gs-kit-test" in run.stdout
    results = results_of(root)
    assert_gradescope_results(results)

    tests = {test["number"]: test for test in results["tests"]}
    todos = load_todos()
    assert list(tests) == [todo.id for todo in todos]  # one per TODO, in the lab's order
    passed = {number for number, test in tests.items() if test["status"] == "passed"}
    assert passed == {todo.id for todo in todos} - {"1.2", "2.4"}
    for todo in todos:
        test = tests[todo.id]
        assert test["name"].startswith(f"TODO {todo.id}: {todo.title}")
        assert test["max_score"] == (0 if todo.bonus else todo.points)
        assert test["score"] == (test["max_score"] if todo.id in passed else 0)
        assert test["visibility"] == "visible"
        assert (test["extra_data"]["kata_status"] == "pass") == (todo.id in passed)
    assert results["score"] == 13 and tests["B.1"]["status"] == "passed"  # bonus: 0 points
    hidden = tests["1.2"]["output"].splitlines()
    assert hidden[0].startswith("TODO 1.2: expected the id of the new run, but got")
    assert "an earlier attempt left" in hidden[0]  # only the hidden test sees this
    assert hidden[1].startswith("Hint: ") and hidden[2].startswith("Pista: ")
    assert tests["2.4"]["output"].startswith("TODO 2.4: expected tags")
    assert results["output"].splitlines()[0] == ("Score 13/15, bonus 2/2 (not counted) / "
                                                 "Puntuación 13/15, bonus 2/2 (no cuenta).")
    assert results["output_format"] == results["test_output_format"] == "text"
    assert results["extra_data"]["seed"] == "gs-kit-test"
    assert isinstance(results["extra_data"]["kit"]["isolation"]["level"], str)
    assert 0 < results["execution_time"] < 900


# The worst submission: every function of the solutions replaced by one of these.
HOG = "hog = []\nwhile True:\n    hog.append(b'x' * (32 << 20))\n"  # memory it writes: GiBs
FORK_BOMB = "import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.2)\n"
SPAWNER = ("import subprocess, sys, time\nkids = []\nwhile True:\n    try:\n        kids.append(subprocess.Popen("
           "[sys.executable, '-c', 'import time; time.sleep(600)']))\n    except OSError:\n        time.sleep(0.2)\n")
LOOP = "import time\nwhile True:\n    time.sleep(1)\n"
WORST = {"log_baseline_run": HOG, "tune_random_forest": FORK_BOMB, "compare_models": SPAWNER}


def worst(name: str) -> str:
    """The solution ``name`` as the worst submission writes it: task 1 fills memory, task 2
    forks without end, task 3 starts interpreters without end; every other function loops
    forever."""
    import ast

    tree = ast.parse((SOLUTIONS_DIR / name).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            node.body = ast.parse(WORST.get(node.name, LOOP)).body
    return ast.unparse(tree)


@needs_memory_cgroup
def test_the_worst_submission_gets_feedback_on_every_todo_within_768_mib_and_its_time_budget(
        shared_tree, served_model_env):
    """A memory hog, a fork bomb, a process spawner and loops everywhere else, graded in Gradescope's
    768 MiB (swap counted) under ``timeout`` budget + 60 s (the bundle's defaults: 540 s of
    budget inside Gradescope's 600 s; here 3 s per call, a budget of 25 s): each call's memory
    is what the container leaves the kit's own processes (768 - 640 MiB), so the hogs fail
    their own TODOs for memory, the grader is never killed, and every TODO gets its message;
    the loops time out, and once the budget is spent the rest say they were not run."""
    import time

    budget = 25
    root = shared_tree
    upload(root, {path.name: worst(path.name) for path in sorted(SOLUTIONS_DIR.glob("*.py"))},
           budget=budget, timeout=3)
    started = time.monotonic()
    run, peak, kills = run_autograder_in_768_mib(root, served_model_env, seconds=budget + 60)
    elapsed = time.monotonic() - started
    assert run.returncode == 0, (run.returncode, run.stdout[-2000:] + run.stderr[-2000:])
    assert "oom_kill 0" in kills, (kills, peak)  # the top process: never killed
    assert "128 MiB per call" in run.stdout
    results = results_of(root)
    assert_gradescope_results(results)
    assert results["output"].startswith("Score 0/15, bonus 0/2"), results["output"]
    assert results["extra_data"]["kit"]["call_memory_mb"] == 128
    tests = {test["number"]: test for test in results["tests"]}
    assert list(tests) == [todo.id for todo in load_todos()]  # every TODO: failed, with its message
    assert all(test["status"] == "failed" and test["output"] for test in tests.values())
    # The worker, its sandbox and its model server lived: not one verdict is the kit's own.
    assert not any("kit error" in test["output"] for test in tests.values()), results["output"]
    memory = "ran out of memory: MemoryError: the call used more than its 128 MiB"
    for todo in ("1.1", "1.2", "1.3", "1.4"):  # the hog: its own TODOs, for memory
        assert tests[todo]["output"].startswith(f"TODO {todo}: log_baseline_run() {memory}"), tests[todo]
        assert "sandbox allows" not in tests[todo]["output"]  # said once
    for todos, function in (("2.1 2.2 2.3 2.4", "tune_random_forest()"), ("3.1 3.2 3.3", "compare_models()")):
        for todo in todos.split():  # the fork bomb, the spawner: memory or their time limit
            assert tests[todo]["extra_data"]["kata_status"] in ("error", "timeout"), tests[todo]
            assert tests[todo]["output"].startswith(f"TODO {todo}: {function} "), tests[todo]
    outputs = [test["output"] for test in tests.values()]
    assert any("timed out" in text for text in outputs)
    assert any(f"the submission's time budget of {budget} s ran out" in text for text in outputs)
    assert elapsed < budget + 60, elapsed


def test_an_out_of_memory_or_a_kit_failure_is_not_graded_never_a_0_that_looks_like_a_grade():
    """What Gradescope shows when the kit could not grade: no score line, no per-TODO zeros,
    the reason, and that it is not the student's code."""
    from grader.platforms.gradescope import results_json
    from grader.results.model import Status, SubmissionResult, TodoResult

    kit = {"seed": "s"}
    oom = SubmissionResult("submission", "error",
                           message="the grader ran out of memory reading what this submission left")
    internal = SubmissionResult("submission", "graded",
                                {todo.id: TodoResult(Status.ERROR, "no test of this TODO ran") for todo in load_todos()},
                                1.0, message="pytest exited with INTERNAL_ERROR: OSError: cannot start the sandbox")
    for result, why in ((oom, "ran out of memory"), (internal, "INTERNAL_ERROR: OSError")):
        payload = results_json(result, kit, 3.0)
        assert_gradescope_results(payload)
        assert payload["tests"] == [] and payload["score"] == 0
        assert payload["output"].startswith("Not graded: the autograder could not grade this submission "
                                            "(not your code): ")
        assert why in payload["output"] and "Score" not in payload["output"]
        assert "No calificado: el corrector automático no pudo corregir esta entrega" in payload["output"]
        assert payload["extra_data"]["status"] == "kit_error"


def test_each_call_gets_the_containers_memory_minus_the_kits_within_the_sandboxs_usual_cap():
    """768 MB (Gradescope's default) leaves 128 MiB per call; a container given more leaves
    more, up to the sandbox's usual 2 GiB; a smaller one never less than 64 MiB."""
    from grader.platforms.gradescope import call_memory_mb

    assert call_memory_mb(768 << 20) == 128
    assert call_memory_mb(1024 << 20) == 384
    assert call_memory_mb(8 << 30) == 2048
    assert call_memory_mb(600 << 20) == 64


@needs_memory_cgroup
def test_the_container_limit_is_read_from_the_memory_cgroup_it_runs_in():
    """What ``call_memory_mb`` derives from: the tightest limit above the process (here a v1
    group of 768 MiB around it), read by the process itself."""
    group = own_memory_cgroup() / f"kata-gs-limit-{os.getpid()}"
    group.mkdir()
    try:
        (group / "memory.limit_in_bytes").write_text(str(MEMORY_MIB << 20))
        code = "from grader.sandbox.cgroups import memory_limit; print(memory_limit())"
        seen = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                              preexec_fn=lambda: (group / "cgroup.procs").write_text("0"))
    finally:
        group.rmdir()
    assert seen.stdout.strip() == str(MEMORY_MIB << 20), seen.stderr
