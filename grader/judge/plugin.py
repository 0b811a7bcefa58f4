"""The kata's pytest plugin: options, the ``todo`` marker, and the fixtures the kata
tests use (the process's sandbox, a fresh ``KataCase`` per test, a model server).

Loaded by the repository's ``conftest.py``. Kata tests never import student code:
they call it through ``case.call(...)``, which runs it in a sandboxed child.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.core import i18n
from grader.core.i18n import _
from grader.core.paths import EXERCISES_DIR, KIT_ROOT, TESTS_DIR
from grader.judge.calls import KitError
from grader.judge.case import KataCase, KataFeedback
from grader.judge.preload import shared_sandbox
from grader.judge.shared_calls import SharedCalls
from grader.lab.todos import task_by_number, todo_by_id
from grader.results.model import KIT_ERROR
from grader.sandbox import Sandbox, SandboxLimits


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kata", "MLflow kata")
    group.addoption(
        "--exercises",
        default=os.environ.get("KATA_EXERCISES"),
        metavar="DIR",
        help="folder with the student files to test (default: $KATA_EXERCISES or ./exercises)",
    )
    group.addoption(
        "--kata-timeout",
        type=float,
        default=SandboxLimits.timeout_s,
        metavar="S",
        help="seconds one call of student code may take (default: %(default)s)",
    )
    group.addoption(
        "--kata-memory",
        type=int,
        default=SandboxLimits.memory_mb,
        metavar="MB",
        help="memory one call of student code may use, MiB (default: %(default)s)",
    )
    group.addoption(
        "--kata-budget",
        type=float,
        default=None,
        metavar="S",
        help="seconds all calls of student code of the session may take together: each "
        "call's timeout is shortened to what is left, and once none is left the TODOs "
        "still to judge fail saying so (default: no budget; grader.judge.budget)",
    )
    group.addoption(
        "--kata-seed",
        default="0",
        metavar="SEED",
        help="seed of the tests' varied inputs (names, samples); default: %(default)s",
    )
    group.addoption(
        "--kata-lang",
        type=i18n.option_value,
        default=i18n.choose(),
        metavar="LANG",
        help=f"language of the failure messages: {', '.join(i18n.languages())} "
        "(default: $KATA_LANG, else the locale's; with none, English with "
        "hints in English and Spanish)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "todo(id): the one lab TODO (e.g. '1.3') this kata test judges")
    config.addinivalue_line(
        "markers",
        "inputs(name): kata tests of one file with the same inputs name draw the same "
        "names and samples, so a student call they all make runs once per session "
        "and each judges its own copy of what it left (grader.judge.shared_calls)",
    )
    config.stash[PREVIOUS_LANG] = i18n.set_language(config.getoption("kata_lang"))
    config.stash[THIN] = thin_client(config)
    start_journal(config)
    if config.stash[THIN]:
        from grader.judge import warm

        warm.prestart()  # the judge starts while this run collects
    if may_run_kata_tests(config) and not config.option.collectonly and not config.stash[THIN]:
        # Start now: the sandbox's ~5-s preload overlaps with collection's imports.
        shared_sandbox().warm_up(["tracking"])


def pytest_sessionstart(session: pytest.Session) -> None:
    """The submission's time budget starts with its session (``grader.judge.budget``)."""
    from grader.judge import budget

    budget.start(session.config.getoption("kata_budget"))


JOURNAL = pytest.StashKey[tuple[str, object]]()  # the verb journaled, and its TodoCollector
THIN = pytest.StashKey[bool]()  # this run replays the warm judge's (see grader.judge.warm)
PREVIOUS_LANG = pytest.StashKey[str]()  # the process's language before this session


def pytest_unconfigure(config: pytest.Config) -> None:
    if PREVIOUS_LANG in config.stash:  # a process running several sessions (the warm
        i18n.set_language(config.stash[PREVIOUS_LANG])  # judge, kata check) gets it back


# -- the student's journal (grader.results.journal) ---------------------------------------


def journal_verb(config: pytest.Config) -> str | None:
    """Which verb this run is journaled as: ``pytest`` for a ``pytest`` typed by a person
    that selects kata tests, the ``journal_verb`` of the plugin object ``kata check`` or
    ``kata watch`` passes; None for any other run (grading, the warm judge's own runs,
    the kit's tests), a collection only, or when journaling is off."""
    from grader.results import journal

    if config.option.collectonly or not journal.enabled():
        return None
    plugins = config.invocation_params.plugins or ()
    if not plugins:
        return "pytest" if may_run_kata_tests(config) else None
    verbs = [getattr(plugin, "journal_verb", None) for plugin in plugins]
    return next((verb for verb in verbs if verb in journal.VERBS), None)


