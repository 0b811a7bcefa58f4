"""The bonus's failure messages quote what a real ``mlflow models serve`` says is wrong
with a request, on one line and whole: MLflow's refusals carry a long migration notice
and echo the request twice before the reason (see ``grader.model_server.refusal_reason``).
The server is the process's shared one (the bonus tests', when run in the same pytest)."""

import pytest

from grader.model_server import REASON_CHARS, refusal_reason
from grader.paths import DATA_PATH


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
