# Attack 10: reach services on the judge's machine: TCP and UDP on 127.0.0.1 (the
# test's listener is on one of CTX["ports"]) and the kit's model server.
import socket as _socket


def _probe():
    got = {}
    hello = f"KATA-ATTACK[{CTX['name']}]\n".encode()
    for port in CTX["ports"]:
        try:
            with _socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
                connection.sendall(hello)
                got[f"tcp {port}"] = "connected"
        except OSError as error:
            got.setdefault("tcp errors", set()).add(error.strerror or repr(error))
        try:
            with _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM) as datagram:
                datagram.sendto(hello, ("127.0.0.1", port))
        except OSError as error:
            got.setdefault("udp errors", set()).add(error.strerror or repr(error))
    url = _os.environ.get("KATA_MODEL_SERVER")
    got["KATA_MODEL_SERVER"] = url
    if url:
        import urllib.request

        try:
            with urllib.request.urlopen(url.rstrip("/") + "/ping", timeout=2) as reply:
                got["model server"] = f"REACHED {url}: HTTP {reply.status}"
        except Exception as error:  # noqa: BLE001
            got["model server"] = f"{type(error).__name__}: {error}"
    return {key: sorted(value) if isinstance(value, set) else value for key, value in got.items()}


def log_baseline_run(data_path, experiment_name="devops-baseline"):
    raise RuntimeError(attack_report(_probe()))
