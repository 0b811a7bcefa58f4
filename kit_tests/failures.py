"""A pytest plugin object for kit tests that run kata tests in-process: each failed
test's full text, by test name (shared by test_i18n and test_student_state_verdicts)."""


class Failures:
    """A pytest plugin object: each failed test's full text."""

    def __init__(self):
        self.texts: dict[str, str] = {}

    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.texts[report.nodeid.rpartition("::")[2]] = report.longreprtext
