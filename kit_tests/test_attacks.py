"""Attacks on the sandbox: a class of hostile submissions, graded once.

One module fixture builds a class — two honest submissions (every reference solution)
and one hostile submission per attack (``kit_tests/attacks/``: the attack in
``task1_baseline.py``, and in ``bonus_serving.py`` for the one that must be last; no other
task file, so the rest of its grading is one-line errors and costs next to nothing) — plants
canaries (a root-only secret under /root, a file beside the class folder, a secret in
the judge's environment, a listener on 127.0.0.1), runs ``kata grade`` once, gathers
the evidence and cleans up. Each test asserts one guarantee on that one run; its
failure message says which attack got what.

Two workers take the submissions in id order. The first two jobs (one per worker)
write fake replies on every inherited fd, so both honest copies are graded by a
worker an attacker has had a go at; the uid killer and the store truncator sit next
to the honest copies in the queue, so each runs while an honest copy is graded; the
daemon leaver is last, so its worker makes no call that could clean up behind it.

The judge gets a TMPDIR of its own, and attacks that damage what they find keep to
this run (its TMPDIR, its processes) unless the call has a pid namespace of its own:
the tests never hurt other work on the same machine. ``test_every_attack_got_to_run``
makes sure no test passes only because its attack never ran. KATA_TEST_ATTACKS picks
attacks to grade alone (see ``SELECTED``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from attacks import attack_source
from grader.core.paths import KIT_ROOT
from grader.authoring.stubgen import render

SOLUTIONS = KIT_ROOT / "solutions"
TASK1, BONUS = "task1_baseline.py", "bonus_serving.py"
KIT_PARTS = ("grader", "labkit", "tests", "solutions")
PORTS = tuple(range(47001, 47011))  # the listener takes the first free one; attackers try all
GRADE_TIMEOUT_S = 900
SURVIVOR_GRACE_S = 5

HONEST = ("02-honest", "05-honest")


@dataclass(frozen=True)
class Attacker:
    attack: str
    what: str  # for failure messages
    variant: str | None = None
    bonus_too: bool = False  # attack in bonus_serving.py too: the submission's last call


ATTACKERS = {
    "00-attack-fd-garbage": Attacker("fd_garbage", "fake replies on inherited fds"),
    "01-attack-fd-garbage-again": Attacker("fd_garbage", "fake replies on inherited fds"),
    "03-attack-kill-its-uid": Attacker("kill_its_uid", "SIGKILL to every process of its uid"),
    "04-attack-truncate-stores": Attacker("truncate_stores", "truncating other calls' stores"),
    "06-attack-kit-solutions": Attacker("kit_solutions", "running the kit's solutions/"),
    "07-attack-classmates-file": Attacker("classmates_file", "running a classmate's file"),
    "08-attack-root-canary": Attacker("root_canary", "reading root-only files"),
    "09-attack-symlink-log-to-pth": Attacker("symlink_output_log", "output log -> site-packages .pth", "pth"),
    "10-attack-symlink-log-to-kit": Attacker("symlink_output_log", "output log -> a file in the kit", "kit"),
    "11-attack-symlink-log-to-canary": Attacker("symlink_output_log", "output log -> the root-only canary",
                                                "canary"),
    "12-attack-fill-disk": Attacker("fill_disk", "5 x 100 MB in /tmp, /var/tmp, /dev/shm"),
    "13-attack-network": Attacker("network", "connecting to 127.0.0.1 and the model server"),
    "14-attack-etc-shadow": Attacker("etc_shadow", "/etc/shadow in its exception"),
    "15-attack-environment": Attacker("environment", "the environment in its exception"),
    "15a-attack-deep-tree": Attacker("deep_tree", "4,000 nested folders left in its folder"),
    "15b-attack-many-files": Attacker("many_files", "50,000 files and a sparse 200 MB file left in "
                                                    "its folder"),
    "15c-attack-non-utf8-name": Attacker("non_utf8_name", "a file named with bytes that are not UTF-8"),
    "15d-attack-store-view": Attacker("store_view", "its store's tags table a VIEW of 10^8 rows of 100 MB"),
    "15e-attack-long-run-name": Attacker("long_run_name", "its run renamed with SQL to 600 KB of '.-'"),
    "16-attack-sample-zeros": Attacker("replace_sample", "its data sample replaced by zeros", "zeros"),
    "17-attack-sample-to-canary": Attacker("replace_sample", "its data sample -> the root-only canary",
                                           "canary"),
    "18-attack-sample-to-environ": Attacker("replace_sample", "its data sample -> /proc/self/environ",
                                            "environ"),
    "19-attack-sample-fifo": Attacker("replace_sample", "its data sample replaced by a FIFO", "fifo"),
    "20-attack-sample-to-dev-zero": Attacker("replace_sample", "its data sample -> /dev/zero", "devzero"),
    "15e-attack-fill-case-folder": Attacker("fill_case_folder", "its own case folder filled: 1.5 GiB or "
                                                                "until the disk is full"),
    "21-attack-daemons": Attacker("daemons", "daemons left behind", bonus_too=True),
}
# What these leave in their folder is past untrusted_tree.CAPS: their verdict says so.
LEFT_PAST_THE_CAPS = {"deep_tree": "nested more than 64 deep", "many_files": "more than 10000 files"}
# KATA_TEST_ATTACKS=daemons,network grades only those attackers (and the honest copies):
# to work on one defence, or to see what one attack does alone.
SELECTED = [name for name in os.environ.get("KATA_TEST_ATTACKS", "").split(",") if name]
ACTIVE = {sid: a for sid, a in ATTACKERS.items() if not SELECTED or a.attack in SELECTED}
BY_ATTACK: dict[str, list[str]] = {}
for _sid, _attacker in ACTIVE.items():
    BY_ATTACK.setdefault(_attacker.attack, []).append(_sid)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0,
    reason="attacks are judged as on a grading server: Linux, as root")


# -- the class ---------------------------------------------------------------------------
def solution(name):
    return render((SOLUTIONS / name).read_text(), stub_ids=())


def stub(name):
    return render((SOLUTIONS / name).read_text())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_submission(folder: Path, files: dict[str, str]) -> None:
    exercises = folder / "exercises"
    exercises.mkdir(parents=True)
    for name, source in files.items():
        (exercises / name).write_text(source)


def hostile_files(attacker: Attacker, ctx: dict, submission_id: str) -> dict[str, str]:
    """The attack in task 1's stub (and the bonus's): the only task files handed in. Tasks
    2-4 missing cost a one-line error each, where stubs cost a sandboxed call per test
    (most of this class's grading time, for nothing an attack needs)."""
    ctx = {**ctx, "name": submission_id, "variant": attacker.variant}
    files = {TASK1: attack_source(stub(TASK1), attacker.attack, ctx)}
    if attacker.bonus_too:
        files[BONUS] = attack_source(stub(BONUS), attacker.attack, ctx)
    return files


class Listener:
    """TCP and UDP on 127.0.0.1, on the first port of ``PORTS`` free for both; records
    every visit."""

    def __init__(self):
        self.visits: list[tuple[str, object, bytes]] = []
        visits = self.visits

        class Tcp(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.settimeout(1.0)
                try:
                    data = self.request.recv(200)
                except OSError:
                    data = b""
                visits.append(("tcp", self.client_address, data))

        class Udp(socketserver.BaseRequestHandler):
            def handle(self):
                visits.append(("udp", self.client_address, self.request[0][:200]))

        class TcpServer(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.servers = []
        for port in PORTS:
            try:
                tcp = TcpServer(("127.0.0.1", port), Tcp)
            except OSError:
                continue
            try:
                udp = socketserver.UDPServer(("127.0.0.1", port), Udp)
            except OSError:
                tcp.server_close()
                continue
            self.port, self.servers = port, [tcp, udp]
            break
        else:
            raise RuntimeError(f"no free port for the listener in {PORTS[0]}-{PORTS[-1]}")
        for server in self.servers:
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                             daemon=True).start()

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


# -- the machine's state -------------------------------------------------------------------
def kit_state() -> dict[str, str]:
    """Every file of the kit's code, tests and solutions, by content (not bytecode caches)."""
    state = {}
    for part in KIT_PARTS:
        for path in sorted((KIT_ROOT / part).rglob("*")):
            if "__pycache__" in path.parts:
                continue
            name = path.relative_to(KIT_ROOT).as_posix()
            if path.is_symlink():
                state[name] = "a link to " + os.readlink(path)
            elif path.is_file():
                state[name] = sha256(path.read_bytes())
    return state


def site_packages() -> Path:
    return Path(importlib.util.find_spec("sklearn").origin).resolve().parent.parent


def pth_state() -> dict[str, str]:
    return {path.name: sha256(path.read_bytes()) if path.is_file() else "not a file"
            for path in site_packages().glob("*.pth")}


def file_state(paths) -> dict[str, str]:
    return {str(path): sha256(path.read_bytes()) if path.is_file() else "missing" for path in paths}


def differences(before: dict, after: dict) -> dict[str, str]:
    return {name: ("created" if name not in before else "removed" if name not in after else "changed")
            for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)}


def processes_with(needle: bytes, where: str = "cmdline") -> dict[int, str]:
    """Processes whose /proc/PID/``where`` holds ``needle``: pid -> (the start of) its
    command line."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            if needle in Path(f"/proc/{entry}/{where}").read_bytes():
                command = Path(f"/proc/{entry}/cmdline").read_bytes()
                found[int(entry)] = command.replace(b"\0", b" ").decode(errors="replace").strip()[:120]
        except OSError:
            continue
    return found


def outlive(needle: bytes, where: str) -> dict[int, str]:
    """What still matches after a grace period; those are then killed (they are ours)."""
    deadline = time.monotonic() + SURVIVOR_GRACE_S
    found = processes_with(needle, where)
    while found and time.monotonic() < deadline:
        time.sleep(0.2)
        found = processes_with(needle, where)
    kill(found)
    return found


def kill(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def files_named_with(token: str, shallow, deep) -> list[Path]:
    """Files whose name holds ``token``: directly in ``shallow``, anywhere in ``deep``."""
    found = []
    for folder in shallow:
        try:
            found += [folder / name for name in os.listdir(folder) if token in name]
        except OSError:
            pass
    for folder in deep:
        found += [path for path in Path(folder).rglob(f"*{token}*")]
    return sorted(set(found))


def remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()
    except OSError:
        pass


# -- the run ---------------------------------------------------------------------------------
@dataclass
class Graded:
    run: subprocess.CompletedProcess
    duration_s: float
    out: Path
    results: dict | None
    secrets: dict[str, str]  # label -> a value that must reach no output
    shadow: list[str]  # lines of /etc/shadow, which must reach no output either
    sleep_marker: str
    daemons: dict[int, str] = field(default_factory=dict)  # attackers' processes that outlived grading
    lingering: dict[int, str] = field(default_factory=dict)  # any process of the run that did
    leftovers: list[str] = field(default_factory=list)  # files named with the attack token
    kit_changes: dict[str, str] = field(default_factory=dict)
    pth_changes: dict[str, str] = field(default_factory=dict)
    canary_changes: dict[str, str] = field(default_factory=dict)
    visits: list = field(default_factory=list)

    @property
    def by_id(self) -> dict:
        return {s["id"]: s for s in (self.results or {}).get("submissions", [])}

    def outputs(self) -> dict[str, bytes]:
        """Everything grading produced: OUT's files, and what ``kata grade`` printed."""
        found = {str(path.relative_to(self.out)): path.read_bytes()
                 for path in sorted(self.out.rglob("*")) if path.is_file()}
        found["<kata grade stdout>"] = self.run.stdout.encode()
        found["<kata grade stderr>"] = self.run.stderr.encode()
        return found

    def where(self, needle: str) -> list[str]:
        """Which outputs hold ``needle``, and which submissions' messages."""
        places = [name for name, data in self.outputs().items() if needle.encode() in data]
        places += [f"the messages of {sid}" for sid, submission in self.by_id.items()
                   if needle in json.dumps(submission, ensure_ascii=False)]
        return places


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("attacked")
    class_dir, out = root / "submissions", root / "report"
    class_dir.mkdir()
    token = secrets.token_hex(6)  # names the attackers' files: not a secret
    sleep_marker = f"4711.{secrets.randbelow(900000) + 100000}"
    canary_dir = Path("/root") / f"kata-canary-{secrets.token_hex(8)}"
    canary, canary_beside = canary_dir / "secret", root / "beside-the-class.txt"
    secret_values = {"the root-only canary": secrets.token_hex(16),
                     "the canary beside the class": secrets.token_hex(16),
                     "KATA_TEST_SECRET": secrets.token_hex(16)}
    judge_tmp = Path(tempfile.mkdtemp(prefix="kata-attacks-tmp-"))
    judge_tmp.chmod(0o1777)  # as /tmp
    listener = None
    shallow = [Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), site_packages(), KIT_ROOT / "labkit"]
    try:
        canary_dir.mkdir(mode=0o700)
        canary.write_text(secret_values["the root-only canary"] + "\n")
        canary.chmod(0o600)
        canary_beside.write_text(secret_values["the canary beside the class"] + "\n")
        canary_beside.chmod(0o644)
        listener = Listener()
        raw_solution = (SOLUTIONS / TASK1).read_bytes()
        ctx = {"token": token, "host_pid_ns": os.readlink("/proc/self/ns/pid"),
               "host_init_start": Path("/proc/1/stat").read_text().rsplit(")", 1)[1].split()[19],
               "run_marker": str(class_dir), "judge_tmp": str(judge_tmp), "class_dir": str(class_dir),
               "canary": str(canary), "canary_beside_class": str(canary_beside), "ports": list(PORTS),
               "accept_sha256": [sha256(raw_solution), sha256(solution(TASK1).encode())],
               "sleep_marker": sleep_marker}
        for submission_id in HONEST:
            write_submission(class_dir / submission_id,
                             {path.name: solution(path.name) for path in SOLUTIONS.glob("*.py")})
        for submission_id, attacker in ACTIVE.items():
            write_submission(class_dir / submission_id, hostile_files(attacker, ctx, submission_id))

        kit_before, pth_before = kit_state(), pth_state()
        canaries_before = file_state([canary, canary_beside])
        env = {**os.environ, "KATA_TEST_SECRET": secret_values["KATA_TEST_SECRET"], "TMPDIR": str(judge_tmp)}
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "grader", "grade", str(class_dir), "--out", str(out), "--jobs", "2",
             "--timeout", "20"], cwd=KIT_ROOT, env=env, capture_output=True, text=True,
            timeout=GRADE_TIMEOUT_S)
        duration = time.monotonic() - started
        results_file = out / "results.json"
        evidence = Graded(
            run=run, duration_s=duration, out=out,
            results=json.loads(results_file.read_text()) if results_file.is_file() else None,
            secrets=secret_values, sleep_marker=sleep_marker,
            shadow=[line for line in Path("/etc/shadow").read_text().splitlines() if len(line) >= 8],
        )
        evidence.daemons = outlive(sleep_marker.encode(), "cmdline")
        evidence.lingering = outlive(b"KATA_TEST_SECRET=" + secret_values["KATA_TEST_SECRET"].encode(),
                                     "environ")
        evidence.kit_changes = differences(kit_before, kit_state())
        evidence.pth_changes = differences(pth_before, pth_state())
        evidence.canary_changes = differences(canaries_before, file_state([canary, canary_beside]))
        evidence.leftovers = [str(path) for path in files_named_with(
            token, shallow, [judge_tmp, root, *(KIT_ROOT / part for part in KIT_PARTS)])]
        evidence.visits = list(listener.visits)
    finally:
        if listener is not None:
            listener.stop()
        kill(processes_with(sleep_marker.encode()))
        for path in files_named_with(token, shallow, [judge_tmp, *(KIT_ROOT / part for part in KIT_PARTS)]):
            remove(path)
        shutil.rmtree(canary_dir, ignore_errors=True)
        canary_beside.unlink(missing_ok=True)
        shutil.rmtree(judge_tmp, ignore_errors=True)
    yield evidence


