"""``KataCase``: what one kata test sees — a fresh store, the student's functions
behind the sandbox, sample data, and failure messages that name the TODO."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import random
import re
import secrets
import stat
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from grader.core import i18n

from grader.judge import inputs
from grader.core.i18n import _, ngettext
from grader.core.paths import DATA_PATH
from grader.sandbox import CallResult, Sandbox, SandboxLimits, quota, untrusted_tree, words
from grader.sandbox.untrusted_tree import Overflow
from grader.judge.shared_calls import SharedCalls
from grader.judge.mlflow_internals import dispose_client_stores
from grader.judge.store import new_store
from grader.lab.todos import Todo, todo_by_id

if TYPE_CHECKING:
    import pandas as pd

SEEDED_PARTS = ("store", "work")  # what kit seeding writes in a case folder
# How a full disk reads in an error (SQLite, OSError's ENOSPC, EDQUOT)
DISK_FULL = ("database or disk is full", "No space left on device", "Disk quota exceeded")
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
        noun = article(self.type)
        # An object's own <Type: …> repr says nothing more than its type.
        return noun if self.text.startswith(f"<{self.type}") else f"{noun} {self.text}"


def article(noun: str) -> str:
    """``an ActiveRun``, ``a ModelVersion``, in the current language."""
    return words.article(noun, _)


@dataclass(frozen=True)
class Unreturned:
    """The student's function raised instead of returning: ``why`` names the exception
    and the student's line. TODOs whose state MLflow holds complete still pass."""

    why: str

    def __repr__(self) -> str:
        return _("nothing, because {why}").format(why=self.why)


