"""Loads the kata's pytest plugin (options, ``todo`` marker, sandbox fixtures)."""

pytest_plugins = ["grader.judge.plugin"]
