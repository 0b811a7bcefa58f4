"""Bonus — Serving the model over REST.

Start a server for your staging model, then talk to it:

    mlflow models serve -m "models:/devops-response-time@staging" --env-manager local -p 5001

Bonus — Servir el modelo por REST. Arranca un servidor para tu modelo en staging
(la orden de arriba) y comunícate con él.

Check your work / Comprueba tu trabajo:  pytest tests/test_bonus.py
"""


def build_request(rows):
    """The JSON body of ``POST /invocations`` for a DataFrame of feature rows.

    ES: El cuerpo JSON de ``POST /invocations`` para un DataFrame de filas de
    variables.
    """
    # TODO B.1: Build the JSON body for POST /invocations from the DataFrame `rows` (the
    #     "dataframe_split" format).
    #   ES: Construye el cuerpo JSON para POST /invocations a partir del DataFrame
    #     `rows` (el formato "dataframe_split").
    return {}


def parse_predictions(response_json):
    """The list of predictions in the server's JSON reply.

    ES: La lista de predicciones de la respuesta JSON del servidor.
    """
    # TODO B.2: Turn the server's JSON reply into a list of floats.
    #   ES: Convierte la respuesta JSON del servidor en una lista de números.
    return []