# -- reading the results ------------------------------------------------------------------------
def submission(graded: Graded, submission_id: str) -> dict:
    found = graded.by_id.get(submission_id)
    if found is None:
        pytest.fail(f"{submission_id} is not in results.json (kata grade exited "
                    f"{graded.run.returncode}): {graded.run.stderr[-1500:]}")
    return found


def attackers_of(attack: str) -> list[str]:
    if attack not in BY_ATTACK:
        pytest.skip(f"{attack} is not in KATA_TEST_ATTACKS")
    return BY_ATTACK[attack]


def said(graded: Graded, submission_id: str) -> str:
    """What an attacker reported (its ``KATA-ATTACK`` line), or its first message."""
    messages = [todo["message"] for todo in submission(graded, submission_id)["todos"].values()
                if todo["message"]]
    marked = [m for m in messages if "KATA-ATTACK" in m]
    return ((marked or messages or ["(no message)"])[0])[:1500]


def gains(graded: Graded, submission_id: str) -> list[str]:
    return [todo_id for todo_id, todo in submission(graded, submission_id)["todos"].items()
            if todo["status"] == "pass"]


def assert_scores_nothing(graded: Graded, *submission_ids: str) -> None:
    """An attacker earns what its stubs earn: nothing, bonus included."""
    for submission_id in submission_ids:
        earned = gains(graded, submission_id)
        score = submission(graded, submission_id)["score"]
        assert not earned and score == 0, (
            f"{submission_id} ({ATTACKERS[submission_id].what}) earned {earned} (score {score}) "
            f"with stubbed files; it reported: {said(graded, submission_id)}")