def start_journal(config: pytest.Config) -> None:
    """Collect this run's TODO verdicts for the journal (its own reports or the ones the
    warm judge replays here), when it is journaled."""
    verb = journal_verb(config)
    if verb is None:
        return
    from grader.judge.runner import TodoCollector

    collector = TodoCollector(replayable=True)
    config.pluginmanager.register(collector, "kata-journal")
    config.stash[JOURNAL] = (verb, collector)


JOURNALED_EXITS = (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Append this run's line to the student's journal: the TODOs whose tests ran (an
    interrupted run, or one that ran none, leaves no line)."""
    config = session.config
    if JOURNAL not in config.stash or exitstatus not in JOURNALED_EXITS:
        return
    from grader.judge.runner import TodoCollector
    from grader.results import journal

    verb, collector = config.stash[JOURNAL]
    assert isinstance(collector, TodoCollector)
    ran = set(collector.durations)  # (before results(), which reads every TODO's time)
    judged = {todo_id: result for todo_id, result in collector.results().items() if todo_id in ran}
    if judged:
        line = journal.entry(judged, verb, config.getoption("kata_lang") or "")
        journal.append(journal.journal_path(exercises_dir(config)), line)


def thin_client(config: pytest.Config) -> bool:
    """Whether this run should be judged by the warm judge: a ``pytest`` typed by a
    person, or ``kata check`` (only plugin objects that say they read replayed reports,
    ``replayable``), that selects kata tests only."""
    from grader.judge import warm

    plugins = config.invocation_params.plugins or ()
    if (
        not warm.enabled()
        or config.option.collectonly
        or not all(getattr(plugin, "replayable", False) for plugin in plugins)
    ):
        return False
    paths = selected_paths(config)
    return bool(paths) and all(path.is_relative_to(TESTS_DIR) for path in paths)


def selected_paths(config: pytest.Config) -> list[Path]:
    """The files and folders the command line selects (node ids without their ``::…``)."""
    return [(config.invocation_params.dir / arg.split("::")[0]).resolve() for arg in config.args]


def may_run_kata_tests(config: pytest.Config) -> bool:
    """Whether the command line selects any kata test (not only the tooling tests)."""
    return any(
        path in (KIT_ROOT, TESTS_DIR) or (path.parent == TESTS_DIR and path.name.startswith("test_"))
        for path in selected_paths(config)
    )


def exercises_dir(config: pytest.Config) -> Path:
    chosen = config.getoption("exercises")
    return Path(chosen).resolve() if chosen else EXERCISES_DIR


def pytest_collection_finish(session: pytest.Session) -> None:
    """Warm the sandbox up for models too when model-logging tasks were collected, and
    start the model server early when the bonus was: only for a task whose student file
    is there (its tests fail at once without it: ``KataCase.fail_if_no_student_file``; the
    models' warm-up is seconds of CPU a class of task-1 uploads would pay per worker)."""
    session.config.stash[COLLECTED] = collected_files(session.items)
    known = todo_by_id()
    tasks = {
        known[marker.args[0]].task
        for item in session.items
        for marker in item.iter_markers("todo")
        if marker.args and marker.args[0] in known
    }
    if session.config.option.collectonly or session.config.stash[THIN]:
        return
    exercises = exercises_dir(session.config)
    facts = [task_by_number()[number] for number in tasks]
    facts = [task for task in facts if (exercises / f"{task.module}.py").is_file()]
    if any(task.models for task in facts):
        shared_sandbox().warm_up(["models"])
    if any(task.server for task in facts):
        from grader.judge.model_server import start_in_background

        start_in_background(shared_sandbox())


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """With a lazy model server (``model_server.LAZY_SERVER_ENV``: the least memory), stop
    it once the tests that use it are done: the hidden tests after them run without its
    ~0.4 GB beside them."""
    from grader.judge import model_server

    if (
        model_server.lazy()
        and "model_server" in getattr(item, "fixturenames", ())
        and (nextitem is None or "model_server" not in getattr(nextitem, "fixturenames", ()))
    ):
        model_server.stop_shared()


# -- what next, after a green run -------------------------------------------------------

COLLECTED = pytest.StashKey[dict[str, int] | None]()  # kata test file -> its tests run


def collected_files(items: list[pytest.Item]) -> dict[str, int] | None:
    """How many tests of each kata test file (``tests/test_task1.py`` …) the run holds;
    None when it holds any other test too (the kit's own tests, a hidden test file)."""
    files = {task.test_file for task in task_by_number().values()}
    counts: dict[str, int] = {}
    for item in items:
        path = Path(str(item.path))
        if path.parent != TESTS_DIR or path.name not in files:
            return None
        counts[path.name] = counts.get(path.name, 0) + 1
    return counts


NOT_GREEN = ("failed", "error", "deselected", "skipped", "xfailed", "xpassed")


def green_tasks(config: pytest.Config, stats: dict, exitstatus: int) -> list[int]:
    """The tasks a student's own ``pytest`` run proved green: every test of each task file
    it ran passed. None for a run that selected part of a file (``-k``, ``::``, a
    deselection), anything but kata test files, or one made by ``kata check`` or the warm
    judge (they pass plugin objects; they say what is next themselves)."""
    collected = config.stash.get(COLLECTED, None)
    if (
        exitstatus != pytest.ExitCode.OK
        or config.invocation_params.plugins
        or not collected
        or any(stats.get(key) for key in NOT_GREEN)
        or any("::" in arg for arg in config.args)
    ):
        return []
    passed: dict[str, int] = {}
    for report in stats.get("passed", ()):
        if getattr(report, "when", "call") == "call":
            name = Path(report.nodeid.split("::")[0]).name
            passed[name] = passed.get(name, 0) + 1
    if any(passed.get(name, 0) != count for name, count in collected.items()):
        return []
    return [task.number for task in task_by_number().values() if task.test_file in collected]


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """After a green ``pytest tests/test_taskN.py``: one line saying what is next."""
    from grader.lab.progress import next_step

    green = green_tasks(config, terminalreporter.stats, exitstatus)
    if green:
        terminalreporter.write_line(next_step(green), green=True, bold=True)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session):
    """In a thin run, the warm judge runs the tests and this process replays its
    reports; when no warm judge can be had, pytest runs them here as usual."""
    config = session.config
    if (
        not config.stash[THIN]
        or not session.items
        or (session.testsfailed and not config.option.continue_on_collection_errors)
    ):
        return None
    from grader.judge import warm

    options = [
        "--exercises",
        str(exercises_dir(config)),
        "--kata-seed",
        str(config.getoption("kata_seed")),
        "--kata-timeout",
        str(config.getoption("kata_timeout")),
        "--kata-memory",
        str(config.getoption("kata_memory")),
        # The judge's environment is its own: the language travels with the request.
        f"--kata-lang={config.getoption('kata_lang')}",
    ]
    items = {item.nodeid: item for item in session.items}
    args = [judge_arg(config, nodeid) for nodeid in items] + options
    replayed: set[str] = set()
    try:
        for event in warm.judge_remotely(args):
            replay(config, items, event, replayed)
    except warm.WarmUnavailable as error:
        if not replayed:
            config.stash[THIN] = False
            return None  # judged here instead, cold
        lost = f"{KIT_ERROR} " + _("the warm judge stopped ({error}); run pytest again").format(error=error)
    else:
        lost = f"{KIT_ERROR} " + _("the warm judge did not run this test; run pytest again")
    for nodeid, item in items.items():
        if nodeid not in replayed:
            report = pytest.TestReport(
                nodeid, item.location, {}, "failed", lost, "call", user_properties=[("kata_status", "error")]
            )
            config.hook.pytest_runtest_logreport(report=report)
    return True


def judge_arg(config: pytest.Config, nodeid: str) -> str:
    path, separator, rest = nodeid.partition("::")
    return str(config.rootpath / path) + separator + rest


def replay(config: pytest.Config, items: dict, event: dict, replayed: set[str]) -> None:
    """Feed one event of the warm judge to this run's hooks, as if it happened here."""
    import warnings

    kind, nodeid = event.get("event"), event.get("nodeid", "")
    location = items[nodeid].location if nodeid in items else None
    if kind == "logstart":
        config.hook.pytest_runtest_logstart(nodeid=nodeid, location=location)
    elif kind == "logfinish":
        config.hook.pytest_runtest_logfinish(nodeid=nodeid, location=location)
    elif kind == "report":
        report = config.hook.pytest_report_from_serializable(config=config, data=event["data"])
        replayed.add(report.nodeid)
        config.hook.pytest_runtest_logreport(report=report)
    elif kind == "feedback":
        message = KataFeedback(event["message"])
        path, line = (str(config.rootpath / location[0]), (location[1] or 0) + 1) if location else ("", 0)
        config.hook.pytest_warning_recorded.call_historic(
            kwargs=dict(
                warning_message=warnings.WarningMessage(message, KataFeedback, path, line),
                when="runtest",
                nodeid=nodeid,
                location=None,
            )
        )


def todo_of(item: pytest.Item):
    """The one known TODO a kata test is marked with; anything else fails the test."""
    ids = [marker.args[0] if marker.args else None for marker in item.iter_markers("todo")]
    if len(ids) != 1 or ids[0] not in todo_by_id():
        pytest.fail(
            f"{item.nodeid}: a kata test needs exactly one @pytest.mark.todo('<id>') "
            f"with an id from todos.toml; found {ids or 'none'}",
            pytrace=False,
        )
    return todo_by_id()[ids[0]]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A kata test's verdict is a ``case.fail`` (pytest's ``Failed``). Any other
    exception is not the student's fail: reading a store the student's code left
    unreadable is the student's ``error``; anything else (seeding, a fixture, the
    test's own code) is reported as ``error`` with ``kit error: …``."""
    report = yield
    excinfo = call.excinfo
    marker = item.get_closest_marker("todo")
    if not report.failed or excinfo is None or excinfo.errisinstance(pytest.fail.Exception) or marker is None:
        return report
    case = getattr(item, "funcargs", {}).get("case")
    todo_id = marker.args[0]
    text = (str(excinfo.value).strip().splitlines() or [""])[0]
    if isinstance(case, KataCase) and case.student_ran and is_store_error(excinfo.value):
        message = f"TODO {todo_id}: " + _(
            "MLflow could not read what the code under test left in its store: {error}"
        ).format(error=f"{excinfo.typename}: {text}")
    elif isinstance(case, KataCase) and case.student_ran and excinfo.errisinstance(UnicodeError):
        # A name the student's code made (a file, a param) that is not text: its doing.
        message = f"TODO {todo_id}: " + _(
            "the judge could not read a name the code under test left (not UTF-8 text): {error}"
        ).format(error=f"{excinfo.typename}: {text}")
    else:
        detail = (
            text.removeprefix(f"{KIT_ERROR} ")
            if text.startswith(f"{KIT_ERROR} ") or excinfo.errisinstance(KitError)
            else f"{excinfo.typename}: {text}"
        )
        message = f"TODO {todo_id}: {KIT_ERROR} {detail} ({not_your_code()})"
    report.user_properties.append(("kata_status", "error"))
    report.longrepr = f"{message}\n\n{report.longreprtext}"
    return report


