"""Kit code that runs inside a sandboxed child, around the student's function.

Each probe receives the request and returns a JSON-able value. The student module is
imported here, in the child, never in the zygote or the judge. The sandbox's own probes
know nothing of the lab (``self_test``, ``call``); whoever starts the sandbox names a
preload module that adds its own (``extend``; the judge's: ``grader.judge.probes``). What went wrong travels
to the judge as a *kind* (``error_kind``), a field of the reply: never as text a
student's own exception could imitate.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

from grader.sandbox.words import with_words


class WrongResult(Exception):
    """The student function returned, but not the kind of value the task needs."""

    kind = "wrong_result"


class StudentImportError(Exception):
    """The student module could not even be imported (syntax error, crash at import)."""

    kind = "import"


def error_kind(error: BaseException) -> str:
    """``import``, ``wrong_result`` (the kit's own verdicts on the student module),
    ``memory``, or ``raised`` (anything the student's code raised)."""
    if isinstance(error, (WrongResult, StudentImportError)):
        return error.kind
    return "memory" if isinstance(error, MemoryError) else "raised"


def import_student_module(exercises: str, module: str, request: dict | None = None):
    """Import ``exercises/module.py`` under a private name (kit packages win). A rewrite
    of the preload module's (``REWRITES``) may compile it from its own version of the
    source for this ``request``."""
    path = Path(exercises) / f"{module}.py"
    if not path.is_file():
        raise with_words(FileNotFoundError(), "file_missing", file=f"{module}.py")
    if exercises not in sys.path:
        sys.path.append(exercises)  # after site-packages: kit modules cannot be shadowed
    spec = importlib.util.spec_from_file_location(f"student_{module}", path)
    assert spec is not None and spec.loader is not None  # a .py file always has a loader
    student = importlib.util.module_from_spec(spec)
    try:
        code = rewritten(request, path) if request is not None else None
        if code is None:
            spec.loader.exec_module(student)
        else:
            exec(code, vars(student))  # what ``exec_module`` does with the file's own code
    except SyntaxError as error:  # Python's text as it is; "line" is said in the student's language
        where = {"line": error.lineno} if error.lineno else {}
        raise with_words(
            StudentImportError(),
            "syntax_error_at" if where else "syntax_error",
            file=f"{module}.py",
            error=f"SyntaxError: {error.msg}",
            **where,
        ) from None
    except Exception as error:  # noqa: BLE001 - any crash at import time
        raise with_words(
            StudentImportError(), "import_crash", file=f"{module}.py", error=f"{type(error).__name__}: {error}"
        ) from error
    return student


def rewritten(request: dict, path: Path):
    """The code of the first ``REWRITES`` entry that rewrites ``path`` for ``request``,
    or None: the file is imported as it is."""
    for rewrite in REWRITES:
        code = rewrite(request, path)
        if code is not None:
            return code
    return None


def student_function(request: dict):
    for guard in GUARDS:
        guard(request)  # before the student module binds the names at import
    student = import_student_module(request["exercises"], request["module"], request)
    function = getattr(student, request["function"], None)
    if not callable(function):
        raise with_words(AttributeError(), "no_function", file=f"{request['module']}.py", function=request["function"])
    return function


class NotPlainData(TypeError):
    """A value with no JSON form (an ActiveRun, a ModelVersion, …)."""


def to_json(value):
    """Plain JSON types from numpy/pandas scalars and containers; reject the rest."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars, pandas Series
        return to_json(value.tolist())
    raise NotPlainData(type(value).__name__)


def answer(value) -> dict:
    """The reply fields for a value the student's function returned: ``value``, or,
    when it has no JSON form, ``described`` (its type and a short repr), so that only
    the TODOs that need the returned value fail on it; the others are still judged by
    what MLflow holds."""
    try:
        return {"value": to_json(value)}
    except NotPlainData:
        return described(value)


def described(value, why: str = "") -> dict:
    """The reply for a value the kit cannot use: its type and a short repr (and ``why``)."""
    text = repr(value)
    text = text if len(text) <= 100 else text[:97] + "..."
    return {"value": None, "described": {"type": type(value).__name__, "repr": f"{text}{why}"}}


# Excuses: patches applied in the child before the student module is imported, each
# noting in ``EXCUSES_USED`` when it swallowed an exception (a call whose excuses
# swallowed nothing behaved exactly as it would have without them). The sandbox has none
# of its own: the preload module names them (``extend``).
EXCUSES: dict = {}
EXCUSES_USED: list[str] = []  # the excuses that swallowed an exception in this call

# Guards: what the preload module runs in the child before any student module is imported
# (``GUARDS``, see ``extend``), for every probe that imports one; e.g. the judge's own
# watches what the student's code does to the MLflow store the call was given.
GUARDS: list = []
# Rewrites: what the preload module may compile a student module from instead of its file
# as it is, for one request (``rewritten``; e.g. the judge's replay of a call without the
# statement that raised). Each takes ``(request, path)`` and returns a code object or None.
REWRITES: list = []
# What kit code in the child noted about the call (a guard: what the student's code did),
# by name: plain strings only. It travels in the reply whatever the call's outcome (the
# student's code may have caught what the guard raised, or raised something else since).
NOTES: dict[str, dict[str, str]] = {}
# On raise: what the preload module runs in the child, ``hook(request, error)``, when the
# probe raised, before the reply is built (``extend``): kit code that notes in ``NOTES``
# what it can read of the exception itself (e.g. the judge's: which library error it is,
# and the student's line that led to it). A hook that fails changes nothing of the reply.
ON_RAISE: list = []


def on_raise(request: dict, error: BaseException) -> None:
    """Run the ``ON_RAISE`` hooks on the exception the probe raised (e.g. the judge's: which
    library error it is, which part of the student's file raised)."""
    for hook in ON_RAISE:
        try:
            hook(request, error)
        except BaseException:  # noqa: BLE001 - the reply says what the probe raised, whatever a hook does
            pass


def call(request: dict):
    """Call the student function with JSON arguments; return its answer (``answer``)."""
    for name in request.get("excused", []):
        EXCUSES[name]()  # before the student module binds the names at import
    function = student_function(request)
    returned = answer(function(*request.get("args", []), **request.get("kwargs", {})))
    if request.get("excused"):
        returned["excuses_used"] = sorted(set(EXCUSES_USED))
    return returned


SELF_TESTS: list = []  # the preload module's own checks (``extend``)


def self_test(request: dict):
    """What the zygote runs once to see whether a confinement works here: the work
    folder is writable, lazy imports still work (then the preload module's own checks,
    e.g. its libraries' files and a model fit)."""
    import os

    # Read from disk as a lazy import would: a uid of its own must reach the standard
    # library along its real path (the preload module's libraries: its ``self_test``).
    Path(os.__file__).read_bytes()
    Path("probe.txt").write_text("ok")
    for check in SELF_TESTS:
        check()
    return answer(Path("probe.txt").read_text())


PROBES = {
    "self_test": self_test,
    "call": call,
}


def extend(preloaded) -> None:
    """Take what the module the zygote preloaded offers its calls (all optional):
    ``PROBES`` (more probes by name; the sandbox's own cannot be replaced), ``EXCUSES``
    (see ``call``), ``GUARDS`` (see ``student_function``), ``REWRITES`` (see
    ``rewritten``), ``ON_RAISE`` (see ``on_raise``) and ``self_test`` (run by the
    self-test, in the child, after the generic checks)."""
    extra = dict(getattr(preloaded, "PROBES", {}))
    taken = sorted(set(extra) & set(PROBES))
    if taken:
        raise ValueError(f"{preloaded.__name__} would replace the sandbox's probes {taken}")
    PROBES.update(extra)
    EXCUSES.update(getattr(preloaded, "EXCUSES", {}))
    GUARDS.extend(getattr(preloaded, "GUARDS", ()))
    REWRITES.extend(getattr(preloaded, "REWRITES", ()))
    ON_RAISE.extend(getattr(preloaded, "ON_RAISE", ()))
    if callable(getattr(preloaded, "self_test", None)):
        SELF_TESTS.append(preloaded.self_test)