def honest_losses(graded: Graded) -> dict[str, dict[str, str]]:
    losses = {}
    for submission_id in HONEST:
        for todo_id, todo in submission(graded, submission_id)["todos"].items():
            if todo["status"] != "pass":
                losses.setdefault(submission_id, {})[todo_id] = f"{todo['status']}: {todo['message'][:300]}"
    return losses


def assert_honest_copies_unharmed(graded: Graded, attack: str, hint: str) -> None:
    losses = honest_losses(graded)
    scores = {sid: submission(graded, sid)["score"] for sid in HONEST}
    reports = {sid: said(graded, sid) for sid in attackers_of(attack)}
    assert not losses, (
        f"the honest copies lost TODOs ({scores} of 15) in a class with {attack} "
        f"({ATTACKERS[attackers_of(attack)[0]].what}; {hint}).\nLosses: "
        + json.dumps(losses, indent=1) + "\nThe attacker reported: " + json.dumps(reports, indent=1))


# -- the run as a whole ---------------------------------------------------------------------------
def test_grading_the_attacked_class_finishes_and_exits_zero(graded):
    assert graded.run.returncode == 0, (f"kata grade exited {graded.run.returncode} after "
                                        f"{graded.duration_s:.0f} s: {graded.run.stderr[-3000:]}")
    assert graded.results is not None, "no results.json"
    expected = set(HONEST) | set(ACTIVE)
    assert set(graded.by_id) == expected, f"missing from results.json: {sorted(expected - set(graded.by_id))}"
    ungraded = {sid: s["message"] for sid, s in graded.by_id.items() if s["status"] != "graded"}
    assert not ungraded, f"not graded: {ungraded}"


