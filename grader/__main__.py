"""``python -m grader`` is the ``kata`` command."""

import sys

from grader.cli import main

sys.exit(main())
