"""Hostile student files for ``kit_tests/test_attacks.py``: one attack per file here.

A hostile ``task1_baseline.py`` is the stubbed task file (it scores nothing by
itself), then ``CTX`` (what the test tells the attack about this run: paths, ports,
markers, never a secret's value), then ``_shared.py``, then the attack. The attack
runs at import — every sandboxed call imports the module afresh — and either makes
``log_baseline_run`` look perfect with what it found, or redefines it to raise
``KATA-ATTACK[name] {...}``: what it got, on the one line that reaches the report.

Every attack is bounded: a few seconds per call, fewer than 20 processes, at most
5 × 100 MB written outside its own folder (1.5 GiB in it: ``fill_case_folder``). Where an attack aims at "everything it can see" (``kill -1``,
all of /tmp), it does so only when the call has a pid namespace of its own; in the
host's namespace it keeps to its own grading run, so that the kit's tests never
hurt other work on a shared machine (``_shared.isolated``).
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent

ATTACKS = ("kit_solutions", "classmates_file", "root_canary", "symlink_output_log", "fd_garbage",
           "kill_its_uid", "truncate_stores", "daemons", "fill_disk", "network", "etc_shadow",
           "environment", "deep_tree", "many_files", "non_utf8_name", "replace_sample",
           "store_view", "fill_case_folder", "long_run_name")


def attack_source(stub_source: str, attack: str, ctx: dict) -> str:
    """``stub_source`` (a stubbed task file) followed by ``attack`` with its ``ctx``."""
    if attack not in ATTACKS:
        raise ValueError(f"no attack named {attack!r}")
    return (f"{stub_source.rstrip()}\n\n\n# ---- kata attack: {attack} ----\n"
            f"CTX = {ctx!r}\n\n"
            f"{(HERE / '_shared.py').read_text()}\n\n{(HERE / f'{attack}.py').read_text()}")
