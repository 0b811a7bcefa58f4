"""The uid floor, tried the way Gradescope runs the kit: the bundle's real
``run_autograder``, as root, in the three shapes a container gives (README: How student
code is isolated), against an upload whose task 1 attacks at import time.

* **root, every mechanism** (namespaces, Landlock, cgroups);
* **root without CAP_SYS_ADMIN** (Docker's default: no namespaces), simulated with
  ``setpriv --bounding-set -sys_admin``;
* **and no Landlock** either (a seccomp profile or kernel that refuses it):
  ``KATA_ISOLATION_MAX=none`` on top.

In each, student code runs as a uid of its own: the upload's attempts to forge
``results.json`` (at once, at exit, from a lingering child), plant a ``.pth`` in
site-packages, append to the kit's code and to ``run_autograder``, and read a root-only
secret all fail; the score stays honest and the level is recorded. Below the floor —
root that cannot even change uid (``-setuid,-setgid`` dropped too) and no Landlock —
the run refuses, unless the bundle was exported with ``--allow-unconfined``.

Without namespaces the student's uid reaches Python along its real paths, so these
shapes need an interpreter every user can read: the kit's virtualenv's site-packages
behind the system's Python of the same version (``shared_python``). Where the kit is
installed under a closed folder (e.g. ``/root``), those shapes are skipped with the
reason the zygote itself would give.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from grader.platforms.gradescope import KIT_REFUSED, export
from grader.core.paths import KIT_ROOT
from grader.sandbox.confine import python_readable, unreadable_for_others
from grader.authoring.stubgen import render

pytestmark = pytest.mark.skipif(sys.platform != "linux" or os.geteuid() != 0 or not shutil.which("setpriv"),
                                reason="container shapes are simulated as root on Linux with setpriv")

NO_SYS_ADMIN = ["setpriv", "--bounding-set", "-sys_admin", "--"]
NO_SETUID = ["setpriv", "--bounding-set", "-sys_admin,-setuid,-setgid", "--"]
PLANTED_PTH = "kata_pwned.pth"
LINGER_S = 3  # how long after run_autograder a late writer would have had to strike

# Module-level code of the hostile task 1 (the rest of the file is the stub): every
# attack of the Gradescope round, then a raise quoting what it stole, so that
# the results show the attack ran to the end (and would show a stolen secret).
HOSTILE = '''
import atexit as _atexit, json as _json, os as _os, site as _site, sys as _sys, time as _time
_ROOT, _KIT, _SECRET = {root!r}, {kit!r}, {secret!r}


def _try(action):
    try:
        return action()
    except BaseException:
        return None


_stolen = _try(lambda: open(_SECRET).read()) or ""
_RESULTS = _ROOT + "/results/results.json"


def _forge():
    _try(lambda: open(_RESULTS, "w").write(_json.dumps({{"score": 100.0, "output": "forged", "tests": []}})))


_forge()
_atexit.register(_forge)
for _folder in set(_site.getsitepackages() + [p for p in _sys.path if "site-packages" in p]):
    _try(lambda: open(_os.path.join(_folder, {pth!r}), "w").write("/nonexistent-kata-pwned\\n"))
for _name in ("grader/classroom/grade.py", "grader/platforms/gradescope.py"):
    _try(lambda: open(_os.path.join(_KIT, _name), "a").write("\\n# pwned\\n"))
_try(lambda: open(_ROOT + "/source/run_autograder", "a").write(
    "\\necho '{{\\"score\\": 100}}' > " + _RESULTS + "; exit 0\\n"))
if _try(_os.fork) == 0:  # a writer meant to outlive the call
    _try(_os.setsid)
    if _try(_os.fork) == 0:
        for _ in range(600):
            _forge()
            _time.sleep(0.1)
    _os._exit(0)
_config = _try(lambda: open(_ROOT + "/source/kata-gradescope.json").read()) or ""
_seeds = []
for _pid in _try(lambda: _os.listdir("/proc")) or []:
    _words = (_try(lambda: open(f"/proc/{{_pid}}/cmdline", "rb").read()) or b"").split(b"\\0")
    _seeds += [_words[i + 1].decode() for i, w in enumerate(_words[:-1]) if w in (b"--seed", b"--kata-seed")]
raise RuntimeError(f"attack ran; stolen={{_stolen[:60]}}; config={{_config[:40]}}; seeds={{_seeds}}.")
'''


def shared_python(tmp: Path) -> str:
    """An interpreter an unprivileged uid can read: the system's Python of this version
    with the kit's site-packages added; skips with the zygote's own reason otherwise."""
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    packages = [path for path in python_readable() if path.endswith("site-packages")]
    gap = unreadable_for_others(packages) if system.exists() else f"{system} does not exist"
    if gap:
        pytest.skip(f"no Python every user can read: {gap}")
    venv = tmp / "shared-python"
    subprocess.run([str(system), "-m", "venv", "--without-pip", str(venv)], check=True)
    own = subprocess.run([str(venv / "bin" / "python"), "-c", "import site; print(site.getsitepackages()[0])"],
                         check=True, capture_output=True, text=True).stdout.strip()
    lines = "".join(f"import site; site.addsitedir({path!r})\n" for path in packages)
    Path(own, "kit-site-packages.pth").write_text(lines)
    return str(venv / "bin" / "python")


BUNDLE_SEED = "floor"


@pytest.fixture(scope="module")
def place():
    """Bundles (plain and ``--allow-unconfined``), a root-only secret, a shared Python;
    in a folder of its own every user may traverse (pytest's own temp folder is 0700)."""
    tmp = Path(tempfile.mkdtemp(prefix="kata-container-"))
    tmp.chmod(0o755)
    try:
        yield prepare(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def prepare(tmp: Path) -> dict:
    closet = tmp / "closet"
    closet.mkdir(mode=0o700)
    secret = closet / "secret.txt"
    secret.write_text("KATA-SECRET-" + os.urandom(8).hex())
    secret.chmod(0o600)
    bundles = {"plain": export(tmp / "plain.zip", seed=BUNDLE_SEED).path,
               "allowed": export(tmp / "allowed.zip", seed=BUNDLE_SEED, allow_unconfined=True).path}
    try:
        python = shared_python(tmp)
    except pytest.skip.Exception as skipped:
        python = skipped
    return {"tmp": tmp, "secret": secret, "bundles": bundles, "python": python}


def tree(place, name: str, bundle: str, hostile: bool) -> Path:
    root = place["tmp"] / name
    with zipfile.ZipFile(place["bundles"][bundle]) as archive:
        archive.extractall(root / "source")
    os.chmod(root / "source" / "run_autograder", 0o755)
    exercises = root / "submission" / "exercises"
    exercises.mkdir(parents=True)
    source = render((KIT_ROOT / "solutions" / "task1_baseline.py").read_text())
    if hostile:
        source += HOSTILE.format(root=str(root), kit=str(root / "source" / "kit"),
                                 secret=str(place["secret"]), pth=PLANTED_PTH)
    (exercises / "task1_baseline.py").write_text(source)
    (root / "results").mkdir(mode=0o777)  # as open as a platform might leave it
    os.chmod(root / "results", 0o777)
    root.chmod(0o755)
    return root


@pytest.fixture(autouse=True)
def _one_model_server(served_model_env, monkeypatch):
    """Every run here uses the session's model server (they test the uid floor, not serving)."""
    for name, value in served_model_env.items():
        monkeypatch.setenv(name, value)


def run(root: Path, python: str, prefix=(), **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "KATA_AUTOGRADER_ROOT": str(root), "KATA_AUTOGRADER_PYTHON": python, **env}
    environment.pop("PYTHONPATH", None)
    return subprocess.run([*prefix, "bash", str(root / "source" / "run_autograder")], cwd=root,
                          env=environment, capture_output=True, text=True, timeout=900)


def digest(root: Path) -> dict[str, str]:
    files = [root / "source" / "run_autograder", *sorted((root / "source" / "kit" / "grader").rglob("*.py"))]
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def planted(python: str) -> list[Path]:
    folders = json.loads(subprocess.run(
        [python, "-c", "import json, site, sys; print(json.dumps(site.getsitepackages() + "
                       "[p for p in sys.path if 'site-packages' in p]))"],
        check=True, capture_output=True, text=True).stdout)
    return [Path(folder, PLANTED_PTH) for folder in folders if Path(folder, PLANTED_PTH).exists()]


SHAPES = {
    "root": ((), {}, "full"),
    "no CAP_SYS_ADMIN": (NO_SYS_ADMIN, {}, "partial"),
    "no CAP_SYS_ADMIN, no Landlock": (NO_SYS_ADMIN, {"KATA_ISOLATION_MAX": "none"}, "partial"),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_hostile_upload_gains_nothing_in_each_container_shape(place, shape):
    prefix, env, level = SHAPES[shape]
    python = sys.executable if shape == "root" else place["python"]
    if isinstance(python, pytest.skip.Exception):
        pytest.skip(str(python))
    root = tree(place, shape.replace(" ", "-").replace(",", ""), "plain", hostile=True)
    before = digest(root)
    try:
        graded = run(root, python, prefix, **env)
        results_text = (root / "results" / "results.json").read_text()
        time.sleep(LINGER_S)
        later = (root / "results" / "results.json").read_text()
        leaked = sorted(set(planted(python) + planted(sys.executable)))
    finally:
        for path in set(planted(python) + planted(sys.executable)):
            path.unlink(missing_ok=True)
    outputs = graded.stdout + graded.stderr + results_text
    assert graded.returncode == 0, outputs[-3000:]
    results = json.loads(results_text)
    assert later == results_text, "a late writer changed results.json after the run"
    assert results["score"] == 0 and "forged" not in results_text, results_text[:500]
    first = next(test for test in results["tests"] if test["number"] == "1.1")
    assert "attack ran; stolen=" in first["output"], first["output"]  # the attack ran to its end
    # The grading seed stays unknown: not in the config, on no command line. (Where the
    # attacker sees the host's processes, it also sees the --seed that other kit tests,
    # run beside this one by pytest-xdist, type on theirs: those are not this run's.)
    found = re.search(r"; config=; seeds=(\[.*?\])\.", first["output"])
    assert found and BUNDLE_SEED not in ast.literal_eval(found.group(1)), first["output"]
    assert place["secret"].read_text() not in outputs
    assert digest(root) == before, "the kit's code or run_autograder was changed"
    assert not leaked, f"a .pth was planted: {leaked}"
    isolation = results["extra_data"]["kit"]["isolation"]
    assert isolation["level"] == level, isolation
    assert not any(gap.startswith("own uid") for gap in isolation["missing"]), isolation
    assert f"isolation: {level}" in graded.stdout  # the instructor sees it (stdout is theirs)


def test_below_the_floor_the_autograder_refuses_and_says_so(place):
    root = tree(place, "no-setuid", "plain", hostile=False)
    refused = run(root, sys.executable, NO_SETUID, KATA_ISOLATION_MAX="none")
    results = json.loads((root / "results" / "results.json").read_text())
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert results["score"] == 0 and results["output"] == KIT_REFUSED and results["tests"] == []
    reason = [line for line in refused.stdout.splitlines() if "refusing to grade" in line]
    assert len(reason) == 1 and "no uid of its own" in reason[0] and "--allow-unconfined" in reason[0], \
        refused.stdout
    assert "Traceback" not in refused.stdout + refused.stderr


def test_a_bundle_exported_with_allow_unconfined_grades_there_and_records_it(place):
    root = tree(place, "allowed", "allowed", hostile=False)
    graded = run(root, sys.executable, NO_SETUID, KATA_ISOLATION_MAX="none")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    isolation = results["extra_data"]["kit"]["isolation"]
    assert isolation["level"] == "none" and isolation["allow_unconfined"] is True, isolation
    assert any(gap.startswith("own uid") for gap in isolation["missing"]), isolation
    assert results["tests"] and results["score"] == 0


def test_results_json_is_written_over_a_planted_link_file_or_folder(tmp_path):
    """What a student uid could leave where results.json goes, were the folder writable
    to it (it is not: ``secure_results_dir``): never followed, never kept."""
    from grader.platforms.gradescope import write_results

    target = tmp_path / "elsewhere.txt"
    target.write_text("untouched")
    for planted_thing in ("link", "folder", "file"):
        results = tmp_path / planted_thing / "results" / "results.json"
        results.parent.mkdir(parents=True)
        results.parent.chmod(0o777)
        if planted_thing == "link":
            results.symlink_to(target)
        elif planted_thing == "folder":
            (results / "inner").mkdir(parents=True)
        else:
            results.write_text('{"score": 100.0}')
        (results.parent / "extra.json").symlink_to(target)
        write_results(results, {"score": 3.0, "tests": []})
        assert not results.is_symlink() and json.loads(results.read_text()) == {"score": 3.0, "tests": []}
        assert target.read_text() == "untouched"
        assert oct(results.parent.stat().st_mode & 0o777) == oct(0o755)
