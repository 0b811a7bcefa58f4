"""A grading worker: one long-lived judge process that grades submissions one by one.

``kata grade`` starts ``--jobs`` of them. Each keeps its warm sandbox across
submissions (no 2-s import, no 5-s warm-up per student). It runs the hidden tests
too (``tests/hidden/``): they count for their TODO. Protocol (``grader.classroom.protocol``,
framed by ``grader.core.jsonlines``): a ``Hello`` once warm, then one ``Job`` per line on
stdin (``tasks``: the task numbers to run, None for all; ``kata validate`` reruns one task),
one ``Reply`` per line on the original stdout; everything else the process prints goes to
stderr.

Run as ``python -m grader.classroom.worker --timeout S [--tmpdir DIR] [--lang LANG] [--allow-unconfined]
[--budget S] [--memory MB]`` (``--allow-unconfined``: let its sandbox run student code below the isolation
floor; ``--budget``: the seconds all calls of one submission may take together, ``grader.judge.budget``;
``--memory``: the MiB each call of student code may use, ``--kata-memory``), with
``$KATA_WORKER_SEED`` set to the grading run's seed (never on the command line, which
every local user can read in /proc): the seed of the tests' varied inputs (their ``--kata-seed``);
``LANG`` the language of the verdicts' messages (their ``--kata-lang``, default English). ``DIR``
(in ``kata grade``'s workspace) holds this process's temp files, its sandbox's among
them, so that they go with the workspace even if the worker is killed. It is set for
this process only, not as ``$TMPDIR``: the sandbox's children keep their own.

Where it is root on Linux, it first takes a mount namespace of its own, in which each
case folder is a size-capped tmpfs (``grader.sandbox.quota``); ``kata grade`` starts it in
a memory cgroup of its own (``grader.classroom.worker_handle.Worker``).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
from pathlib import Path

from grader.classroom.protocol import Hello, Job, Reply
from grader.core import jsonlines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, required=True)
    parser.add_argument("--tmpdir")
    parser.add_argument("--lang", default="en")
    parser.add_argument("--allow-unconfined", action="store_true")
    parser.add_argument("--budget", type=float)  # seconds per submission (grader.judge.budget)
    parser.add_argument("--memory", type=int)  # MiB per call of student code (--kata-memory)
    args = parser.parse_args()
    from grader.sandbox import quota

    quota.enter_private_mounts()  # first: no thread may be running yet
    from grader.classroom.worker_handle import WORKER_SEED_ENV

    seed = os.environ.pop(WORKER_SEED_ENV, "")
    if not seed:
        parser.error("$KATA_WORKER_SEED is not set")
    from grader.sandbox.confine import ALLOW_UNCONFINED_ENV

    # The flag is the only way to allow it: an inherited variable does not count.
    os.environ.pop(ALLOW_UNCONFINED_ENV, None)
    if args.allow_unconfined:
        os.environ[ALLOW_UNCONFINED_ENV] = "1"
    if args.tmpdir:
        tempfile.tempdir = args.tmpdir
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints never corrupt the protocol

    from grader.core.quiet import silence_mlflow
    from grader.judge.preload import shared_sandbox
    from grader.judge.runner import run_kata

    silence_mlflow()
    shared_sandbox().warm_up(["tracking", "models"])
    isolation = shared_sandbox().wait_ready()
    if quota.missing():
        isolation = {**isolation, "missing": [*isolation.get("missing", []), quota.missing()]}
    jsonlines.write(protocol, Hello(isolation).to_json())
    frozen = False
    while (message := jsonlines.read(sys.stdin)) is not None:
        job = Job.from_json(message)
        extra = ["--kata-timeout", str(args.timeout), "--kata-seed", seed, f"--kata-lang={args.lang}"]
        if args.budget:
            extra += ["--kata-budget", str(args.budget)]
        if args.memory:
            extra += ["--kata-memory", str(args.memory)]
        if job.log:
            extra += ["--html", job.log, "--self-contained-html"]
        try:
            tasks = None if job.tasks is None else list(job.tasks)
            reply = Reply(job.id, run_kata(Path(job.exercises), tasks=tasks, extra_args=extra, hidden=True))
        except Exception as error:  # noqa: BLE001 - reported for this submission only
            reply = Reply(job.id, error=f"grader error: {type(error).__name__}: {error}")
        jsonlines.write(protocol, reply.to_json())
        if not frozen:  # MLflow, pandas and the tests, loaded by the first submission, stay:
            gc.collect()  # pytest's own collections at each session's end skip them from now on
            gc.freeze()
            frozen = True


if __name__ == "__main__":
    main()
