"""Gradescope: ``kata export gradescope`` builds the autograder bundle; inside it,
``python -m grader.platforms.gradescope run`` grades the one submission Gradescope hands it.

The bundle is a zip that Gradescope extracts to ``/autograder/source``:

- ``setup.sh``: run once when Gradescope builds the image (Ubuntu, as root): installs
  Python 3.11+ when the image has none, a virtualenv (``source/venv``) and the kit.
- ``run_autograder``: run once per submission: grades ``$ROOT/submission`` and writes
  ``$ROOT/results/results.json``. ``$ROOT`` is ``/autograder`` unless
  ``KATA_AUTOGRADER_ROOT`` says otherwise; ``KATA_AUTOGRADER_PYTHON`` overrides the
  virtualenv's Python (the kit's own test runs the script for real in a temporary tree).
- ``kata-gradescope.json``: the grading seed, fixed at export (given, or a fresh random
  one: every submission of the course is graded with the same inputs, which no student
  can know in advance), the per-call timeout, the submission's time budget and the tests'
  visibility; optionally ``call_memory_mb``, the MiB each call of student code may use
  (by default derived from the container's memory limit: ``call_memory_mb``).
- ``kit/``: the grading kit, as in a clone: ``grader/``, ``labkit/``, ``tests/`` with
  the hidden tests, ``data/*.csv``, ``conftest.py``, ``pytest.ini``, ``pyproject.toml``.
  Never ``solutions/``, ``exercises/``, ``examples/``, ``kit_tests/``, ``benchmarks/``,
  nor the mistake matrix (its edits quote the solutions).

Grading is ``kata grade``'s, for one submission: its task files are found as in a
class folder (``grader.classroom.submissions``: an ``exercises/`` folder, bare task files, or one
``.zip`` of them), staged, and graded by one worker process with the hidden tests and
the sandbox (Gradescope runs as root: namespaces, cgroups and Landlock apply wherever
its container allows them; ``extra_data.kit.isolation`` records what was in force).

``results.json`` follows Gradescope's documented format
(https://gradescope-autograders.readthedocs.io/en/latest/specs/): top-level ``score``
(the kit's score, out of the non-bonus TODOs' points), ``execution_time`` (seconds),
``output`` (a short summary, English and Spanish), ``output_format``/
``test_output_format``/``test_name_format`` ``text`` (messages quote code such as
``<class ...>``: never HTML), ``visibility``, ``stdout_visibility`` ``hidden`` and
``extra_data`` (seed, kit, statuses); ``tests``: one per TODO, in the lab's order, with
``name``, ``number`` (the TODO id), ``score``, ``max_score`` (its points), ``status``
(``passed``/``failed``), ``output`` (its message, and for a TODO that does not pass the
hint in English and Spanish), ``tags``, ``visibility`` and ``extra_data`` (the kit's
own status: pass, fail, error, timeout).

Bonus TODOs are 0-point tests (``max_score`` 0, ``status`` passed or failed): shown to
the student, never counted, as in ``kata grade`` and ``kata check``; the Gradescope
score is the kit's score. An upload with nothing gradable gets a valid results.json
too: score 0, no tests, one line saying why.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.core.defaults import (
    CALL_TIMEOUT_S,
    GRADESCOPE_BUDGET_S,
    GRADESCOPE_CALL_MIN_MB,
    GRADESCOPE_KIT_MB,
    GRADESCOPE_MEMORY_MB,
    SEED_PATTERN,
)
from grader.core.manifest import grading_files
from grader.core.paths import KIT_ROOT

TEMPLATES = Path(__file__).with_name("templates") / "gradescope"
CONFIG_FILE = "kata-gradescope.json"  # in the bundle's root: seed, timeout, visibility
BUNDLE_KIT = "kit"  # the bundle's folder holding the grading kit
SCRIPTS = ("setup.sh", "run_autograder")  # the bundle's root, executable
# The grading kit, relative to KIT_ROOT: what a grading run reads, nothing else.
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")
SUBMISSION_ID = "submission"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed: the same kit and seed give the same bytes


class ExportError(Exception):
    """The bundle cannot be built (one-line reason)."""


@dataclass(frozen=True)
class Bundle:
    path: Path
    seed: str
    files: int


# -- export --------------------------------------------------------------------------------
def kit_files(root: Path = KIT_ROOT) -> list[str]:
    """The grading kit's files (``grader.core.manifest``) and the ``pyproject.toml`` that
    installs it, relative to ``root``, sorted."""
    return sorted(grading_files(root) + ["pyproject.toml"])


def bundle_entries(
    seed: str, timeout: float, visibility: str, allow_unconfined: bool = False, budget: float = GRADESCOPE_BUDGET_S
) -> list[tuple[str, bytes, int]]:
    """``(name in the zip, content, mode)`` of every bundle entry, sorted by name."""
    config: dict[str, Any] = {"seed": seed, "timeout": timeout, "visibility": visibility, "budget": budget}
    if allow_unconfined:
        config["allow_unconfined"] = True
    entries = [(CONFIG_FILE, (json.dumps(config, indent=2) + "\n").encode(), 0o644)]
    for name in SCRIPTS:
        entries.append((name, (TEMPLATES / name).read_bytes(), 0o755))
    entries.append((f"{BUNDLE_KIT}/README.md", (TEMPLATES / "README.md").read_bytes(), 0o644))
    for relative in kit_files():
        entries.append((f"{BUNDLE_KIT}/{relative}", (KIT_ROOT / relative).read_bytes(), 0o644))
    return sorted(entries)


def export(
    out: Path,
    seed: str | None = None,
    timeout: float = CALL_TIMEOUT_S,
    visibility: str = "visible",
    allow_unconfined: bool = False,
    budget: float = GRADESCOPE_BUDGET_S,
) -> Bundle:
    """Write the Gradescope autograder bundle to ``out`` (a .zip), atomically."""
    from grader.classroom.saved_run import new_seed

    if seed is not None and not SEED_PATTERN.fullmatch(seed):
        raise ExportError(f"--seed {seed!r}: use 1-64 letters, digits, '.', '_' or '-'")
    if visibility not in VISIBILITIES:
        raise ExportError(f"--visibility {visibility!r}: one of {', '.join(VISIBILITIES)}")
    if not timeout > 0:
        raise ExportError("--timeout must be a number of seconds > 0")
    if not budget > 0:
        raise ExportError("--budget must be a number of seconds > 0")
    seed = seed if seed is not None else new_seed()
    entries = bundle_entries(seed, timeout, visibility, allow_unconfined, budget)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, draft = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(handle)
    try:
        with zipfile.ZipFile(draft, "w", zipfile.ZIP_DEFLATED) as bundle:
            for name, data, mode in entries:
                info = zipfile.ZipInfo(name, ZIP_DATE)
                info.external_attr = (0o100000 | mode) << 16  # a regular file, with its mode
                info.compress_type = zipfile.ZIP_DEFLATED
                bundle.writestr(info, data)
        os.chmod(draft, 0o644)
        os.replace(draft, out)
    finally:
        if os.path.exists(draft):
            os.unlink(draft)
    return Bundle(out, seed, len(entries))


# -- grading one submission ------------------------------------------------------------
def grade_upload(
    upload: Path,
    seed: str,
    timeout: float = CALL_TIMEOUT_S,
    progress=print,
    allow_unconfined: bool = False,
    budget: float | None = None,
    memory_mb: int | None = None,
):
    """Grade the submission in ``upload`` as ``kata grade`` grades one of a class
    (``grader.classroom.grade.grade_submission``), in the least memory (the model served
    only while the bonus's tests run), within ``budget`` seconds of student code and
    ``memory_mb`` MiB per call of it; return its ``SubmissionResult`` and the kit facts
    (versions, seed, isolation)."""
    from grader.classroom.grade import grade_submission

    def report(event, **data):
        if event == "isolation":
            missing = "; ".join(data["missing"]) or "none"
            progress(f"isolation: {data['level']} (missing: {missing})")

    return grade_submission(
        upload,
        seed,
        timeout,
        allow_unconfined=allow_unconfined,
        progress=report,
        submission_id=SUBMISSION_ID,
        budget=budget,
        lazy_server=True,
        memory_mb=memory_mb,
    )


def call_memory_mb(limit_bytes: int | None = None) -> int:
    """The MiB each call of student code may use in this container: its memory limit
    (``limit_bytes``, else its cgroup's: ``grader.sandbox.cgroups.memory_limit``) minus
    what the bundle's own processes need (``GRADESCOPE_KIT_MB``), at least
    ``GRADESCOPE_CALL_MIN_MB``, at most the sandbox's usual cap (also where no limit is
    set). A memory hog then fails its own TODOs for memory ("the call used more than its
    N MiB") and the grader lives on to grade the others."""
    from grader.sandbox import SandboxLimits
    from grader.sandbox.cgroups import memory_limit

    usual = SandboxLimits.memory_mb
    limit = memory_limit() if limit_bytes is None else limit_bytes
    if limit is None:
        return usual
    return max(GRADESCOPE_CALL_MIN_MB, min(usual, (limit >> 20) - GRADESCOPE_KIT_MB))


# -- results.json ----------------------------------------------------------------------
UPLOAD_HELP = (
    "upload your exercises/ folder, the five task files, or one .zip of them / "
    "sube tu carpeta exercises/, los cinco ficheros de las tareas o un .zip con ellos"
)
BARE_FILES = "no exercises/ folder: took the task files"  # grader.classroom.submissions' note
KIT_FAILED = (
    "The autograder itself failed (not your code): tell your instructor / "
    "el corrector automático falló (no es tu código): avisa a tu profesor"
)
KIT_REFUSED = (
    "The autograder refused to run your code: this platform cannot isolate it (not your "
    "code): tell your instructor / el corrector automático se negó a ejecutar tu código: "
    "esta plataforma no puede aislarlo (no es tu código): avisa a tu profesor"
)


NOT_GRADED_BY_KIT = (
    "Not graded: the autograder could not grade this submission (not your code): {why}. "
    "Your instructor will regrade it / No calificado: el corrector automático no pudo "
    "corregir esta entrega (no es tu código): {why}. Tu profesor la volverá a corregir."
)
# How the kit says it could not grade (grader.classroom.grade.result_of, grader.judge.runner):
# never the submission's own fault, never a grade.
KIT_FAILURES = (
    "the grader ran out of memory",
    "the grader gave up on this submission",
    "grader error:",
    "pytest exited with",
)


def requirements_line() -> str:
    """What the bundle needs of Gradescope (``kata export gradescope``'s last line, README)."""
    per_call = call_memory_mb(GRADESCOPE_MEMORY_MB << 20)
    return (
        f"It needs {GRADESCOPE_MEMORY_MB} MB of memory (Gradescope's default; each call of student "
        f"code then gets {per_call} MiB, more if you give it more) and at most {GRADESCOPE_BUDGET_S + 60:g} s "
        "per submission (its default limit is 600 s), the worst submission included: leave both at "
        "their defaults or above."
    )


def kit_failure(result) -> str:
    """Why the kit could not grade ``result`` (it ran out of memory, its worker or pytest
    failed, every verdict is the kit's own error), or "" when it is a grade."""
    from grader.results.model import caused_by_kit

    notes = [note for note in (result.message or "").split("; ") if note]
    for note in notes:
        if any(note.startswith(failure) for failure in KIT_FAILURES):
            return note
    verdicts = list(result.todos.values()) if result.status == "graded" else []
    if verdicts and all(caused_by_kit(verdict.message) for verdict in verdicts):
        return one_line(verdicts[0].message, 200)
    return ""


def one_line(text: str, limit: int = 600) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def test_output(todo, verdict) -> str:
    """A TODO's message; for one that does not pass, its hint in English and Spanish."""
    if verdict.passed:
        return verdict.message
    lines = [verdict.message or f"TODO {todo.id}: {verdict.status.value}"]
    if "kit error:" not in verdict.message:
        lines += [f"Hint: {todo.hint_en}", f"Pista: {todo.hint_es}"]
    return "\n".join(lines)


def results_json(result, kit: dict, execution_time: float, visibility: str = "visible") -> dict:
    """Gradescope's results.json for one ``SubmissionResult`` (see the module docstring)."""
    from grader.lab.todos import load_todos, task_by_number
    from grader.results.model import Status, TodoResult, caused_by_kit, score

    payload: dict[str, Any] = {
        "score": 0.0,
        "execution_time": int(round(execution_time)),
        "output": "",
        "output_format": "text",
        "test_output_format": "text",
        "test_name_format": "text",
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "extra_data": {"id": result.id, "status": result.status, "seed": kit.get("seed"), "kit": kit},
        "tests": [],
    }
    failure = kit_failure(result)
    if failure:  # never a 0 that looks like a grade
        payload["extra_data"]["status"] = "kit_error"
        payload["output"] = one_line(NOT_GRADED_BY_KIT.format(why=failure), 1000)
        return payload
    if result.status != "graded":
        reason = one_line(result.message or "nothing gradable")
        payload["output"] = one_line(f"Not graded / No calificado: {reason}; {UPLOAD_HELP}.")
        return payload
    todos = load_todos()
    earned, available = score(result.todos, todos)
    bonus = [todo for todo in todos if todo.bonus]
    bonus_passed = sum(1 for todo in bonus if todo.id in result.todos and result.todos[todo.id].passed)
    summary = f"Score {earned}/{available}"
    resumen = f"Puntuación {earned}/{available}"
    if bonus:
        summary += f", bonus {bonus_passed}/{len(bonus)} (not counted)"
        resumen += f", bonus {bonus_passed}/{len(bonus)} (no cuenta)"
    lines = [f"{summary} / {resumen}."]
    notes = [note for note in result.message.split("; ") if note and not note.startswith(BARE_FILES)]
    if notes:  # bare task files are the usual Gradescope upload: not worth a note
        lines.append(f"Note / Nota: {one_line('; '.join(notes))}")
    if any(caused_by_kit(verdict.message) for verdict in result.todos.values()):
        lines.append(
            "Some verdicts are the autograder's own errors, not yours: your instructor "
            "will regrade / Algunos veredictos son errores del corrector, no tuyos: tu "
            "profesor volverá a corregir."
        )
    payload["output"] = "\n".join(lines)
    payload["score"] = float(earned)
    for todo in todos:
        verdict = result.todos.get(todo.id) or TodoResult(Status.ERROR, f"TODO {todo.id}: no test of this TODO ran")
        points = 0 if todo.bonus else todo.points
        task = task_by_number()[todo.task]
        payload["tests"].append(
            {
                "name": f"TODO {todo.id}: {todo.title}" + (" (bonus, not counted / no cuenta)" if todo.bonus else ""),
                "number": todo.id,
                "score": float(points if verdict.passed else 0),
                "max_score": float(points),
                "status": "passed" if verdict.passed else "failed",
                "output": test_output(todo, verdict),
                "tags": ["bonus" if task.bonus else f"task {task.name}"],
                "visibility": visibility,
                "extra_data": {"kata_status": verdict.status.value, "duration_s": verdict.duration_s},
            }
        )
    return payload


def secure_results_dir(folder: Path) -> None:
    """``results/`` as a folder of the kit's own user that no one else may write in: a
    link, a file or a folder of another owner in its place is replaced first. Called
    before student code runs and again before writing (Gradescope makes the folder; its
    mode is not ours to trust)."""
    from grader.sandbox import untrusted_tree

    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        folder.unlink()
    folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(folder, 0, 0)
    os.chmod(folder, 0o755)
    for entry in os.scandir(folder):  # left by anyone else than us: gone
        if entry.stat(follow_symlinks=False).st_uid != os.geteuid():
            if entry.is_dir(follow_symlinks=False):
                untrusted_tree.remove(entry.path)
            else:
                os.unlink(entry.path)


def write_results(path: Path, payload: dict) -> None:
    """Write Gradescope's results.json atomically over whatever is there: a planted file
    or link is replaced (``os.replace`` never follows it), a folder in its place removed."""
    from grader.core.files import write_atomic
    from grader.sandbox import untrusted_tree

    secure_results_dir(path.parent)
    if path.is_dir() and not path.is_symlink():
        untrusted_tree.remove(path)
    write_atomic(path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def run(root: Path) -> int:
    """Grade ``root/submission`` with the bundle's settings and write
    ``root/results/results.json``. Exit 0 when graded (whatever the grade) or the upload
    was unusable; 1 when the autograder itself failed or could not grade the submission (out of
    memory, its worker or pytest failed: a results.json says so, with no score that
    looks like a grade)."""
    from grader.classroom.errors import BelowFloor

    started = time.monotonic()
    results = root / "results" / "results.json"
    try:
        secure_results_dir(results.parent)
        config = json.loads((root / "source" / CONFIG_FILE).read_text(encoding="utf-8"))
        seed, visibility = str(config["seed"]), config.get("visibility", "visible")
        memory_mb = int(config.get("call_memory_mb") or call_memory_mb())
        print(f"kata: grading {root / 'submission'} with seed {seed}, {memory_mb} MiB per call", flush=True)
        result, kit = grade_upload(
            root / "submission",
            seed,
            float(config.get("timeout", CALL_TIMEOUT_S)),
            allow_unconfined=bool(config.get("allow_unconfined")),
            budget=float(config["budget"]) if config.get("budget") else None,
            memory_mb=memory_mb,
        )
        kit = {**kit, "call_memory_mb": memory_mb}
        payload = results_json(result, kit, time.monotonic() - started, visibility)
        if payload["extra_data"]["status"] == "kit_error":  # the instructor's to see, on stdout
            write_results(results, payload)
            print(f"kata: the autograder could not grade this submission: {kit_failure(result)}", flush=True)
            return 1
    except BelowFloor as error:  # the instructor's to fix: said in full on stdout, which they see
        print(f"kata: {error}", flush=True)
        write_results(
            results,
            {
                "score": 0.0,
                "execution_time": int(round(time.monotonic() - started)),
                "output": KIT_REFUSED,
                "output_format": "text",
                "stdout_visibility": "hidden",
                "tests": [],
            },
        )
        return 1
    except Exception as error:  # noqa: BLE001 - the one place a kit failure becomes a result
        import traceback

        traceback.print_exc()
        write_results(
            results,
            {
                "score": 0.0,
                "execution_time": int(round(time.monotonic() - started)),
                "output": one_line(f"{KIT_FAILED} ({type(error).__name__}: {error})"),
                "output_format": "text",
                "stdout_visibility": "hidden",
                "tests": [],
            },
        )
        return 1
    write_results(results, payload)
    print(
        f"kata: {result.status}, score {payload['score']:g}; {one_line(payload['output'], 300)} → {results}", flush=True
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grader.platforms.gradescope", description="Gradescope's side of the MLflow kata."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("run", help="grade ROOT/submission into ROOT/results/results.json")
    grade.add_argument(
        "--root",
        default=os.environ.get("KATA_AUTOGRADER_ROOT", "/autograder"),
        help="Gradescope's /autograder (default: $KATA_AUTOGRADER_ROOT or %(default)s)",
    )
    args = parser.parse_args(argv)
    from grader.core.quiet import silence_mlflow

    silence_mlflow()
    return run(Path(args.root))


if __name__ == "__main__":
    sys.exit(main())
