"""``KataCase``: what one kata test sees — its world (a fresh store in a stable case folder,
sample data only it can have drawn, names the student cannot guess), the student's
functions behind the sandbox (run and read by ``grader.judge.calls``), the kit's seeding
(snapshotted, ``grader.judge.snapshots``) and failure messages that name the TODO and give
its hint. What MLflow holds is worded for those messages by ``grader.judge.messages``."""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import random
import secrets
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

from grader.core import i18n
from grader.core.i18n import _
from grader.core.paths import DATA_PATH
from grader.judge import calls, inputs, replays, snapshots
from grader.judge.calls import SEEDED_PARTS, KitError, frame_json, jsonable
from grader.judge.mlflow_internals import dispose_client_stores
from grader.judge.raises import Raised, replay_note
from grader.judge.shared_calls import SharedCalls
from grader.judge.snapshots import Snapshots
from grader.judge.store import new_store
from grader.lab.todos import Todo, load_todos, todo_by_id
from grader.sandbox import Sandbox, SandboxLimits, quota, untrusted_tree, words

if TYPE_CHECKING:
    import pandas as pd

# Keys what a call can see of its case (folder names, experiment and model names) from the
# seed: without it no one can compute them from a seed, or a seed from them (issue 18,
# row 11). Drawn per judge process and never written anywhere or handed to a call; within a
# process they are stable (snapshots and shared calls rely on it), across runs they differ.
# Verdicts do not depend on them: what a test's checks depend on (samples, seeded state)
# comes from ``rng``, the seed's alone, so ``--seed`` still reproduces every verdict.
VISIBLE_NAMES_KEY = secrets.token_bytes(32)


def visible_key(seed: str) -> str:
    """The hex key of what a test's call may see, from its seed and the process's secret."""
    return hmac.new(VISIBLE_NAMES_KEY, seed.encode(), hashlib.sha256).hexdigest()


class KataFeedback(Warning):
    """Advice on a passing TODO (e.g. a deprecated way that still counts)."""