def test_the_honest_copies_keep_every_point_and_the_bonus(graded):
    losses = honest_losses(graded)
    assert not losses, "the honest copies lost TODOs to their hostile classmates: " + json.dumps(losses, indent=1)
    for submission_id in HONEST:
        assert submission(graded, submission_id)["score"] == 15
        assert {"B.1", "B.2"} <= set(submission(graded, submission_id)["todos"])


def test_grading_leaves_no_process_of_the_run_behind(graded):
    assert not graded.lingering, (
        f"processes started by this kata grade (they hold its KATA_TEST_SECRET) were alive "
        f"{SURVIVOR_GRACE_S} s after it exited: {graded.lingering}")


def ran(graded: Graded, submission_id: str) -> bool:
    """Whether the attack got to its end in the sandbox (else its tests prove nothing):
    it passed with what it found, reported ``KATA-ATTACK``, raised what it read, or (the
    symlinker) made TODO 1.1's test call it a second time."""
    attack = ATTACKERS[submission_id].attack
    first = submission(graded, submission_id)["todos"]["1.1"]
    return (attack == "fd_garbage"  # it garbles its own reply too: nothing to tell
            or first["status"] == "pass" or "KATA-ATTACK[" in first["message"]
            or (attack == "etc_shadow" and "raised: RuntimeError: " in first["message"])
            or (attack in LEFT_PAST_THE_CAPS and LEFT_PAST_THE_CAPS[attack] in first["message"])
            or (attack == "fill_case_folder" and "to its quota" in first["message"])
            # its trap is set when the judge refuses the store for it
            or (attack == "store_view" and "view 'tags'" in first["message"])
            or (attack == "symlink_output_log" and "expected a new run in experiment" in first["message"]))


