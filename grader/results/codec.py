"""results.json, read and written in one place: the typed model (``grader.results.model``)
on one side, the text on the other, ``results.schema.json`` checked in between.

* ``dumps``: a ``ClassResults`` as results.json's text (UTF-8 kept, indent 2, a final
  newline), refused with ``ResultsError`` if it breaks the schema: a file the kit writes
  is one every reader of the schema accepts.
* ``loads``/``load``: results.json's text or file as a ``ClassResults`` with the file's own
  TODO table. Refused with ``ResultsError``, in one line naming where and what, unless it
  is strict JSON (no ``NaN``), matches the schema, gives every submission its own id, and
  records for each the score its TODOs give under that table.
* ``validate``: the schema check alone, on parsed JSON.

The schema is checked with the ``jsonschema`` package, imported where it is used: the
student kit ships this wing (its verbs use the model) but never reads or writes
results.json, so it does not need the package.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.results.model import ClassResults, score

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

SCHEMA_FILE = Path(__file__).with_name("results.schema.json")
_SHOWN = 60  # characters of a refused value a message quotes
_KINDS = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


class ResultsError(ValueError):
    """Not a valid ``results.json`` (or a class that would not make one); the message is one line."""


def dumps(results: ClassResults) -> str:
    """``results`` as results.json's text; ``ResultsError`` if it breaks the schema."""
    data = results.to_json()
    try:
        validate(data)
    except ResultsError as error:
        raise ResultsError(f"the kit would write an invalid results.json: {error}") from None
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def load(path: str | Path) -> ClassResults:
    """Read the ``results.json`` at ``path`` (see ``loads``); its path begins every message."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ResultsError(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise ResultsError(f"{path}: {error.strerror or error}") from None
    return loads(text, source=str(path))


def loads(text: str, source: str = "results.json") -> ClassResults:
    """results.json's text as a ``ClassResults``; ``ResultsError`` (one line, beginning
    with ``source``) for anything that is not one."""
    try:
        data = json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError as error:
        raise ResultsError(f"{source}: not JSON ({error.msg}, line {error.lineno} column {error.colno})") from None
    except ValueError as error:  # NaN, Infinity: Python's extension, not JSON
        raise ResultsError(f"{source}: not JSON ({error})") from None
    try:
        validate(data)
    except ResultsError as error:
        raise ResultsError(f"{source}: not a kata results.json: {error}") from None
    results = ClassResults.from_json(data)
    seen: set[str] = set()
    for sub, raw in zip(results.submissions, data["submissions"]):
        if sub.id in seen:
            raise ResultsError(f"{source}: submission id {sub.id!r} appears twice")
        seen.add(sub.id)
        earned, available = score(sub.todos, results.todos)
        if (raw["score"], raw["max_score"]) != (earned, available):
            raise ResultsError(
                f"{source}: submission {sub.id!r} records {raw['score']}/{raw['max_score']} "
                f"but its TODOs give {earned}/{available}"
            )
    return results


def validate(data: Any) -> None:
    """``ResultsError`` naming the first place where ``data`` breaks ``results.schema.json``."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(data))
    if error is not None:
        raise ResultsError(_one_line(error))


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not a JSON number")


@cache
def _validator():
    """The schema's validator. Its ``integer`` is a JSON number without a fraction part as
    written (``3``, not ``3.0``): what the kit writes, and what the model keeps as an int."""
    import jsonschema

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    base = jsonschema.validators.validator_for(schema)
    base.check_schema(schema)
    strict = base.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    )
    return jsonschema.validators.extend(base, type_checker=strict)(schema)


def _one_line(error: ValidationError) -> str:
    """``where: what`` (``submissions[0].todos['1.1']: 'done' is not one of …``), or just
    ``what`` at the top; refused values quoted short, with control characters escaped."""
    where = ""
    for key in error.absolute_path:
        if isinstance(key, int):
            where += f"[{key}]"
        elif key.isidentifier():
            where += f".{key}" if where else key
        else:
            where += f"[{_shown(key)}]"
    value, rule = error.instance, error.validator_value
    if error.validator == "required":
        missing = [key for key in rule if isinstance(value, dict) and key not in value]
        what = f"no {missing[0]!r}" if missing else error.message
    elif error.validator == "type":
        kinds = [rule] if isinstance(rule, str) else rule
        wanted = " or ".join(_KINDS.get(kind, kind) for kind in kinds)
        what = (
            f"{_json_kind(value)}, not {wanted}"
            if isinstance(value, (dict, list))
            else f"{_shown(value)} is {_json_kind(value)}, not {wanted}"
        )
    elif error.validator == "enum":
        what = f"{_shown(value)} is not one of {', '.join(map(repr, rule))}"
    elif error.validator == "const":
        what = f"{_shown(value)} is not {rule!r}"
    elif error.validator == "pattern":
        what = f"{_shown(value)} does not match {rule}"
    elif error.validator == "minimum":
        what = f"{_shown(value)} is less than {rule}"
    else:
        what = " ".join(error.message.split())
    return f"{where}: {what}" if where else what


def _json_kind(value: object) -> str:
    """What JSON calls ``value``'s type, as a message says it: ``a list``, ``true or false``…"""
    for kind, python in (
        ("boolean", bool),
        ("integer", int),
        ("number", float),
        ("string", str),
        ("array", list),
        ("object", dict),
    ):
        if isinstance(value, python):
            return "a boolean" if kind == "boolean" else _KINDS[kind]
    return _KINDS["null"]


def _shown(value: object) -> str:
    """A value as a message quotes it: its repr (control characters escaped), cut short."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
