"""Helpers the lab provides to students and tests alike (the "kit").

Everything a student file needs besides its own TODOs lives here, so that when a
submission is graded these helpers come from the kit, never from the submission.
"""

from labkit.dataset import FEATURES, TARGET, load_split
from labkit.metrics import evaluate

__all__ = ["FEATURES", "TARGET", "load_split", "evaluate"]
