"""Which Dask scheduler ``kata grade --scheduler ADDRESS|local:N`` grades on, and with which
credentials: the option's value, refused in one line before anything is written when it
cannot be used safely (``check_scheduler_options``), and the TLS credentials
``grader.classroom.dask_pool``'s client reaches the cluster with (``client_security``).
Its own module because these checks run when ``kata grade`` starts, before anything is
written and before any pool exists (``ClassGrader``), and because they are what guards
the cluster.

Nobody else may reach the workers: whoever can talk to a Dask scheduler can run any code
on its workers (and ``local:N``'s scheduler lives in the ``kata grade`` process itself), as
the user they run as, and forge every grade. So ``local:N`` makes its cluster with
temporary TLS credentials only ``kata grade`` and its workers hold (``Security.temporary``:
mutual TLS, in memory), and ``--scheduler ADDRESS`` must be a ``tls://`` address reached
with credentials (``--tls-ca-file``/``--tls-cert``/``--tls-key``, or Dask's configuration);
an unauthenticated one is refused in one line unless ``--insecure-scheduler`` says the
instructor accepts it (``kit.insecure_scheduler`` in results.json then records it).
"""

from __future__ import annotations

import re
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grader.classroom.errors import GradingError
from grader.classroom.options import GradeOptions

if TYPE_CHECKING:
    from distributed.security import Security

INSTALL_HINT = 'pip install "mlflow-kata[cluster]" (in a checkout of the kit: pip install -e ".[cluster]")'
LOCAL_PATTERN = re.compile(r"local:(\d{1,3})")
# [SCHEME://]HOST:PORT, a host a name or an IPv4 address, or an IPv6 one in brackets
ADDRESS_PATTERN = re.compile(
    r"(?:(?P<scheme>[a-z]+)://)?(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9._-]+)):(?P<port>\d{1,5})"
)
SCHEMES = ("tls", "tcp", "wss", "ws", "ucx")  # Dask's network comms (inproc:// is in-process only)
TCP_SCHEMES = ("tls", "tcp", "wss", "ws")  # reached over TCP: probed before anything is written
PROBE_TIMEOUT_S = 5


@dataclass(frozen=True)
class SchedulerSpec:
    """``--scheduler``'s value: a number of local workers, or a scheduler's address."""

    local_workers: int = 0
    address: str = ""

    def __str__(self) -> str:
        return f"local:{self.local_workers}" if self.local_workers else self.address


def parse_scheduler(text: str) -> SchedulerSpec:
    """``local:N`` (1-999 workers) or an address such as ``tls://10.0.0.5:8786``, its
    form checked here (``address_parts``): a typo is one line, not a connection attempt."""
    text = text.strip()
    local = LOCAL_PATTERN.fullmatch(text)
    if local and int(local.group(1)) >= 1:
        return SchedulerSpec(local_workers=int(local.group(1)))
    if text.startswith("local") or not text:
        raise GradingError(
            f"--scheduler {text!r}: use local:N (N workers on this machine, 1-999) "
            "or a Dask scheduler's address such as tls://HOST:8786"
        )
    address_parts(text)
    return SchedulerSpec(address=text)


def address_parts(address: str) -> tuple[str, str, int]:
    """``[SCHEME://]HOST:PORT`` as Dask reads a scheduler's address (no scheme: tcp):
    ``(scheme, host, port)``, or one line saying what is wrong with it."""
    found = ADDRESS_PATTERN.fullmatch(address)
    scheme = (found.group("scheme") if found else address.partition("://")[0] if "://" in address else "") or "tcp"
    if scheme not in SCHEMES:
        why = f"unknown scheme {scheme + '://'!r}, not one of {', '.join(s + '://' for s in SCHEMES)}"
    elif found is None:
        why = form_problem(address.partition("://")[2] if "://" in address else address)
    elif not 1 <= int(found.group("port")) <= 65535:
        why = f"port {found.group('port')} is not 1-65535"
    else:
        return scheme, found.group("v6") or found.group("host"), int(found.group("port"))
    raise GradingError(
        f"--scheduler {address!r}: not a scheduler address ({why}): use tls://HOST:PORT "
        "(a Dask scheduler's, e.g. tls://10.0.0.5:8786) or local:N (N workers on this machine)"
    )


def form_problem(rest: str) -> str:
    """What is wrong with ``HOST:PORT`` (an address without its scheme), said short."""
    if re.match(r"[a-z]+:/(?!/)", rest):
        return "a scheme is followed by ://"
    host, colon, port = rest.rpartition(":")
    if not colon or not port or host.endswith(":") or (rest.startswith("[") and rest.endswith("]")):
        return "no port"
    if not host:
        return "no host"
    if not port.isdigit():
        return f"port {port!r} is not a number"
    return "a host is a name, an IPv4 address or an [IPv6] one"


def check_reachable(spec: SchedulerSpec, security: Security | None = None) -> None:
    """One line when nobody could be reached at ``spec``'s address: its host has no
    address, nothing accepts a connection on its port (Dask would retry for
    ``CONNECT_TIMEOUT_S`` first), or, for ``tls://``, the scheduler's certificate is not
    one ``security``'s CA signed. Opens and closes one connection (with the TLS handshake
    for ``tls://``, so that the scheduler logs no failed handshake), nothing more."""
    scheme, host, port = address_parts(spec.address)
    if scheme not in TCP_SCHEMES:
        return
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise GradingError(f"--scheduler {spec}: cannot find host {host!r} ({reason})") from None
    family, kind, proto, _name, where = found[0]
    context = None
    if scheme == "tls" and security is not None:
        context = security.get_connection_args("client").get("ssl_context")
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.settimeout(PROBE_TIMEOUT_S)
            probe.connect(where)
            if context is not None:
                context.wrap_socket(probe, server_hostname=host if context.check_hostname else None).close()
    except ssl.SSLError as error:
        raise GradingError(
            f"--scheduler {spec}: the TLS handshake failed ({error.reason or error}): were the scheduler's "
            "certificates signed by the CA kata grade was given (--tls-ca-file or Dask's TLS settings)?"
        ) from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise GradingError(
            f"--scheduler {spec}: nothing answers at {host}:{port} ({reason}): start the scheduler first, "
            "or check the address"
        ) from None


