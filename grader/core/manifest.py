"""What the kit is: one list of the files that decide a grade, read by everything that
hashes, ships or reuses the kit.

``kit_sha256`` (``results.json``'s ``tests_sha256``, and what a Dask worker must match),
the warm judge's key, the Gradescope bundle and the student release all start from
``grading_files``: a translation fix, a template or a data file changes all four alike.
It holds the kata tests, the kit code with its data (TODO table, catalogs, templates,
schema), ``labkit/``, the dataset and the pytest configuration; never caches, solutions,
the kit's own tests or anything a submission brings.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from grader.core.paths import KIT_ROOT

GRADING_PATTERNS = (
    "grader/**/*.py",
    "grader/**/*.toml",
    "grader/**/*.json",
    "grader/**/templates/**/*",
    "grader/locale/*/LC_MESSAGES/*.po",
    "labkit/*.py",
    "tests/*.py",
    "tests/hidden/*.py",
    "data/*.csv",
    "conftest.py",
    "pytest.ini",
)
# Authoring data no grading reads: the mistake matrix quotes the reference solutions.
NOT_GRADING = {"grader/authoring/mistakes.toml"}


def grading_files(root: Path = KIT_ROOT) -> list[str]:
    """Every file of the grading kit under ``root``, relative POSIX paths, sorted: no
    caches, no symbolic links (a link would make the kit's hash follow another file)."""
    found = set()
    for pattern in GRADING_PATTERNS:
        for path in root.glob(pattern):
            if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts:
                found.add(path.relative_to(root).as_posix())
    return sorted(found - NOT_GRADING)


def digest_files(names: list[str], root: Path = KIT_ROOT, extra: bytes = b"") -> str:
    """SHA-256 over ``extra`` then each file's name and bytes (names keep two files from
    trading contents unseen)."""
    digest = hashlib.sha256(extra)
    for name in names:
        digest.update(name.encode() + b"\0")
        digest.update((root / name).read_bytes() + b"\0")
    return digest.hexdigest()


def kit_sha256(root: Path = KIT_ROOT) -> str:
    """The hash of everything that decides a grade (``results.json``'s ``tests_sha256``)."""
    return digest_files(grading_files(root), root)
