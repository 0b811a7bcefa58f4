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
