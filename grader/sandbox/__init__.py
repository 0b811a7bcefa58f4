"""Run untrusted student code in child processes; hand results back as JSON.

* ``zygote``  — a server process that preloads once what its starter names (the judge's
  ``grader.judge.preload``: mlflow, sklearn, pandas, the lab's probes) and forks one
  short-lived, resource-limited child per call (milliseconds, not a 2-s import).
* ``probes``  — the kit code a child runs around the student function (import it,
  call it, turn the result into JSON); the preload module adds its own.
* ``client``  — the judge-side handle that starts the zygote and sends it calls.

Nothing travels back but JSON: a hostile child can lie about its own result, which
only costs its own TODO, but it can never run code in the judge.
"""

from grader.sandbox.client import CallResult, Sandbox, SandboxLimits, shared_sandbox

__all__ = ["CallResult", "Sandbox", "SandboxLimits", "shared_sandbox"]
