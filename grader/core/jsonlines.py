"""The one framing of the kit's three process protocols (the sandbox's zygote, the kata
worker, the warm judge): one JSON object per line, UTF-8, flushed after each message.

A line is read with a cap (``MAX_LINE_BYTES``) so that a peer that never ends its line
cannot make the reader hold unbounded memory; a line that is not one JSON object is a
``ProtocolError`` (one line, for the caller to turn into its own failure), never a
traceback of the reader.
"""

from __future__ import annotations

import json
from typing import IO, Any

MAX_LINE_BYTES = 64 * 1024 * 1024  # results carry a run's messages, never models


class ProtocolError(Exception):
    """A peer sent something that is not one JSON object per line."""


def encode(message: dict[str, Any]) -> str:
    """``message`` as one protocol line (with its newline)."""
    return json.dumps(message, separators=(",", ":")) + "\n"


def decode(line: str | bytes) -> dict[str, Any]:
    """One protocol line as its JSON object; ``ProtocolError`` otherwise."""
    if len(line) > MAX_LINE_BYTES:
        raise ProtocolError(f"a message of {len(line)} bytes (the limit is {MAX_LINE_BYTES})")
    try:
        message = json.loads(line)
    except ValueError as error:
        raise ProtocolError(f"not JSON: {error}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"a JSON {type(message).__name__}, not an object")
    return message


def write(stream: IO[str], message: dict[str, Any]) -> None:
    """Send ``message`` on a text stream and flush it."""
    stream.write(encode(message))
    stream.flush()


def read(stream: IO[str]) -> dict[str, Any] | None:
    """The next message of a text stream, or None at its end."""
    line = stream.readline(MAX_LINE_BYTES + 1)
    if not line:
        return None
    return decode(line)
