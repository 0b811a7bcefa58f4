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


OWN_STORE = '''import os
import mlflow
from mlflow import MlflowClient


def through_a_client():
    return MlflowClient(registry_uri="sqlite:///registry.db").search_registered_models()


def through_the_environment():
    os.environ["MLFLOW_TRACKING_URI"] = "sqlite:///mine.db"
    return len(mlflow.search_experiments())


def caught_and_returned():
    mlflow.set_tracking_uri("http://127.0.0.1:5000")
    try:
        mlflow.search_experiments()
    except Exception as error:
        return type(error).__name__


def the_calls_own_store_again():
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    os.environ["MLFLOW_REGISTRY_URI"] = mlflow.get_registry_uri()
    return [len(mlflow.search_experiments()), len(MlflowClient().search_registered_models())]
'''


@pytest.mark.parametrize("function, expected", [
    ("through_a_client", {"what": "registry", "uri": "sqlite:///registry.db",
                          "call": "MlflowClient(registry_uri='sqlite:///registry.db')",
                          "file": "own_store.py", "line": "7"}),
    ("through_the_environment", {"what": "tracking", "uri": "sqlite:///mine.db",
                                 "call": "os.environ['MLFLOW_TRACKING_URI'] = 'sqlite:///mine.db'"}),
    ("caught_and_returned", {"what": "tracking", "uri": "http://127.0.0.1:5000",
                             "call": "mlflow.set_tracking_uri('http://127.0.0.1:5000')",
                             "file": "own_store.py", "line": "16"}),
    ("the_calls_own_store_again", None),
])
def test_a_store_the_students_code_chooses_is_refused_at_once_and_noted(tmp_path, function, expected):
    """``grader.judge.probes.guard_store``: the first use of a store other than the call's
    is noted (what chose it, where) and raised there, before MLflow opens it or asks a
    server (no retries until the time limit); the note travels whether or not the code
    caught the exception. Setting the call's own store again is no choice at all."""
    from grader.judge.preload import shared_sandbox
    from grader.judge.store import new_store

    exercises = tmp_path / "exercises"
    exercises.mkdir()
    (exercises / "own_store.py").write_text(OWN_STORE)
    exercises.chmod(0o755)
    sandbox = shared_sandbox()
    folder = sandbox.new_dir("own-store")
    uri = new_store(folder / "store")
    (folder / "work").mkdir()
    sandbox.hand_over(folder)
    result = sandbox.run("call", folder / "work", {"MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri},
                         writable=[folder], readable=[exercises], exercises=str(exercises),
                         module="own_store", function=function)
    assert result.duration_s < 10, result
    assert (result.notes or {}).get("own_store") == expected, result
    if function == "caught_and_returned":
        assert result.ok and result.value == "StoreElsewhere", result
    elif expected is None:
        assert result.ok and result.value == [1, 0], result
    else:
        assert result.kind == "raised" and "StoreElsewhere" in result.error, result
    assert sorted(path.name for path in (folder / "work").iterdir()) == []  # no store of its own made
