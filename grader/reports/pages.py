"""What every HTML page the kit writes shares (the class report, the similarity pages):
one Jinja environment with autoescape on (student text is untrusted), our CSS and JS
read from ``grader/reports/templates`` to be inlined, and a Content-Security-Policy that allows
only those inline assets, by their sha256: a page runs nothing else and fetches nothing."""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from importlib import resources

import jinja2


def csp(css: str, js: str | None = None) -> str:
    """The policy of a page whose only style is ``css`` and only script ``js`` (or none)."""

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    script = f"script-src {digest(js)}; " if js is not None else ""
    return f"default-src 'none'; style-src {digest(css)}; {script}img-src data:; base-uri 'none'; form-action 'none'"


@cache
def asset(name: str) -> str:
    return resources.files("grader.reports").joinpath("templates", name).read_text(encoding="utf-8")


@cache
def environment() -> jinja2.Environment:
    # autoescape=True, not select_autoescape(): the templates' names end in ".j2".
    return jinja2.Environment(
        loader=jinja2.PackageLoader("grader.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
