"""The student's language for every student-facing string of the kit's code.

Strings are written in English in the code, wrapped in ``_()`` (``ngettext`` for
plurals). Each other language is one gettext catalog,
``grader/locale/<lang>/LC_MESSAGES/kata.po``, read at run time with Babel: a catalog
added there is a new language, with no code to change (README, "Developing the kit").
TODO titles and hints are not here: they live in ``grader/lab/todos.toml``.

Which language (``choose``): ``--lang`` (``kata``) or ``--kata-lang`` (``pytest``), else
``$KATA_LANG``, else the locale (``$LC_ALL``, ``$LC_MESSAGES``, ``$LANG``: the first one
set), else none. A language without a catalog means English. With none (no option, no
``KATA_LANG``, a ``C``/``POSIX`` locale, as in most containers and CI runners), messages
are English and a failure shows its hint in every language of ``grader/lab/todos.toml``.

The chosen language is the process's *current* one (``set_language``, ``use``): one
``pytest`` session sets it from ``--kata-lang`` for its duration, so the warm judge,
which runs one session per request, speaks each request's language.
"""

from __future__ import annotations

import contextlib
import gettext
import io
import os
from collections.abc import Iterator
from pathlib import Path

DOMAIN = "kata"
LOCALE_DIR = Path(__file__).parents[1] / "locale"
SOURCE = "en"  # the language of the msgids
HINT_LANGUAGES = ("en", "es")  # the languages grader/lab/todos.toml holds hints in
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")  # POSIX precedence
LANG_ENV = "KATA_LANG"
NO_LANGUAGE = ("", "c", "posix")  # locales that name no language

_current = ""  # "" = none chosen: English, hints in every language
_catalogs: dict[str, tuple[int, gettext.NullTranslations]] = {}


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def languages() -> tuple[str, ...]:
    """English and every language with a catalog, e.g. ``("en", "es")``."""
    found = sorted(path.parent.parent.name for path in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (SOURCE, *[lang for lang in found if lang != SOURCE])


def known(value: str | None) -> str | None:
    """The language ``value`` names (``es``, ``es_ES.UTF-8``, ``es-ES``, ``ES``), when the
    kit speaks it: its code; English for any other language; None for no language."""
    text = (value or "").strip().split(".")[0].split("@")[0].replace("-", "_")
    if text.lower() in NO_LANGUAGE:
        return None
    available = {lang.lower(): lang for lang in languages()}
    for candidate in (text.lower(), text.split("_")[0].lower()):
        if candidate in available:
            return available[candidate]
    return SOURCE


def from_locale(environ=None) -> str | None:
    """The locale's language (``known``), from the first of ``LC_ALL``, ``LC_MESSAGES``,
    ``LANG`` that is set; None when it names none."""
    environ = os.environ if environ is None else environ
    for name in LOCALE_VARIABLES:
        if environ.get(name):
            return known(environ[name])
    return None


def choose(explicit: str | None = None, environ=None) -> str:
    """The language: ``explicit`` (an option), else ``$KATA_LANG``, else the locale; ``""``
    when none of them names one (see the module docstring)."""
    environ = os.environ if environ is None else environ
    for value in (explicit, environ.get(LANG_ENV)):
        if value:
            return known(value) or ""
    return from_locale(environ) or ""


def option_value(value: str) -> str:
    """``--lang``/``--kata-lang``'s type: a language with a catalog, or ``""`` (none)."""
    import argparse

    if value and value not in languages():
        raise argparse.ArgumentTypeError(f"unknown language {value!r}; the kit speaks {', '.join(languages())}")
    return value


# -- the current language ----------------------------------------------------------------
def language() -> str:
    """The current language: a code, or ``""`` when none was chosen."""
    return _current


def set_language(lang: str | None) -> str:
    """Make ``lang`` current (``""``/None: none chosen); return the previous one."""
    global _current
    previous, _current = _current, lang or ""
    return previous


@contextlib.contextmanager
def use(lang: str | None) -> Iterator[None]:
    """``lang`` is current inside the block."""
    previous = set_language(lang)
    try:
        yield
    finally:
        set_language(previous)


def hint_languages() -> tuple[str, ...]:
    """The languages a hint is shown in: the current one, or every hint language."""
    return (_current,) if _current else HINT_LANGUAGES


# -- catalogs ----------------------------------------------------------------------------
def translations(lang: str) -> gettext.NullTranslations:
    """``lang``'s catalog (English: none), read from its ``.po`` and kept while the file
    is unchanged. Fuzzy entries are left out; a missing catalog, or no Babel, is English."""
    path = catalog_path(lang)
    try:
        stamp = path.stat().st_mtime_ns if lang != SOURCE else 0
    except OSError:
        stamp = -1
    cached = _catalogs.get(lang)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    result = gettext.NullTranslations()
    if stamp > 0:
        try:
            from babel.messages.mofile import write_mo
            from babel.messages.pofile import read_po

            with open(path, "rb") as handle:
                catalog = read_po(handle, locale=lang, domain=DOMAIN)
            buffer = io.BytesIO()
            write_mo(buffer, catalog, use_fuzzy=False)
            buffer.seek(0)
            result = gettext.GNUTranslations(buffer)
        except (ImportError, OSError, ValueError):
            result = gettext.NullTranslations()
    _catalogs[lang] = (stamp, result)
    return result


def _(message: str) -> str:
    """``message`` in the current language."""
    return translations(_current).gettext(message) if _current not in ("", SOURCE) else message


def ngettext(singular: str, plural: str, n: int) -> str:
    """``singular`` or ``plural`` (by ``n``) in the current language."""
    if _current in ("", SOURCE):
        return singular if n == 1 else plural
    return translations(_current).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks ``message`` for the catalog where it is not translated yet (a table)."""
    return message