class KataCase:
    """One test's world. Student code only ever runs in the sandbox, through ``call``,
    ``call_with_frame`` and ``call_then_predict``; student-made models are only ever
    loaded there too (``load_model_and_predict``)."""

    def __init__(
        self,
        sandbox: Sandbox,
        limits: SandboxLimits,
        exercises: Path,
        todo: Todo,
        seed: str,
        properties: list | None = None,
        shared: SharedCalls | None = None,
    ):
        self.sandbox = sandbox
        self.shared = shared  # calls made once per session, see ``grader.judge.calls.run``
        # the kit's seeded states, kept for every submission this process grades: see ``kit``
        self.seeded = Snapshots(sandbox.root / "seeded")
        self.properties = properties if properties is not None else []
        self.limits = limits
        self.exercises = exercises
        self.todo = todo
        self.excused: list[str] = []  # see ``excuse``
        self.raised = ""  # why the last ``call`` raised, for the messages of missing state
        self.raised_own = False  # ``raised`` is this TODO's own code raising: what a failure says
        self.replayed: list[Raised] = []  # judged on a replay without these statements (replays)
        self.replay_note = ""  # why a replay could not be made, when it could not
        self.elsewhere = ""  # a call's code chose its own MLflow store: what a failure says
        self.student_ran = False  # any student code ran: the store is the student's doing too
        self.setting: list[str] = []  # what the test put in the store before the call: ``set_up``
        # What decides a verdict (samples, seeded state) comes from the seed: reproducible.
        self.rng = random.Random(hashlib.sha256(seed.encode()).hexdigest())
        # What the call sees by name comes from a keyed stream: not computable from the seed.
        visible = visible_key(seed)
        self._names = random.Random(visible)
        # stable: see ``kit``; with a quota where the kit can give one (grader.sandbox.quota)
        self.dir = sandbox.fixed_dir(f"case-{visible[:16]}", quota_mb=quota.CASE_FOLDER_MB)
        # The samples: read-only to the call (root's folder, bound read-only, or Landlock),
        # and the judge keeps its own copy of each (``grader.judge.inputs``).
        self.inputs = sandbox.inputs_dir(f"inputs-{visible[16:32]}")
        self.uri = new_store(self.dir / "store")
        self.workdir = self.dir / "work"
        self.workdir.mkdir()
        self.sandbox.hand_over(self.dir)

    def close(self) -> None:
        self.forget_store()
        self.sandbox.release_dir(self.dir)  # never raises; ``fixed_dir`` moves aside what stays
        inputs.forget(self.inputs)
        untrusted_tree.remove(self.inputs)

    # -- inputs ----------------------------------------------------------------------
    def name(self, stem: str) -> str:
        """A name the student cannot have hard-coded nor computed: ``stem-<random>``."""
        return f"{stem}-{self._names.randrange(16**6):06x}"

    def sample_data(self, rows: int = 400) -> Path:
        """A random sample of the dataset, written where the call can read it and not
        change it; the judge keeps what it wrote (``grader.judge.inputs``) and judges by that."""
        import pandas as pd  # not at import time: a thin pytest run never needs it

        frame = pd.read_csv(io.BytesIO(inputs.safe_read(DATA_PATH)))
        sample = frame.sample(n=rows, random_state=self.rng.randrange(2**31))
        content = sample.to_csv(index=False).encode()
        path = self.inputs / f"data-{self._names.randrange(16**6):06x}.csv"
        inputs.keep(path, content)
        if os.path.lexists(path):  # the same sample again (tests sharing their inputs)
            os.unlink(path)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o444)
        with open(descriptor, "wb") as handle:
            handle.write(content)
        os.chmod(path, 0o444)
        return path

    # -- MLflow, read by the judge ---------------------------------------------------
    @cached_property
    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def forget_store(self) -> None:
        """Close the judge's pooled connections to the store. MLflow caches one store (and
        SQLAlchemy engine) per URI, and case folders are stable: the next test with this
        folder, or a store put back from a snapshot (a replay), would be read through
        connections to the database file that was replaced."""
        if "client" in self.__dict__:
            dispose_client_stores(self.client)

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

    # -- student code, in the sandbox (grader.judge.calls) --------------------------------
    def excuse(self, *names: str) -> None:
        """Let this test's calls run with the slips of other TODOs excused (see
        ``grader.judge.probes.EXCUSES``): e.g. ``model_logging`` for 3.1 and 3.2, whose runs must not
        depend on 3.3's ``log_model`` working."""
        self.excused.extend(names)

    def call(self, function: str, *args, **kwargs):
        """Call ``function`` of this task's student module; return its JSON result.

        A returned value with no JSON form comes back ``Described``; when the function
        raises, an ``Unreturned`` comes back and the test judges what MLflow holds (a
        failure then names the exception and the student's line). Import errors,
        timeouts, crashes and running out of memory fail the test at once.

        A raise costs only the TODO whose code raised (``grader.judge.raises``): when it
        is another TODO's, this TODO is judged on a replay of the call without that
        statement (``grader.judge.replays``).
        """
        request = {
            "exercises": str(self.exercises),
            "excused": self.excused,
            "module": self.todo.module,
            "function": function,
            "args": jsonable(args),
            "kwargs": jsonable(kwargs),
            "todos": self.module_todos(),
        }
        result = replays.judged_apart(self, request)
        return calls.checked(self, result, f"{function}()", tolerate_raise=True)

    def module_todos(self) -> list[str]:
        """The TODO ids of this task's student module, in order: what a call's child attributes
        a raise to (``grader.judge.attribution``)."""
        return [todo.id for todo in load_todos() if todo.module == self.todo.module]

    def call_with_frame(self, function: str, frame: pd.DataFrame):
        result = calls.run(
            self,
            "call_with_frame",
            exercises=str(self.exercises),
            module=self.todo.module,
            function=function,
            frame=frame_json(frame),
            todos=self.module_todos(),
        )
        return calls.checked(self, result, f"{function}(rows)")

    def call_then_predict(self, function: str, frame: pd.DataFrame, *args):
        result = calls.run(
            self,
            "call_then_predict",
            exercises=str(self.exercises),
            module=self.todo.module,
            function=function,
            args=jsonable(args),
            frame=frame_json(frame),
            todos=self.module_todos(),
        )
        return calls.checked(self, result, f"{function}()")

    def load_model_and_predict(self, uri: str, frame: pd.DataFrame):
        """Load a student-logged model in the sandbox (never in the judge) and predict."""
        result = calls.run(self, "load_model_and_predict", uri=uri, frame=frame_json(frame))
        return calls.checked(self, result, _("loading {uri}").format(uri=uri))

    def kit(self, function: str, **kwargs):
        """Run trusted kit code (``grader.judge.seeding``) against this case's store.

        The same test seeds the same state for every submission a process grades, in
        the same (stable) case folder; so the seeded store is snapshotted before any
        student code runs and later copied back instead of being seeded again.
        """
        self.fail_if_no_student_file()
        key = snapshots.key(self.dir, ["kit", function, jsonable(kwargs)])
        seeded = self.seeded.restore(key, self.dir, SEEDED_PARTS)
        if seeded is not None:
            self.sandbox.hand_over(self.dir)
            return seeded.value
        result = calls.run(self, "kit", function=function, kwargs=jsonable(kwargs))
        if not result.ok or result.described:
            raise KitError(f"seeding with {function} failed: {result.error or result.described}\n{result.traceback}")
        if not self.seeded.save(key, self.dir, SEEDED_PARTS, result.value):
            raise KitError(f"seeding with {function} left more than untrusted_tree.CAPS")
        return result.value

    def fail_if_no_student_file(self) -> None:
        """Fail as the sandbox's import would (its words, status ``error``) when the student
        handed in no file for this TODO's task: seeding a store for a call that cannot be
        made costs seconds (task 4 fits and logs three models) in every worker that grades
        such a submission first. Only the file's presence is read here, never its code."""
        name = f"{self.todo.module}.py"
        if (self.exercises / name).is_file():  # the staged copy: a kit-made folder
            return
        self.properties.append(("kata_status", "error"))
        self.fail(words.render(words.said("file_missing", file=name), _) or name)

    def set_up(self, note: str) -> None:
        """Record what the test put in the store before calling the student's code (Task 4's
        candidate runs and versions: ``grader.judge.messages.seeded_candidates`` …), worded
        in the current language. A failure the test judges then ends with it, so a run or a
        version the student did not make is never a riddle."""
        self.setting.append(note)

    # -- verdicts --------------------------------------------------------------------
    def fail(self, message: str, waiting_for: str | None = None) -> NoReturn:
        """Fail with ``TODO x.y: message`` and the TODO's hint, in the current language
        (in English and Spanish when none was chosen, see ``grader.core.i18n``).

        ``waiting_for``: the earlier TODO whose work this one needs and which is not done
        yet (the message says so): its hint is shown instead, the one to follow next.
        When the student's function raised, the failure is an ``error`` and names the
        exception: the state this TODO needs is missing, most likely because of it.
        What the test set up (``set_up``) ends the message, unless the student's code
        could not be judged at all (it did not import, timed out or crashed).
        When a call's code chose an MLflow store of its own (``elsewhere``), that is all
        the failure says: the TODO's work went there, not to the store the test reads.
        When this TODO's own code raised (``raised_own``), the failure says that instead of
        what the test found missing; one judged on a replay without another TODO's
        statement says so (``grader.judge.raises``)."""
        unjudged = any(key == "kata_status" for key, _value in self.properties)
        if self.elsewhere:
            self.properties.append(("kata_status", "error"))
            message, waiting_for, unjudged = self.elsewhere, None, True
        elif self.raised:
            self.properties.append(("kata_status", "error"))
            if self.raised_own:  # this TODO's code raised: that is what to fix (grader.judge.raises)
                message, waiting_for = self.raised, None
            elif self.raised not in message:
                message = f"{message}; {self.raised}"
        if not self.elsewhere:
            for note in (replay_note(self.replayed) if self.replayed else "", self.replay_note):
                if note:
                    message += " — " + note
        if self.setting and not unjudged:
            message += " — " + _("the test set up, before calling your code: {setting}").format(
                setting="; ".join(self.setting)
            )
        if waiting_for:
            self.properties.append(("kata_waiting_for", waiting_for))  # see TodoResult
        todo = todo_by_id()[waiting_for] if waiting_for else self.todo
        pytest.fail(f"TODO {self.todo.id}: {message}\n" + hint_lines(todo, waiting_for is not None), pytrace=False)

    def expect(self, condition: bool, message: str, waiting_for: str | None = None) -> None:
        if not condition:
            self.fail(message, waiting_for)


def hint_lines(todo: Todo, other: bool = False) -> str:
    """``  Hint: …`` in each language a hint is shown in (``i18n.hint_languages``);
    ``other``: the hint is another TODO's, and says which."""
    lines = []
    for lang in i18n.hint_languages():
        with i18n.use(lang):
            label = _("Hint for TODO {id}").format(id=todo.id) if other else _("Hint")
        lines.append(f"  {label}: {todo.hint(lang)}")
    return "\n".join(lines)