def test_every_attack_got_to_run_in_the_sandbox(graded):
    stopped = {sid: said(graded, sid) for sid in ACTIVE if not ran(graded, sid)}
    assert not stopped, ("these attacks never ran to their end, so their tests prove nothing "
                         "(an earlier attack broke the grader, or the attack itself is broken): "
                         + json.dumps(stopped, indent=1))


def test_no_file_outside_the_report_and_the_workspace_changes(graded):
    assert not graded.kit_changes, f"the kit's files changed: {graded.kit_changes}"
    assert not graded.pth_changes, f"site-packages' .pth files changed: {graded.pth_changes}"
    assert not graded.canary_changes, f"the canary files changed: {graded.canary_changes}"
    assert not graded.leftovers, f"attackers' files were left on the host: {graded.leftovers}"


# -- one attack each ------------------------------------------------------------------------------
def test_an_attacker_cannot_run_the_kits_own_solutions(graded):
    (attacker,) = attackers_of("kit_solutions")
    earned = gains(graded, attacker)
    assert not earned, (f"{attacker} earned {earned} by finding and running the kit's reference "
                        f"solution (via labkit.__file__, its own path, the cwd, sys.path or /work)")
    assert_scores_nothing(graded, attacker)


def test_an_attacker_cannot_run_a_classmates_file_staged_or_original(graded):
    (attacker,) = attackers_of("classmates_file")
    earned = gains(graded, attacker)
    assert not earned, (f"{attacker} earned {earned} by finding and running an honest classmate's "
                        f"task1_baseline.py (in /tmp, the judge's TMPDIR, the class folder or above its own)")
    assert_scores_nothing(graded, attacker)


