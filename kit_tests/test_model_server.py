"""The bonus's failure messages quote what a real ``mlflow models serve`` says is wrong
with a request, on one line and whole: MLflow's refusals carry a long migration notice
and echo the request twice before the reason (see ``grader.judge.model_server.refusal_reason``).
The server is the process's shared one (the bonus tests', when run in the same pytest)."""

import pytest

from grader.judge.model_server import REASON_CHARS, refusal_reason
from grader.core.paths import DATA_PATH


@pytest.fixture(scope="module")
def rows():
    from labkit import load_split

    return load_split(DATA_PATH).X_test.head(3)


def test_a_body_without_an_input_field_is_told_which_fields_there_are(model_server):
    status, reply = model_server.invoke({})
    reason = refusal_reason(reply)
    assert status == 400
    assert "exactly one of the input fields" in reason and "dataframe_split" in reason
    assert "IMPORTANT" not in reason and "1.30.0" not in reason  # MLflow 2.0's migration notice


def test_records_without_column_names_are_told_the_missing_inputs_not_the_data_echoed(model_server, rows):
    status, reply = model_server.invoke({"dataframe_records": rows.values.tolist()})
    reason = refusal_reason(reply)
    assert status == 400 and "Failed to predict data" in reply["message"]
    assert reason.startswith("Model is missing inputs ['cpu_usage_pct'"), reason
    assert "\n" not in reason and len(reason) <= REASON_CHARS + 2


def test_a_long_reason_is_cut_at_a_sentence_end_and_says_so():
    reason = refusal_reason({"message": "The body is wrong. " * 40})
    assert reason.endswith("wrong. …") and len(reason) <= REASON_CHARS + 2


def test_a_reply_that_is_not_mlflows_json_is_quoted_on_one_line():
    assert refusal_reason("<html>\n  Bad Gateway\n</html>") == "<html> Bad Gateway </html>"


def test_a_flood_of_a_body_is_refused_by_size_or_by_keys_before_it_is_sent(model_server):
    from grader.judge.model_server import MAX_BODY_BYTES, MAX_BODY_KEYS, body_refusal

    many_keys = {f"k{number}": number for number in range(30_000)}  # the 500-KB flood of the attack
    assert body_refusal(many_keys) == {"bytes": len(__import__("json").dumps(many_keys))}
    deep = {"dataframe_split": {"columns": [], "data": [{str(n): 0 for n in range(MAX_BODY_KEYS)}, {"x": 1}]}}
    assert body_refusal(deep)["keys"] > MAX_BODY_KEYS and len(__import__("json").dumps(deep)) < MAX_BODY_BYTES
    assert body_refusal({"dataframe_split": {"columns": ["a"], "data": [[1]]}}) is None
    with pytest.raises(ValueError, match="over its caps"):
        model_server.invoke(many_keys)


def test_a_server_that_died_is_restarted_on_the_same_address_before_the_next_use(model_server, rows):
    import os
    import signal

    from grader.judge.model_server import ModelServer

    if not isinstance(model_server, ModelServer):
        pytest.skip("the model server is another process's ($KATA_MODEL_SERVER)")
    url = model_server.url
    model_server.process.send_signal(signal.SIGKILL)
    model_server.process.wait()
    if not model_server.namespaced:  # its uvicorn children share its session
        with __import__("contextlib").suppress(ProcessLookupError):
            os.killpg(model_server.process.pid, signal.SIGKILL)
    assert not model_server.alive()
    model_server.ensure_alive()
    assert model_server.alive() and model_server.url == url and model_server.restarts >= 1
    status, reply = model_server.invoke({"dataframe_split": rows.to_dict(orient="split", index=False)})
    assert status == 200 and len(reply["predictions"]) == 3


def test_a_server_is_used_only_once_it_answers_with_the_kits_model(model_server, rows):
    """A server named by $KATA_MODEL_SERVER that serves another model (a stale one of an
    older kit) or nothing would fail every bonus as if it were the student's doing: the
    judge checks it first and says which server is wrong."""
    import http.server
    import json
    import threading

    from grader.judge.model_server import ModelServerClient, check_serves_kit_model

    class Stale(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the stdlib's name
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps({"predictions": [1.0, 2.0]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    stale = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stale)
    threading.Thread(target=stale.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{stale.server_address[1]}"
        with pytest.raises(RuntimeError, match=f"the model server at {url} does not serve this kit's model"):
            check_serves_kit_model(ModelServerClient(url))
    finally:
        stale.shutdown()
        stale.server_close()
    with pytest.raises(RuntimeError, match="does not answer"):
        check_serves_kit_model(ModelServerClient(url))
    real = ModelServerClient(model_server.url)
    assert check_serves_kit_model(real) is real


def test_kata_grade_uses_a_server_its_caller_names_and_starts_none(monkeypatch, tmp_path):
    from grader.classroom.serving import start_model_server
    from grader.judge.model_server import SERVER_ENV

    monkeypatch.setenv(SERVER_ENV, "http://127.0.0.1:5999")
    env: dict[str, str] = {}
    assert start_model_server(tmp_path, env) is None  # nothing of its own to stop
    assert env == {SERVER_ENV: "http://127.0.0.1:5999"} and not list(tmp_path.iterdir())


def test_the_served_model_is_saved_once_per_kit_into_the_kits_cache(monkeypatch, tmp_path):
    """A ``kata grade`` process never imports MLflow but to save the served model: it is
    saved once per kit and library versions, and a later run serves the saved one."""
    import grader.judge.seeding
    from grader.judge.model_server import kit_model_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = kit_model_dir()
    assert (first / "MLmodel").is_file() and first.parent == tmp_path / "mlflow-kata"
    assert [path.name for path in first.parent.iterdir()] == [first.name]  # no draft left

    def never(*_):
        raise AssertionError("saved again")

    monkeypatch.setattr(grader.judge.seeding, "save_served_model", never)
    assert kit_model_dir() == first
