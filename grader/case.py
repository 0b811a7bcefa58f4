"""``KataCase``: what one kata test sees — a fresh store, the student's functions
behind the sandbox, sample data, and failure messages that name the TODO."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import stat
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from grader.paths import DATA_PATH
from grader.sandbox import CallResult, Sandbox, SandboxLimits
from grader.store import new_store
from grader.todos import Todo

if TYPE_CHECKING:
    import pandas as pd

SEEDED_PARTS = ("store", "work")  # what kit seeding writes in a case folder


class KataFeedback(Warning):
    """Advice on a passing TODO (e.g. a deprecated way that still counts)."""


class KitError(RuntimeError):
    """The kit's own code failed (seeding, a refused kit request): never the student's
    fail. The plugin reports any exception a kata test raises, other than its verdict,
    as ``error`` with ``kit error: …``."""


@dataclass(frozen=True)
class Described:
    """What the student's function returned when it has no JSON form (an ActiveRun, a
    ModelVersion): its type and a short repr, for the messages of the TODOs that need
    the returned value. The other TODOs are judged by what MLflow holds."""

    type: str
    text: str

    def __repr__(self) -> str:
        noun = f"{'an' if self.type[:1].lower() in 'aeiou' else 'a'} {self.type}"
        return noun if self.text.startswith(f"<{self.type}") and len(self.text) < 24 else \
            f"{noun} {self.text}"


@dataclass(frozen=True)
class Unreturned:
    """The student's function raised instead of returning: ``why`` names the exception
    and the student's line. TODOs whose state MLflow holds complete still pass."""

    why: str

    def __repr__(self) -> str:
        return f"nothing, because {self.why}"


