"""Where the kit's parts live: the one place a path of the kit is spelled.

The kit runs from its source tree (``pip install -e .``), so its folders are found
relative to this package.
"""

from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parents[2]
TESTS_DIR = KIT_ROOT / "tests"  # the kata tests, one file per task
HIDDEN_TESTS_DIR = TESTS_DIR / "hidden"  # the instructor's extra tests (left out of a release)
SOLUTIONS_DIR = KIT_ROOT / "solutions"  # the reference solutions (the one source of the stubs)
EXERCISES_DIR = KIT_ROOT / "exercises"  # the student files, generated from solutions/
DATA_PATH = KIT_ROOT / "data" / "devops_metrics.csv"
PYTEST_INI = KIT_ROOT / "pytest.ini"
