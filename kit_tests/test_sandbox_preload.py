"""The sandbox knows nothing of the lab: whoever starts it names the module its zygote
preloads (the judge: ``grader.judge.preload``), and a call starts warm with it."""

import pytest

from grader.sandbox import probes

LOADED = """import sys

def loaded():
    return sorted(name for name in sys.modules if name.split(".")[0] in ("mlflow", "sklearn", "pandas",
                  "labkit") or name.startswith("grader.judge"))
"""


@pytest.fixture
def exercises(tmp_path):
    folder = tmp_path / "exercises"
    folder.mkdir()
    (folder / "loaded.py").write_text(LOADED)
    folder.chmod(0o755)
    return folder


def call_loaded(sandbox, exercises):
    return sandbox.run("call", sandbox.new_dir("loaded"), readable=[exercises], exercises=str(exercises),
                       module="loaded", function="loaded")


def test_a_bare_sandbox_loads_nothing_of_the_lab_and_knows_only_its_own_probes(exercises):
    from grader.sandbox import Sandbox
    from grader.sandbox.client import parse_reply

    with Sandbox() as sandbox:
        result = call_loaded(sandbox, exercises)
        assert result.ok, result.error
        assert result.value == [], result.value
        kit = sandbox.run("kit", sandbox.new_dir("kit"), function="seed_staging")
        assert not kit.ok and "KeyError" in kit.error, kit
        # One framing (grader.core.jsonlines): a line that is not JSON gets a one-line
        # reply, and the zygote keeps serving.
        sandbox._process.stdin.write("not json\n")
        sandbox._process.stdin.flush()
        reply = parse_reply(sandbox._read_line(30))
        assert reply["outcome"] == "sandbox" and "not JSON" in reply["error"], reply
        assert call_loaded(sandbox, exercises).ok


def test_the_judges_sandbox_preloads_the_lab_before_forking_a_call(exercises):
    from grader.judge.preload import shared_sandbox

    sandbox = shared_sandbox()
    assert sandbox.preload == "grader.judge.preload"
    assert shared_sandbox() is sandbox  # the process's one
    result = call_loaded(sandbox, exercises)
    assert result.ok, result.error
    for module in ("mlflow.sklearn", "sklearn.ensemble", "pandas", "labkit", "grader.judge.seeding",
                   "grader.judge.probes"):
        assert module in result.value, f"{module} is not preloaded in the judge's zygote"


def test_a_preload_module_cannot_replace_the_sandboxs_own_probes(monkeypatch):
    import types

    monkeypatch.setattr(probes, "PROBES", dict(probes.PROBES))
    impostor = types.ModuleType("impostor")
    impostor.PROBES = {"self_test": lambda request: {"value": "ok"}}
    with pytest.raises(ValueError, match="self_test"):
        probes.extend(impostor)