class KataCase:
    """One test's world. Student code only ever runs in the sandbox, through ``call``,
    ``call_with_frame`` and ``call_then_predict``; student-made models are only ever
    loaded there too (``load_model_and_predict``)."""

    def __init__(self, sandbox: Sandbox, limits: SandboxLimits, exercises: Path, todo: Todo,
                 seed: str, properties: list | None = None):
        self.sandbox = sandbox
        self.properties = properties if properties is not None else []
        self.limits = limits
        self.exercises = exercises
        self.todo = todo
        self.excused: list[str] = []  # see ``excuse``
        self.raised = ""  # why the last ``call`` raised, for the messages of missing state
        self.student_ran = False  # any student code ran: the store is the student's doing too
        digest = hashlib.sha256(seed.encode()).hexdigest()
        self.rng = random.Random(digest)
        self.dir = sandbox.fixed_dir(f"case-{digest[:16]}")  # stable: see ``kit``
        self.uri = new_store(self.dir / "store")
        self.workdir = self.dir / "work"
        self.workdir.mkdir()
        self.sandbox.hand_over(self.dir)

    def close(self) -> None:
        if "client" in self.__dict__:
            # MLflow caches one store (and SQLAlchemy engine) per URI, and case folders
            # are stable: close the pooled connections, or the next test with this
            # folder would read the deleted database through them.
            stores = [getattr(self.client._tracking_client, "store", None),
                      getattr(self.client._get_registry_client(), "store", None)]
            for store in stores:
                engine = getattr(store, "engine", None)
                if engine is not None:
                    engine.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- inputs ----------------------------------------------------------------------
    def name(self, stem: str) -> str:
        """A name the student cannot have hard-coded: ``stem-<random>``."""
        return f"{stem}-{self.rng.randrange(16**6):06x}"

    def sample_data(self, rows: int = 400) -> Path:
        """A random sample of the dataset, written where the child can read it."""
        import pandas as pd  # not at import time: a thin pytest run never needs it

        frame = pd.read_csv(DATA_PATH)
        sample = frame.sample(n=rows, random_state=self.rng.randrange(2**31))
        path = self.dir / f"data-{self.rng.randrange(16**6):06x}.csv"
        sample.to_csv(path, index=False)
        path.chmod(0o644)
        return path

    # -- MLflow, read by the judge ---------------------------------------------------
    @cached_property
    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def all_runs(self) -> list:
        experiments = [e.experiment_id for e in self.client.search_experiments()]
        return self.client.search_runs(experiments) if experiments else []

    def run_or_none(self, run_id):
        from mlflow.exceptions import MlflowException

        if not isinstance(run_id, str):
            return None
        try:
            return self.client.get_run(run_id)
        except MlflowException:
            return None

    # -- student code, in the sandbox ------------------------------------------------
    def _env(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_URI": self.uri, "MLFLOW_REGISTRY_URI": self.uri,
                "HOME": str(self.workdir)}

    def _run(self, probe: str, **request) -> CallResult:
        """One sandboxed call that sees this case's folder (its store, work folder and
        data samples) and the student's files, nothing else of the kit or the class."""
        result = self.sandbox.run(probe, self.workdir, self._env(), self.limits,
                                  writable=[self.dir], readable=[self.exercises], **request)
        self.student_ran = self.student_ran or probe != "kit"
        self._check_store()
        return result

    def _check_store(self) -> None:
        """The judge (maybe root) reads the store next: refuse one that student code
        replaced by a link, a FIFO or a hard link to somewhere else, and drop any link
        SQLite would follow for its journal."""
        store = self.dir / "store"
        database = store / "mlflow.db"
        try:
            tampered = not (stat.S_ISDIR(os.lstat(store).st_mode)
                            and stat.S_ISREG(os.lstat(database).st_mode)
                            and os.lstat(database).st_nlink == 1)
            for entry in os.scandir(store):
                if entry.name != "mlruns" and not entry.is_file(follow_symlinks=False):
                    tampered = True
                    if not entry.is_dir(follow_symlinks=False):
                        os.unlink(entry.path)
        except OSError:
            tampered = True
        if tampered:
            self.properties.append(("kata_status", "error"))
            self.fail("the MLflow store was replaced or linked elsewhere by the code under test; "
                      "nothing in it can be trusted")

    def _checked(self, result: CallResult, what: str, tolerate_raise: bool = False):
        """The returned value (or a ``Described`` one); any failure of the student's code
        fails the test naming the TODO, except, with ``tolerate_raise``, an exception
        raised by the student's function: then an ``Unreturned`` is returned and the
        test goes on judging what MLflow holds."""
        if result.ok:
            return Described(**{"type": result.described["type"], "text": result.described["repr"]}) \
                if result.described else result.value
        detail = result.error
        if result.kind in ("wrong_result", "import"):  # the kit's own words: no class name
            detail = detail.partition(": ")[2]
        if result.outcome == "sandbox":  # the kit failed, not the student
            raise KitError(f"the sandbox failed: {detail}")
        if result.kind == "wrong_result":  # returned, but not the kind of value needed
            self.fail(f"{what} {detail}")
        where = last_student_frame(result.traceback)
        if result.kind == "raised" and tolerate_raise:
            at = f" at {where.strip(' ()')}" if where else ""
            short = detail if len(detail) <= 240 else detail[:237] + "..."
            self.raised = f"{what} raised{at}: {short}"
            return Unreturned(self.raised)
        # Reported per TODO: the student's code errored or timed out instead of being judged.
        self.properties.append(("kata_status", "timeout" if result.outcome == "timeout" else "error"))
        if result.kind == "import":
            self.fail(detail)
        if result.outcome == "memory":
            detail += f" (the sandbox allows {self.limits.memory_mb} MiB)"
        self.fail(f"{what} {verb(result.outcome)}: {detail}{where}")

    def excuse(self, *names: str) -> None:
        """Let this test's calls run with the slips of other TODOs excused (see
        ``probes.EXCUSES``): e.g. ``model_logging`` for 3.1 and 3.2, whose runs must not
        depend on 3.3's ``log_model`` working."""
        self.excused.extend(names)

    def call(self, function: str, *args, **kwargs):
        """Call ``function`` of this task's student module; return its JSON result.

        A returned value with no JSON form comes back ``Described``; when the function
        raises, an ``Unreturned`` comes back and the test judges what MLflow holds (a
        failure then names the exception and the student's line). Import errors,
        timeouts, crashes and running out of memory fail the test at once.
        """
        result = self._run(
            "call", exercises=str(self.exercises), excused=self.excused,
            module=self.todo.module, function=function, args=jsonable(args), kwargs=jsonable(kwargs),
        )
        return self._checked(result, f"{function}()", tolerate_raise=True)

    def call_with_frame(self, function: str, frame: pd.DataFrame):
        result = self._run(
            "call_with_frame", exercises=str(self.exercises),
            module=self.todo.module, function=function, frame=frame_json(frame),
        )
        return self._checked(result, f"{function}(rows)")

    def call_then_predict(self, function: str, frame: pd.DataFrame, *args):
        result = self._run(
            "call_then_predict", exercises=str(self.exercises),
            module=self.todo.module, function=function, args=jsonable(args), frame=frame_json(frame),
        )
        return self._checked(result, f"{function}()")

    def load_model_and_predict(self, uri: str, frame: pd.DataFrame):
        """Load a student-logged model in the sandbox (never in the judge) and predict."""
        result = self._run("load_model_and_predict", uri=uri, frame=frame_json(frame))
        return self._checked(result, f"loading {uri}")

    def kit(self, function: str, **kwargs):
        """Run trusted kit code (``grader.seeding``) against this case's store.

        The same test seeds the same state for every submission a process grades, in
        the same (stable) case folder; so the seeded store is snapshotted before any
        student code runs and later copied back instead of being seeded again.
        """
        key = hashlib.sha256(json.dumps([str(self.dir), function, jsonable(kwargs)],
                                        sort_keys=True).encode()).hexdigest()[:24]
        snapshot = self.sandbox.root / "seeded" / key
        if (snapshot / "value.json").is_file():
            for part in SEEDED_PARTS:
                shutil.rmtree(self.dir / part, ignore_errors=True)
                shutil.copytree(snapshot / part, self.dir / part)
            self.sandbox.hand_over(self.dir)
            return json.loads((snapshot / "value.json").read_text())
        result = self._run("kit", function=function, kwargs=jsonable(kwargs))
        if not result.ok or result.described:
            raise KitError(f"seeding with {function} failed: {result.error or result.described}\n"
                           f"{result.traceback}")
        draft = snapshot.with_name(key + ".draft")
        shutil.rmtree(draft, ignore_errors=True)
        for part in SEEDED_PARTS:
            shutil.copytree(self.dir / part, draft / part)
        (draft / "value.json").write_text(json.dumps(result.value))
        os.replace(draft, snapshot)  # root-owned, out of the children's reach
        return result.value

    # -- verdicts --------------------------------------------------------------------
    def fail(self, message: str) -> None:
        """Fail with ``TODO x.y: message`` and the TODO's hint in English and Spanish.

        When the student's function raised, the failure is an ``error`` and names the
        exception: the state this TODO needs is missing, most likely because of it."""
        if self.raised:
            self.properties.append(("kata_status", "error"))
            if self.raised not in message:
                message = f"{message}; {self.raised}"
        pytest.fail(
            f"TODO {self.todo.id}: {message}\n"
            f"  Hint: {self.todo.hint_en}\n  Pista: {self.todo.hint_es}",
            pytrace=False,
        )

    def expect(self, condition: bool, message: str) -> None:
        if not condition:
            self.fail(message)


def verb(outcome: str) -> str:
    return {"raised": "raised", "memory": "ran out of memory", "timeout": "timed out",
            "crashed": "crashed"}.get(outcome, outcome)


def last_student_frame(traceback_text: str) -> str:
    """`` (exercises/x.py, line N)`` for the innermost frame in a student file."""
    for line in reversed(traceback_text.splitlines()):
        line = line.strip()
        if line.startswith('File "') and "/exercises-" in line:
            path, _, rest = line[6:].partition('", ')
            return f" ({Path(path).name}, {rest.split(',')[0]})"
    return ""


def frame_json(frame: pd.DataFrame) -> dict:
    split = frame.to_dict(orient="split", index=False)  # keeps int columns int
    return {"columns": split["columns"], "data": split["data"]}


def jsonable(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value