def test_root_only_files_and_files_beside_the_class_never_reach_the_report(graded):
    leaks = {label: graded.where(value) for label, value in graded.secrets.items()
             if label != "KATA_TEST_SECRET"}
    leaks = {label: places for label, places in leaks.items() if places}
    (attacker,) = attackers_of("root_canary")
    assert not leaks, f"secrets outside the submissions reached the outputs: {leaks}; {attacker} reported: " \
                      f"{said(graded, attacker)}"
    assert_scores_nothing(graded, attacker)


@pytest.mark.parametrize("variant", ["pth", "kit", "canary"])
def test_a_symlinked_output_log_writes_nothing_outside_the_workspace(graded, variant):
    attacker = next(sid for sid in attackers_of("symlink_output_log") if ATTACKERS[sid].variant == variant)
    changed = {"pth": graded.pth_changes, "canary": graded.canary_changes,
               "kit": graded.kit_changes}[variant]
    written = [path for path in graded.leftovers if "kata-attack-fill-" not in path and (
        path.endswith(".pth") if variant == "pth" else variant == "kit" and path.startswith(str(KIT_ROOT)))]
    assert not changed and not written, (
        f"{attacker} ({ATTACKERS[attacker].what}) made the judge write outside the workspace: "
        f"changed {changed}, created {written}; it reported: {said(graded, attacker)}")
    assert_scores_nothing(graded, attacker)


def test_fake_replies_on_inherited_fds_cost_the_honest_copies_nothing(graded):
    assert_honest_copies_unharmed(graded, "fd_garbage", "both workers graded one first; stale or "
                                  "'x' values in the losses point at it")
    assert_scores_nothing(graded, *attackers_of("fd_garbage"))


def test_killing_every_process_of_its_uid_costs_the_honest_copies_nothing(graded):
    assert_honest_copies_unharmed(graded, "kill_its_uid", "graded beside 02-honest; SIGKILL in the "
                                  "losses points at it")
    assert_scores_nothing(graded, *attackers_of("kill_its_uid"))


def test_truncating_other_calls_stores_costs_the_honest_copies_nothing(graded):
    assert_honest_copies_unharmed(graded, "truncate_stores", "graded beside 05-honest; database "
                                  "errors in the losses point at it")
    assert_scores_nothing(graded, *attackers_of("truncate_stores"))