def not_your_code() -> str:
    """Said after a kit error, in the current language (in each language when none)."""
    lines = []
    for lang in i18n.hint_languages():
        with i18n.use(lang):
            lines.append(_("not your code: tell your instructor"))
    return " / ".join(dict.fromkeys(lines))


def is_store_error(error: BaseException) -> bool:
    """An error of MLflow or SQLite reading a store (what a student's code could cause)."""
    import sqlite3

    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(error, (MlflowException, SQLAlchemyError, sqlite3.Error))


@pytest.fixture(scope="session")
def sandbox() -> Sandbox:
    from grader.judge.mlflow_internals import cache_schema_head

    cache_schema_head()  # the judge opens a store per test
    return shared_sandbox()


@pytest.fixture(scope="session")
def sandbox_limits(pytestconfig: pytest.Config) -> SandboxLimits:
    return SandboxLimits(
        timeout_s=pytestconfig.getoption("kata_timeout"), memory_mb=pytestconfig.getoption("kata_memory")
    )


@pytest.fixture(scope="session")
def staged_exercises(sandbox: Sandbox, pytestconfig: pytest.Config) -> Path:
    """A read-only copy of the student files: tests cannot change the originals."""
    return sandbox.stage_exercises(exercises_dir(pytestconfig))


@pytest.fixture(scope="session")
def shared_calls(sandbox: Sandbox, staged_exercises: Path):
    """This session's student calls, made once and judged by every test that needs them."""
    calls = SharedCalls(sandbox.root / f"shared-{staged_exercises.name}")
    yield calls
    calls.close()


@pytest.fixture
def case(
    request: pytest.FixtureRequest,
    sandbox: Sandbox,
    sandbox_limits: SandboxLimits,
    staged_exercises: Path,
    shared_calls: SharedCalls,
):
    """A fresh world for one kata test: its own store, sample data and names. Tests
    marked with the same ``inputs`` name in a file draw the same ones."""
    todo = todo_of(request.node)
    inputs = request.node.get_closest_marker("inputs")
    draw = f"{request.node.path.name}::inputs={inputs.args[0]}" if inputs and inputs.args else request.node.nodeid
    seed = f"{request.config.getoption('kata_seed')}:{draw}"
    kata_case = KataCase(
        sandbox, sandbox_limits, staged_exercises, todo, seed, request.node.user_properties, shared_calls
    )
    yield kata_case
    kata_case.close()


@pytest.fixture(scope="session")
def model_server(sandbox: Sandbox):
    """The process's ``mlflow models serve`` of a kit model (see grader.judge.model_server)."""
    from grader.judge.model_server import shared_model_server

    return shared_model_server(sandbox)
