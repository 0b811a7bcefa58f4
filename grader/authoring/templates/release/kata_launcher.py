"""The ``kata`` command of the student kit.

The tests, your ``exercises/`` and the kit's ``grader/`` live in this folder, and
``pytest`` uses this folder's ``grader/`` (``conftest.py`` loads it). So that ``kata``
judges the same way however the kit was installed (``pip install -e .`` or
``pip install .``), it uses the ``grader/`` of the kit folder you run it in (or one
above it), and the installed copy only elsewhere.

El comando ``kata`` del kit del estudiante: usa el ``grader/`` de la carpeta del kit
desde la que lo ejecutas, como hace ``pytest``.
"""

from __future__ import annotations

import sys
from pathlib import Path


def kit_folder(start: Path) -> Path | None:
    """The kit folder that holds ``start``: it has ``pytest.ini`` and ``grader/cli/main.py``."""
    for folder in (start, *start.parents):
        if (folder / "pytest.ini").is_file() and (folder / "grader" / "cli" / "main.py").is_file():
            return folder
    return None


def main() -> int:
    folder = kit_folder(Path.cwd().resolve())
    if folder is not None:
        sys.path.insert(0, str(folder))  # before site-packages, as pytest's conftest.py does
    from grader.cli.main import main as kata

    return kata()


if __name__ == "__main__":
    sys.exit(main())
