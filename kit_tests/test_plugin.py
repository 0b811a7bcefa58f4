"""The kata pytest plugin, tested with pytester like any pytest plugin."""

import pytest


@pytest.fixture
def kata_pytester(pytester):
    pytester.makeconftest('pytest_plugins = ["grader.pytest_plugin"]')
    return pytester


def test_a_kata_test_without_a_todo_marker_fails_with_a_clear_reason(kata_pytester):
    kata_pytester.makepyfile(test_unmarked="def test_something(case):\n    pass\n")
    result = kata_pytester.runpytest()
    result.stdout.fnmatch_lines(["*needs exactly one @pytest.mark.todo*found none*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_an_unknown_todo_id_fails_with_a_clear_reason(kata_pytester):
    kata_pytester.makepyfile(test_unknown=(
        "import pytest\n\n@pytest.mark.todo('9.9')\ndef test_something(case):\n    pass\n"))
    result = kata_pytester.runpytest()
    assert "found ['9.9']" in result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_the_options_and_the_marker_are_documented(kata_pytester):
    help_text = kata_pytester.runpytest("--help").stdout.str()
    for option in ("--exercises", "--kata-timeout", "--kata-memory", "--kata-seed"):
        assert option in help_text
    markers = kata_pytester.runpytest("--markers").stdout.str()
    assert "@pytest.mark.todo(id)" in markers
