"""Bonus — Serving the model over REST.

Start a server for your staging model, then talk to it:

    mlflow models serve -m "models:/devops-response-time@staging" --env-manager local -p 5001

Bonus — Servir el modelo por REST. Arranca un servidor para tu modelo en staging
(la orden de arriba) y comunícate con él.

Check your work / Comprueba tu trabajo:  pytest tests/test_bonus.py
"""


def build_request(rows):
    """The JSON body of ``POST /invocations`` for a DataFrame of feature rows."""
    return dict(dataframe_split=dict(columns=list(rows.columns), data=rows.to_numpy().tolist()))


def parse_predictions(response_json):
    """The list of predictions in the server's JSON reply."""
    return [float(value) for value in response_json.get("predictions", [])]
