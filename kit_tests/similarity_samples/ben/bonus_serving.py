"""Bonus — Serving the model over REST.

Start a server for your staging model, then talk to it:

    mlflow models serve -m "models:/devops-response-time@staging" --env-manager local -p 5001

Bonus — Servir el modelo por REST. Arranca un servidor para tu modelo en staging
(la orden de arriba) y comunícate con él.

Check your work / Comprueba tu trabajo:  pytest tests/test_bonus.py
"""


def build_request(rows):
    """The JSON body of ``POST /invocations`` for a DataFrame of feature rows."""
    payload = {
        "columns": [str(column) for column in rows.columns],
        "data": rows.values.tolist(),
    }
    return {"dataframe_split": payload}


def parse_predictions(response_json):
    """The list of predictions in the server's JSON reply."""
    predictions = response_json.get("predictions", response_json) if isinstance(response_json, dict) else response_json
    result = []
    for item in predictions:
        if isinstance(item, dict):
            item = next(iter(item.values()))
        result.append(float(item))
    return result