def test_no_daemon_of_an_attacker_outlives_grading(graded):
    (attacker,) = attackers_of("daemons")
    assert not graded.daemons, (
        f"{len(graded.daemons)} of {attacker}'s daemons (sleep {graded.sleep_marker}) were alive "
        f"{SURVIVOR_GRACE_S} s after grading: {graded.daemons}; it reported: {said(graded, attacker)}")
    assert_scores_nothing(graded, attacker)


def test_filling_tmp_var_tmp_and_shm_leaves_nothing_on_the_host(graded):
    (attacker,) = attackers_of("fill_disk")
    left = [path for path in graded.leftovers if "kata-attack-fill-" in path]
    assert not left, f"{attacker}'s files are on the host after grading: {left}; it reported: " \
                     f"{said(graded, attacker)}"
    assert graded.run.returncode == 0, graded.run.stderr[-2000:]
    assert_scores_nothing(graded, attacker)


def test_student_code_reaches_no_service_on_the_judges_machine(graded):
    (attacker,) = attackers_of("network")
    report = said(graded, attacker)
    assert not graded.visits, f"the test's listener on 127.0.0.1 was visited: {graded.visits}; " \
                              f"{attacker} reported: {report}"
    assert "REACHED" not in report, f"{attacker} reached the kit's model server: {report}"
    assert_scores_nothing(graded, attacker)


def test_etc_shadow_never_reaches_the_report(graded):
    (attacker,) = attackers_of("etc_shadow")
    leaks = {}
    for line in graded.shadow:
        places = graded.where(line)
        if places:
            leaks[f"the {line.split(':')[0]!r} line"] = places
    assert not leaks, f"/etc/shadow reached the outputs: {leaks}"  # names the users, not their hashes
    assert_scores_nothing(graded, attacker)


def test_the_judges_environment_never_reaches_the_report(graded):
    (attacker,) = attackers_of("environment")
    places = graded.where(graded.secrets["KATA_TEST_SECRET"])
    assert not places, (f"KATA_TEST_SECRET, set in kata grade's environment, reached {places}; "
                        f"{attacker} reported: {said(graded, attacker)}")
    assert_scores_nothing(graded, attacker)


@pytest.mark.parametrize("attack", ["deep_tree", "many_files", "non_utf8_name"])
def test_what_a_call_leaves_in_its_folder_is_its_own_verdict_never_a_kit_error(graded, attack):
    """Issue 18 rows 1, 12, 13: the judge reads a case folder as an outsider would
    (grader.sandbox.untrusted_tree): the honest copies keep everything, kata grade exits 0
    with all its outputs (see the first test), and the attacker is told what it left."""
    (attacker,) = attackers_of(attack)
    assert_honest_copies_unharmed(graded, attack, "RecursionError, UnicodeEncodeError or a "
                                  "timeout in the losses point at it")
    assert_scores_nothing(graded, attacker)
    kit_errors = {todo_id: todo["message"][:400] for todo_id, todo in
                  submission(graded, attacker)["todos"].items() if "kit error" in todo["message"]}
    assert not kit_errors, f"{attacker} ({ATTACKERS[attacker].what}) got kit errors: {kit_errors}"
    assert submission(graded, attacker)["status"] == "graded"
    if attack in LEFT_PAST_THE_CAPS:
        first = submission(graded, attacker)["todos"]["1.1"]
        assert LEFT_PAST_THE_CAPS[attack] in first["message"] and first["status"] == "error", first
    for name in ("results.json", "grades.csv", "index.html"):
        assert (graded.out / name).is_file(), f"no {name}"


# -- issue 18: the inputs the judge computes expectations from -------------------------------------
HONEST_RUN_TODOS = {"1.1", "1.2"}  # a run named baseline in the experiment it is given: real work


