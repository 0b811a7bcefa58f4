"""Every default the kit has, in one place: each verb, option and process reads it here,
so that the help text, the Gradescope bundle and a Dask worker never disagree."""

import re

CALL_TIMEOUT_S = 60.0  # one sandboxed call of student code (kata grade --timeout, Gradescope)
SEED_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")  # a grading seed (--seed, results.json's kit.seed)
SEED_BYTES = 8  # a random seed's entropy: 64 bits, no brute force recovers it from what a call sees
# The Gradescope bundle (kata export gradescope): the seconds all calls of one submission's
# student code may take together (its --budget), so that the worst submission gets its
# feedback inside Gradescope's default limit of 600 s; and the memory one grading needs,
# as measured (README: Gradescope), under Gradescope's default of 768 MB.
GRADESCOPE_BUDGET_S = 540.0
GRADESCOPE_MEMORY_MB = 768
# What the bundle's own processes take (the top process, the kata worker, the sandbox's
# zygote: ~0.5 GiB; ~0.66 GiB while the model is served for the bonus's tests; README:
# Gradescope): each call of student code may use the container's memory limit minus this
# (at least GRADESCOPE_CALL_MIN_MB, at most the sandbox's usual cap), so that a memory hog
# fails its own TODOs for memory instead of getting the grader killed. At 768 MB: 128 MiB
# per call (the solutions' calls take at most ~52 MiB); should memory run out while the
# model is served, the kernel still kills the call's process (confine.OOM_SCORE_ADJ).
GRADESCOPE_KIT_MB = 640
GRADESCOPE_CALL_MIN_MB = 64
