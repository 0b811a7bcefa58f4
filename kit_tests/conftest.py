"""Tests of the kit itself (grader, stub generator, dataset, reports): not the kata."""

import contextlib
import os

import pytest

pytest_plugins = ["pytester"]

# The importlib_metadata backport (MLflow imports it) takes the standard library's package
# metadata finder off when first imported and puts its own on sys.meta_path. First imported
# inside a pytester in-process run, its finder leaves with that run's sys.meta_path snapshot,
# and no package's metadata is found afterwards (test_plugin.py run alone failed so).
with contextlib.suppress(ImportError):
    import importlib_metadata  # noqa: F401

# Kit tests assert the kit's default messages (English, each hint in both languages), as
# under CI's C.UTF-8 locale, whatever the developer's own locale or KATA_LANG says; the
# subprocesses they start inherit this.
for _name in ("KATA_LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE"):
    os.environ.pop(_name, None)
os.environ["LANG"] = "C.UTF-8"
# No warm judge outlives a kit test: a kit test that tests one turns it on (KATA_WARM=1)
# in a private XDG_RUNTIME_DIR and stops it.
os.environ["KATA_WARM"] = "0"


@pytest.fixture(autouse=True, scope="session")
def _the_kits_default_language():
    """The session's own language too (chosen from the locale before this file loaded)."""
    from grader.core import i18n

    previous = i18n.set_language("")
    yield
    i18n.set_language(previous)


# -- tiers (kit_tests/tiers.py): wing markers, slow, and the units of pytest-xdist -----------------
def _tier_place(item) -> tuple[str, bool]:
    """The item's file name, and whether it is a kit test (else a kata test of tests/)."""
    path = item.path
    return path.name, path.parent.name == "kit_tests"


def pytest_collection_modifyitems(config, items):
    """Mark every test with its wings (kata tests: ``kata``) and ``slow`` where tiers.SLOW
    says so; under xdist, put the heaviest files first (each file keeps its order)."""
    import tiers

    for item in items:
        file_name, in_kit_tests = _tier_place(item)
        for wing in (tiers.wings_of(file_name) if in_kit_tests else ("kata",)):
            item.add_marker(getattr(pytest.mark, wing))
        if in_kit_tests and tiers.is_slow(file_name, item.originalname, item.fixturenames):
            item.add_marker(pytest.mark.slow)
    if hasattr(config, "workerinput"):  # the workers' collection is what xdist schedules
        items.sort(key=lambda item: tiers.rank(*_tier_place(item)))


def pytest_configure(config):
    """Under xdist, keep the collection's order (heaviest files first): by default the
    scheduler sorts units by their number of tests, which puts a long grading read by
    few tests last."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist (the test extra)
def pytest_xdist_make_scheduler(config, log):
    """``-n N``: units of work by tiers.unit_of (a file, a test alone, the kata tests),
    not single tests: a file's module fixture (a grading) is computed on one worker."""
    if config.getoption("dist") != "load":
        return None  # an explicit --dist is the caller's
    import tiers
    from xdist.scheduler import LoadScopeScheduling

    class TierScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return tiers.unit_of(nodeid)

    return TierScheduling(config, log)


# -- one model server per pytest worker, for the gradings that do not test the server's own life --
@pytest.fixture(scope="session")
def served_model_env(tmp_path_factory) -> dict[str, str]:
    """``{"KATA_MODEL_SERVER": url}`` of one ``mlflow models serve`` of the kit's model for
    this pytest process: a ``kata grade``, ``kata validate`` or Gradescope run given it in its
    environment uses it instead of starting its own (~7 s of CPU each). Tests of the server's
    own life (started, restarted, stopped with the run, unable to start) and the attack
    suite (a class that tries to reach it) do not take it."""
    from grader.judge.model_server import SERVER_ENV, serve_kit_model

    server = serve_kit_model(tmp_path_factory.mktemp("served-model"))
    yield {SERVER_ENV: server.url}
    server.stop()