@pytest.mark.parametrize("variant", ["zeros", "canary", "environ", "fifo", "devzero"])
def test_a_replaced_data_sample_changes_no_expectation_and_leaks_nothing(graded, variant):
    """Row 2: zeros made any metric of 0 right; rows 3-5: the judge, as root, followed the
    replaced sample to the canary, its own environment, a FIFO (waiting until the
    submission's deadline) or /dev/zero (reading until killed). The judge now judges by its
    own copy of the sample, which the call cannot change anyway."""
    attacker = next(sid for sid in attackers_of("replace_sample") if ATTACKERS[sid].variant == variant)
    earned = set(gains(graded, attacker))
    assert "1.4" not in earned, (
        f"{attacker} ({ATTACKERS[attacker].what}) passed TODO 1.4 by logging rmse 0, r2 1, mae 0: "
        f"the judge's expected metrics came from the sample the call replaced")
    assert earned <= HONEST_RUN_TODOS, f"{attacker} earned {sorted(earned)}: {said(graded, attacker)}"
    metric = submission(graded, attacker)["todos"]["1.4"]
    assert metric["status"] == "fail" and "kit error" not in metric["message"], metric
    leaks = {label: places for label, value in graded.secrets.items() if (places := graded.where(value))}
    assert not leaks, f"{attacker} ({ATTACKERS[attacker].what}) made the judge leak {leaks}"
    assert graded.duration_s < GRADE_TIMEOUT_S / 2, f"grading took {graded.duration_s:.0f} s"
    assert_honest_copies_unharmed(graded, "replace_sample", "a judge that read a replaced sample")


def test_a_store_made_into_a_trap_is_refused_before_the_judge_reads_it(graded):
    """Issue 18 rows 6 and 7: a VIEW in place of a table (each row 100 MB, computed by a
    10^8-step recursive query) and a trigger. ``grader.judge.store.store_refusal`` checks the
    schema, read-only under a deadline, before MLflow opens the store in the judge."""
    (attacker,) = attackers_of("store_view")
    assert_honest_copies_unharmed(graded, "store_view", "a judge that read the trapped store")
    assert_scores_nothing(graded, attacker)
    first = submission(graded, attacker)["todos"]["1.1"]
    # the refusal names the VIEW: the trap was set, and caught before MLflow read it
    assert "left an MLflow store the kit will not read" in first["message"] and "view 'tags'" in first["message"], first
    assert "kit error" not in first["message"]
    assert graded.duration_s < GRADE_TIMEOUT_S / 2, f"grading took {graded.duration_s:.0f} s"


def test_filling_its_case_folder_costs_only_its_own_todos(graded):
    """Issue 18, row 10: a call could fill its case folder, on the disk the whole class is
    graded on (a 3-GB TMPDIR: both honest copies lost 7 TODOs to "database or disk is
    full"). Each case folder is now a tmpfs of its own (grader.sandbox.quota): the filler
    stops at the quota, and its verdict says so (without a quota it wrote its 1.5 GiB and
    was told only that it left more than the judge reads)."""
    (attacker,) = attackers_of("fill_case_folder")
    assert_honest_copies_unharmed(graded, "fill_case_folder", "'database or disk is full' in the "
                                  "losses points at it")
    assert_scores_nothing(graded, attacker)
    assert submission(graded, attacker)["status"] == "graded"
    first = submission(graded, attacker)["todos"]["1.1"]
    assert first["status"] == "error" and "filled its case folder to its quota" in first["message"], first
    kit_errors = {todo_id: todo["message"][:400] for todo_id, todo in
                  submission(graded, attacker)["todos"].items() if "kit error" in todo["message"]}
    assert not kit_errors, f"{attacker} got kit errors: {kit_errors}"


def test_a_megabyte_run_name_is_quoted_short_and_the_report_is_written(graded):
    """Issue 18 row 8: the name is quoted at 200 characters (its length said), a TODO's
    message is cut at 2,000, and the failure clusters mask in linear time: the report is
    written within the run's usual time."""
    (attacker,) = attackers_of("long_run_name")
    assert_honest_copies_unharmed(graded, "long_run_name", "a report that never rendered")
    assert set(gains(graded, attacker)) <= {"1.1"}  # its run is in the experiment: real work
    todos = submission(graded, attacker)["todos"]
    assert todos["1.2"]["status"] == "fail" and "(600000 characters)" in todos["1.2"]["message"], todos["1.2"]
    assert all(len(todo["message"]) <= 2100 for todo in todos.values())
    assert (graded.out / "index.html").is_file()
    assert graded.duration_s < GRADE_TIMEOUT_S / 2, f"grading took {graded.duration_s:.0f} s"