class KataCase:
    """One test's world. Student code only ever runs in the sandbox, through ``call``,
    ``call_with_frame`` and ``call_then_predict``; student-made models are only ever
    loaded there too (``load_model_and_predict``)."""

    def __init__(self, sandbox: Sandbox, limits: SandboxLimits, exercises: Path, todo: Todo,
                 seed: str, properties: list | None = None, shared: SharedCalls | None = None):
        self.sandbox = sandbox
        self.shared = shared  # calls made once per session, see ``_run``
        self.properties = properties if properties is not None else []
        self.limits = limits
        self.exercises = exercises
        self.todo = todo
        self.excused: list[str] = []  # see ``excuse``
        self.raised = ""  # why the last ``call`` raised, for the messages of missing state
        self.student_ran = False  # any student code ran: the store is the student's doing too
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
        if "client" in self.__dict__:
            # MLflow caches one store (and SQLAlchemy engine) per URI, and case folders
            # are stable: close the pooled connections, or the next test with this
            # folder would read the deleted database through them.
            dispose_client_stores(self.client)
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
        data samples) and the student's files, nothing else of the kit or the class.
        A call of the student's code that an earlier test of this session made from the
        same state is not made again: its result and what it left are replayed
        (``grader.judge.shared_calls``)."""
        shared = self.shared if probe != "kit" else None
        keys = shared.keys(self.dir, probe, request, self.inputs) if shared else ("", "")
        overflow = shared.overflow(keys[0]) if shared else None
        if overflow is not None:  # the same call left too much for an earlier test
            self.student_ran = True
            self._left_too_much(overflow)
        result = shared.replay(keys[0], self.dir, SEEDED_PARTS) if shared else None
        if result is not None:
            self.sandbox.hand_over(self.dir)
            shared = None  # nothing new to keep
        else:
            result = self.sandbox.run(probe, self.workdir, self._env(), self.limits, writable=[self.dir],
                                      readable=[self.exercises, self.inputs], **request)
        self.student_ran = self.student_ran or probe != "kit"
        if probe != "kit":
            self._check_quota()  # first: a full folder is neither surveyed nor opened
            overflow = untrusted_tree.survey(self.dir).overflow
            if overflow is not None:
                if shared:
                    shared.remember_overflow(keys[0], overflow)
                self._left_too_much(overflow)
        self._check_store()
        if shared and result.outcome != "sandbox":  # a kit failure is not replayed
            shared.keep(keys, self.dir, SEEDED_PARTS, result)
        return result

    def _check_quota(self) -> None:
        """The student's verdict for a call that filled its case folder's quota
        (``grader.sandbox.quota``): the judge reads nothing of a full folder (MLflow
        itself could fail on it, "database or disk is full")."""
        cap = self.sandbox.quota_mb(self.dir)
        if cap is None or not quota.full(self.dir):
            return
        self.properties.append(("kata_status", "error"))
        self.fail(_("the code under test filled its case folder to its quota ({mib} MiB); the "
                    "judge reads nothing of it: leave only what the task asks for").format(mib=cap))

    def _quota_note(self, error: str) -> str:
        """`` (the case folder's quota of 1024 MiB was reached)`` when ``error`` says the
        disk was full and the case folder has a quota (the call filled it, then emptied
        it), else ``""``."""
        cap = self.sandbox.quota_mb(self.dir)
        if cap is None or not any(sign in error for sign in DISK_FULL):
            return ""
        return " " + _("(the case folder's quota of {mib} MiB was reached)").format(mib=cap)

    def _left_too_much(self, overflow: Overflow) -> None:
        """The student's verdict for a call that left its folder past
        ``untrusted_tree.CAPS``: the judge reads no further (see that module)."""
        self.properties.append(("kata_status", "error"))
        if overflow.what == "depth":
            message = _("the code under test left folders nested more than {cap} deep in its "
                        "folder ({where}); the judge reads no further: leave only what the task "
                        "asks for").format(cap=overflow.cap, where=overflow.where)
        elif overflow.what == "entries":
            message = _("the code under test left more than {cap} files and folders in its "
                        "folder (the judge stopped at {where}); the judge reads no further: leave "
                        "only what the task asks for").format(cap=overflow.cap, where=overflow.where)
        else:
            message = _("the code under test left more than {mib} MiB of files in its folder "
                        "(the judge stopped at {where}); the judge reads no further: leave only "
                        "what the task asks for").format(mib=overflow.cap >> 20, where=overflow.where)
        self.fail(message)

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
            self.fail(_("the MLflow store was replaced or linked elsewhere by the code under "
                        "test; nothing in it can be trusted"))
        from grader.judge.store import store_refusal

        refused = store_refusal(database)
        if refused:
            self.properties.append(("kata_status", "error"))
            self.fail(_("the code under test left an MLflow store the kit will not read: {reason}").format(
                reason=refused))

    def _checked(self, result: CallResult, what: str, tolerate_raise: bool = False):
        """The returned value (or a ``Described`` one); any failure of the student's code
        fails the test naming the TODO, except, with ``tolerate_raise``, an exception
        raised by the student's function: then an ``Unreturned`` is returned and the
        test goes on judging what MLflow holds."""
        if result.ok:
            if result.described:
                return Described(result.described["type"], result.described["repr"])
            return result.value
        detail = result.error
        if result.kind in ("wrong_result", "import"):  # the kit's own words: no class name
            detail = detail.partition(": ")[2]
        if result.outcome == "sandbox":  # the kit failed, not the student
            raise KitError(_("the sandbox failed: {detail}").format(detail=detail))
        detail = words.render(result.words, _) or detail  # the sandbox's words, translated
        note = self._quota_note(result.error)
        if result.kind == "wrong_result":  # returned, but not the kind of value needed
            self.fail(f"{what} {detail}")
        where = last_student_frame(result.traceback)
        if result.kind == "raised" and tolerate_raise:
            short = (detail if len(detail) <= 240 else detail[:237] + "...") + note
            self.raised = (_("{call} raised at {where}: {error}") if where else
                           _("{call} raised: {error}")).format(call=what, where=where.strip(" ()"),
                                                               error=short)
            return Unreturned(self.raised)
        # Reported per TODO: the student's code errored or timed out instead of being judged.
        self.properties.append(("kata_status", "timeout" if result.outcome == "timeout" else "error"))
        if result.kind == "import":
            self.fail(detail)
        if result.outcome == "memory":
            detail += " " + _("(the sandbox allows {mib} MiB)").format(mib=self.limits.memory_mb)
        self.fail(f"{what} {verb(result.outcome)}: {detail}{note}{where}")

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
        return self._checked(result, _("loading {uri}").format(uri=uri))

    def kit(self, function: str, **kwargs):
        """Run trusted kit code (``grader.judge.seeding``) against this case's store.

        The same test seeds the same state for every submission a process grades, in
        the same (stable) case folder; so the seeded store is snapshotted before any
        student code runs and later copied back instead of being seeded again.
        """
        key = hashlib.sha256(json.dumps([str(self.dir), function, jsonable(kwargs)],
                                        sort_keys=True).encode()).hexdigest()[:24]
        snapshot = self.sandbox.root / "seeded" / key
        if (snapshot / "value.json").is_file():
            for part in SEEDED_PARTS:
                untrusted_tree.remove(self.dir / part)
                untrusted_tree.copy(snapshot / part, self.dir / part)
            self.sandbox.hand_over(self.dir)
            return json.loads((snapshot / "value.json").read_text())
        result = self._run("kit", function=function, kwargs=jsonable(kwargs))
        if not result.ok or result.described:
            raise KitError(f"seeding with {function} failed: {result.error or result.described}\n"
                           f"{result.traceback}")
        draft = snapshot.with_name(key + ".draft")
        untrusted_tree.remove(draft)
        draft.mkdir(parents=True)
        for part in SEEDED_PARTS:
            if not untrusted_tree.copy(self.dir / part, draft / part).within_caps:
                raise KitError(f"seeding with {function} left more than untrusted_tree.CAPS")
        (draft / "value.json").write_text(json.dumps(result.value))
        os.replace(draft, snapshot)  # root-owned, out of the children's reach
        return result.value

    # -- verdicts --------------------------------------------------------------------
    def fail(self, message: str, waiting_for: str | None = None) -> None:
        """Fail with ``TODO x.y: message`` and the TODO's hint, in the current language
        (in English and Spanish when none was chosen, see ``grader.core.i18n``).

        ``waiting_for``: the earlier TODO whose work this one needs and which is not done
        yet (the message says so): its hint is shown instead, the one to follow next.
        When the student's function raised, the failure is an ``error`` and names the
        exception: the state this TODO needs is missing, most likely because of it."""
        if self.raised:
            self.properties.append(("kata_status", "error"))
            if self.raised not in message:
                message = f"{message}; {self.raised}"
        if waiting_for:
            self.properties.append(("kata_waiting_for", waiting_for))  # see TodoResult
        todo = todo_by_id()[waiting_for] if waiting_for else self.todo
        pytest.fail(f"TODO {self.todo.id}: {message}\n" + hint_lines(todo, waiting_for is not None),
                    pytrace=False)

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


def verb(outcome: str) -> str:
    return {"raised": _("raised"), "memory": _("ran out of memory"), "timeout": _("timed out"),
            "crashed": _("crashed")}.get(outcome, outcome)


# -- what MLflow holds nearby, for messages ------------------------------------------------
AUTO_RUN_NAME = re.compile(r"[a-z]+-[a-z]+-\d{1,3}")  # MLflow's name for a run nobody named


NAME_CHARS = 200  # of a student-made name quoted in a message (a run name may be megabytes)


def quoted(name) -> str:
    """``repr(name)``, cut to ``NAME_CHARS`` with the length said: the student chose it."""
    text = str(name)
    if len(text) <= NAME_CHARS:
        return repr(text)
    return repr(text[:NAME_CHARS]) + "…" + _("({count} characters)").format(count=len(text))


def run_label(run) -> str:
    """A run as a message names it: by its name, never its hex id; a run the student
    did not name is said to be one (with the name MLflow gave it, to find it in the UI)."""
    name = run.info.run_name or ""
    if not name or AUTO_RUN_NAME.fullmatch(name):
        return _("a run without a name of yours (MLflow named it {name})").format(name=repr(name))
    return _("the run {name}").format(name=quoted(name))


def describe_runs(runs) -> str:
    """``the run 'baseline' (FINISHED), a run without a name of yours (…) (RUNNING)``."""
    return ", ".join(f"{run_label(run)} ({run.info.status})" for run in runs)


def runs_held(runs) -> str:
    """``MLflow holds the run 'baseline' (FINISHED)``, or ``MLflow holds no run at all``."""
    if not runs:
        return _("MLflow holds no run at all")
    return _("MLflow holds {runs}").format(runs=describe_runs(runs))


def stray_runs(case: KataCase, keep, holds) -> list:
    """Runs of the store other than ``keep`` (runs or ids) for which ``holds(run)``: what
    logging with no active run leaves (MLflow starts a new run for it)."""
    ids = {getattr(getattr(run, "info", None), "run_id", run) for run in keep}
    return [run for run in case.all_runs() if run.info.run_id not in ids and holds(run)]


def stray_note(strays) -> str:
    """``; but MLflow holds them on another run: …``, or ``""`` without strays."""
    if not strays:
        return ""
    return "; " + _("they are on another run instead: {runs}. Logging while no run is active "
                    "(after the `with` block, or outside it) makes MLflow start a new run for "
                    "it").format(runs=describe_runs(strays))


def held_text(held, expected: dict) -> str:
    """What ``held`` (a run's params or tags) has of ``expected``'s keys, and which it
    lacks: ``{'a': '1'} (no b)``."""
    present = {key: held[key] for key in expected if key in held}
    missing = [key for key in expected if key not in held]
    if not missing:
        return str(present)
    return ngettext("{present} (no {missing})", "{present} (no {missing})", len(missing)).format(
        present=present, missing=", ".join(missing))


def training_metrics(kind: str, data_path, **params) -> dict[str, float]:
    """What the kit's own ``kind(**params)`` scores on the *training* rows: what a
    student's metrics are when the model was evaluated on the wrong split."""
    from grader.judge.oracle import fitted
    from labkit import evaluate

    split = inputs.split(data_path)
    return evaluate(fitted(kind, data_path, **params), split.X_train, split.y_train)


def metric_note(name: str, held: float, training: dict[str, float]) -> str:
    """`` — the model's rmse on the training set: …`` when ``held`` is it, else ``""``."""
    import math

    if name in training and math.isclose(held, training[name], rel_tol=1e-6):
        return " — " + _("that is the model's {metric} on the training set: score it on the "
                         "held-out split (X_test, y_test)").format(metric=name)
    return ""


def returned_note(value) -> str:
    """`` (its id is run.info.run_id)`` when ``value`` is a run object, not its id."""
    if isinstance(value, Described) and value.type in ("ActiveRun", "Run"):
        return " " + _("(its id is run.info.run_id)")
    return ""


def candidate_run(case: KataCase, run_id) -> str:
    """A candidate run of Task 4 by its name and r2: ``the RandomForest run, r2 = 0.91``."""
    run = case.run_or_none(run_id)
    if run is None:
        return repr(run_id)
    return _("the {name} run, r2 = {r2}").format(name=str(run.info.run_name)[:NAME_CHARS],
                                                  r2=run.data.metrics.get("r2"))


def tag_held(version, key: str) -> str:
    """``MLflow holds '0.91'``, or, when the version has no tag ``key``, which it has."""
    if key in version.tags:
        return _("MLflow holds {held}").format(held=repr(version.tags[key]))
    return _("version {version} has no tag {key} (its tags: {tags})").format(
        version=version.version, key=key, tags=dict(version.tags) or "{}")


def aliases_note(case: KataCase, model_name: str) -> str:
    """What the model's aliases are, when it has no ``staging``: ``the model has no alias
    'staging'; its aliases are {'Staging': 2} (aliases are case-sensitive)``."""
    from mlflow.exceptions import MlflowException

    try:
        aliases = dict(case.client.get_registered_model(model_name).aliases or {})
    except MlflowException:
        aliases = {}
    if not aliases:
        return _("the model has no alias at all")
    return _("the model has no alias 'staging'; its aliases are {aliases} (aliases are "
             "case-sensitive)").format(aliases=aliases)


def stages_feedback() -> str:
    """What a passing TODO 4.3 that used a stage is told (in each language when none)."""
    lines = []
    for lang in i18n.hint_languages():
        with i18n.use(lang):
            lines.append(_("accepted, but stages are deprecated: use an alias instead, "
                           "client.set_registered_model_alias(name, 'staging', version)"))
    return "TODO 4.3: " + " / ".join(dict.fromkeys(lines))


def last_student_frame(traceback_text: str) -> str:
    """`` (exercises/x.py, line N)`` for the innermost frame in a student file."""
    for line in reversed(traceback_text.splitlines()):
        line = line.strip()
        if line.startswith('File "') and "/exercises-" in line:
            path, _quote, rest = line[6:].partition('", ')
            number = rest.split(",")[0].removeprefix("line ").strip()
            return " (" + _("{file}, line {line}").format(file=Path(path).name, line=number) + ")"
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
