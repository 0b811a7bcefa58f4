"""``python -m grader`` is the ``kata`` command."""

import sys

from grader.cli.main import main

sys.exit(main())
