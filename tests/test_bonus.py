"""Bonus — serving: ``build_request(rows)`` and ``parse_predictions(response_json)``.

The tests talk to a real ``mlflow models serve --env-manager local`` on 127.0.0.1
(one per session). Bonus TODOs are reported but never counted in the score.
Run: ``pytest tests/test_bonus.py``.
"""

import pytest

from grader.judge.calls import KitError
from grader.core.i18n import _
from grader.judge.model_server import MAX_BODY_BYTES, MAX_BODY_KEYS, body_refusal, refusal_reason
from grader.core.paths import DATA_PATH


def random_rows(case):
    """1–8 random rows of features, as a student would send them."""
    from labkit import load_split

    X_test = load_split(DATA_PATH).X_test
    return X_test.sample(n=case.rng.randrange(1, 9), random_state=case.rng.randrange(2**31))


def served_predictions(rows):
    """What the served model (the kit's LinearRegression on the full split) predicts."""
    from grader.judge.oracle import fitted

    return fitted("LinearRegression", DATA_PATH).predict(rows).tolist()


@pytest.mark.todo("B.1")
def test_the_request_body_is_accepted_by_a_real_server(case, model_server):
    rows = random_rows(case)
    body = case.call_with_frame("build_request", rows)
    case.expect(isinstance(body, dict), _("expected a dict to send as the JSON body, but got "
                                          "{value}").format(value=repr(body)))
    too_big = body_refusal(body)  # the server is the whole class's: the kit never sends a flood
    case.expect(too_big is None, _("expected a body for {n} rows (a few hundred bytes), but it has {size}: "
                                   "the kit sends at most {max_bytes} bytes and {max_keys} keys").format(
        n=len(rows), size=_("{bytes} bytes").format(**too_big) if too_big and "bytes" in too_big
        else _("{keys} keys").format(keys=(too_big or {}).get("keys")),
        max_bytes=MAX_BODY_BYTES, max_keys=MAX_BODY_KEYS))
    status, reply = model_server.invoke(body)
    sent = " " + _("(the body sent has the keys {keys})").format(keys=list(body))  # MLflow's reply may not say
    case.expect(status == 200, _("expected the server to accept the body (HTTP 200), but it answered "
                                 "{status}: {reply}").format(status=status, reply=refusal_reason(reply)) + sent)
    predictions = reply.get("predictions") if isinstance(reply, dict) else None
    case.expect(predictions == pytest.approx(served_predictions(rows), rel=1e-6),
                _("expected predictions for the {n} rows sent, but the server returned "
                  "{predictions}").format(n=len(rows), predictions=predictions))


@pytest.mark.todo("B.2")
def test_the_servers_reply_is_parsed_into_predictions(case, model_server):
    rows = random_rows(case)
    status, reply = model_server.predict_rows(rows)  # the kit's own request: not B.1's body
    if status != 200:
        raise KitError(_("the server refused the kit's own request ({status}): {reply}").format(
            status=status, reply=refusal_reason(reply)))
    parsed = case.call("parse_predictions", reply)
    expected = served_predictions(rows)  # what the served model predicts, not read from the reply
    if not (isinstance(parsed, list) and parsed == pytest.approx(expected, rel=1e-6)):
        note = (" " + _("(the whole reply: the predictions are under its key 'predictions')")
                if parsed == reply else "")
        case.fail(_("expected the list {expected} from the reply {reply}, but got {value}").format(
            expected=expected, reply=reply, value=repr(parsed)) + note)