def require_dask() -> None:
    """One line (exit 2) naming the extra to install when Dask is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise GradingError(f"--scheduler needs Dask, which is not installed: {INSTALL_HINT}") from None


def tls_flags(options: GradeOptions) -> dict[str, str]:
    """The ``--tls-*`` options given, by their flag."""
    given = {"--tls-ca-file": options.tls_ca_file, "--tls-cert": options.tls_cert, "--tls-key": options.tls_key}
    return {flag: value for flag, value in given.items() if value}


def is_insecure(spec: SchedulerSpec) -> bool:
    """An address whose traffic Dask neither encrypts nor authenticates (tcp://, a bare
    HOST:PORT, ...): anyone who reaches it can run code on its workers."""
    return not spec.local_workers and not spec.address.startswith("tls://")


def check_scheduler_options(options: GradeOptions) -> SchedulerSpec | None:
    """``--scheduler`` and its security options, refused in one line (exit 2) before
    anything is written: a malformed value, Dask missing, an address nobody vouches for,
    unusable credentials, a host nobody answers at. ``local:N`` makes its own credentials, and a run without
    ``--scheduler`` talks to no cluster, so the options that name credentials go only with
    an address (a flag silently ignored would make an instructor believe in a guarantee)."""
    flags = [*tls_flags(options), *(["--insecure-scheduler"] if options.insecure_scheduler else [])]
    if options.scheduler is None:
        if flags:
            raise GradingError(f"{flags[0]} goes with --scheduler ADDRESS (a Dask scheduler's address)")
        return None
    spec = parse_scheduler(options.scheduler)
    require_dask()
    if spec.local_workers:
        if flags:
            raise GradingError(f"{flags[0]}: --scheduler {spec} makes its own TLS credentials for its cluster; drop it")
        try:
            import cryptography  # noqa: F401 - what Security.temporary makes them with
        except ImportError:
            raise GradingError(
                f"--scheduler {spec} makes TLS credentials with cryptography, which is not installed: {INSTALL_HINT}"
            ) from None
        return spec
    check_reachable(spec, client_security(spec, options))
    return spec


def client_security(spec: SchedulerSpec, options: GradeOptions) -> Security | None:
    """The TLS credentials ``kata grade`` (and ``local:N``'s cluster) talk to the cluster
    with; None for an insecure address the instructor accepted (``--insecure-scheduler``).
    A ``tls://`` address needs a CA and a client certificate: from ``--tls-*`` (all three)
    or else Dask's configuration (``distributed.comm.tls.ca-file``, ``.client.cert``,
    ``.client.key``); each file is read here, so a wrong path is one line, not a timeout."""
    from distributed.security import Security

    if spec.local_workers:
        return Security.temporary()  # in memory: held by kata grade and the workers it starts
    if is_insecure(spec):
        if options.insecure_scheduler:
            return None
        raise GradingError(
            f"--scheduler {spec}: not a tls:// address, so anyone who reaches the scheduler "
            "can run code on its workers and forge grades; start it with TLS and pass "
            "tls://HOST:PORT with --tls-ca-file, --tls-cert and --tls-key (see the README), "
            "or add --insecure-scheduler to accept it as it is"
        )
    given = tls_flags(options)
    missing = [flag for flag in ("--tls-ca-file", "--tls-cert", "--tls-key") if given and flag not in given]
    if missing:
        raise GradingError(f"--tls-ca-file, --tls-cert and --tls-key go together: {', '.join(missing)} missing")
    explicit = (
        {"tls_ca_file": options.tls_ca_file, "tls_client_cert": options.tls_cert, "tls_client_key": options.tls_key}
        if given
        else {}
    )  # else Dask's configuration's
    try:  # Dask's TLS settings are read here too (a bad min-version is a ValueError)
        security = Security(require_encryption=True, **explicit)
    except (ImportError, ValueError) as error:
        raise GradingError(f"--scheduler {spec}: cannot use TLS: {error}") from None
    named = given
    if not given:  # Security sets these fields through __slots__: unseen by the type checker
        named = {
            "distributed.comm.tls.ca-file": security.tls_ca_file,  # type: ignore[attr-defined]
            "distributed.comm.tls.client.cert": security.tls_client_cert,  # type: ignore[attr-defined]
            "distributed.comm.tls.client.key": security.tls_client_key,  # type: ignore[attr-defined]
        }
        if not (security.tls_ca_file and security.tls_client_cert):  # type: ignore[attr-defined]
            raise GradingError(
                f"--scheduler {spec}: no TLS credentials to reach it with: pass --tls-ca-file, "
                "--tls-cert and --tls-key, or set Dask's distributed.comm.tls.ca-file, "
                ".client.cert and .client.key"
            )
    for name, value in named.items():
        if value and "\n" not in value and not Path(value).is_file():  # "\n": PEM text, as Dask allows
            raise GradingError(f"{name} {value}: no such file")
    try:
        security.get_connection_args("client")  # reads and checks the CA, certificate and key
    except (OSError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise GradingError(f"--scheduler {spec}: cannot use its TLS credentials: {reason}") from None
    return security
