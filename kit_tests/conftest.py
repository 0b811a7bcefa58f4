"""Tests of the kit itself (grader, stub generator, dataset, reports): not the kata."""

pytest_plugins = ["pytester"]
