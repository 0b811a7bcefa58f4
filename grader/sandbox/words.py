"""What the sandbox says about a call, as a message id and its parameters.

The child, the zygote and the client describe what went wrong in English (``error``,
for logs) and as ``{"id": …, "params": {…}}`` (``words``): the judge renders the id's
template in the student's language (``grader.judge.calls.checked``), so no English text is parsed
back. The child is untrusted: an id is looked up here (an unknown one is ignored), and
parameters are plain strings, so a reply can pick which known sentence is shown but
never the template it is formatted with.
"""

from __future__ import annotations


def N_(template: str) -> str:
    """Marks a template for the message catalog (``pybabel extract``); translated
    where it is shown, by the judge."""
    return template


MESSAGES = {
    "no_model": N_("returned None instead of a model"),
    "no_predict": N_("returned {object}, which has no predict()"),
    "syntax_error": N_("{file} could not be imported: {error}"),
    "syntax_error_at": N_("{file} could not be imported: {error} (line {line})"),
    "import_crash": N_("{file} crashed while being imported: {error}"),
    "file_missing": N_("FileNotFoundError: {file} is missing from the exercises folder"),
    "no_function": N_("AttributeError: {file} has no function {function}()"),
    "timeout": N_("did not return within the {seconds} s time limit"),
    "memory": N_("MemoryError: the call used more than its {mib} MiB"),
    "cpu_time": N_("the process used up its CPU time limit"),
    "signal": N_("the process was killed by signal {signal} before returning"),
    "exit": N_("the process exited with code {code} before returning (sys.exit or os._exit?)"),
    "server_stopped": N_("the sandbox server stopped; restarted it"),
    "too_large": N_("the result is too large"),
}


# What the child itself may say (its probes). How a call ended — a timeout, memory, a
# signal, an exit, the server restarted — is said by the zygote or
# the client only: words from a child naming one of those are dropped (``from_child``).
CHILD_SAYS = {
    "no_model",
    "no_predict",
    "syntax_error",
    "syntax_error_at",
    "import_crash",
    "file_missing",
    "no_function",
    "too_large",
}
ARTICLES = (N_("an {type}"), N_("a {type}"))  # a ``type`` parameter is shown with one


def said(message_id: str, /, **params) -> dict:
    """``words`` for a reply: the id and its parameters as strings."""
    return {"id": message_id, "params": {name: str(value) for name, value in params.items()}}


def with_words(exception: BaseException, message_id: str, /, **params) -> BaseException:
    """``exception`` (raised by kit code in the child) carrying its ``words`` to the
    reply, its own message their English."""
    words = said(message_id, **params)
    vars(exception)["words"] = words  # any exception class: read back with getattr (sandbox.call)
    exception.args = (english(words).removeprefix(f"{type(exception).__name__}: "),)
    return exception


def from_child(words) -> dict | None:
    """The words a child's reply may carry (see ``CHILD_SAYS``); anything else: None."""
    if isinstance(words, dict) and words.get("id") in CHILD_SAYS:
        return words
    return None


def article(noun: str, translate=N_) -> str:
    """``an ActiveRun``, ``a ModelVersion``, in ``translate``'s language."""
    return translate(ARTICLES[0] if noun[:1].lower() in "aeiou" else ARTICLES[1]).format(type=noun)


def render(words, translate=N_) -> str | None:
    """The words of a reply in ``translate``'s language (English by default); None when
    they are not words the sandbox says (an unknown id, parameters that are not
    strings): the caller shows the reply's ``error`` instead."""
    if not isinstance(words, dict) or words.get("id") not in MESSAGES:
        return None
    params = words.get("params")
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        return None
    params = dict(params)
    if "type" in params:
        params["object"] = article(params.pop("type"), translate)
    try:
        return translate(MESSAGES[words["id"]]).format(**params)
    except (KeyError, IndexError, ValueError):  # parameters missing: not the sandbox's words
        return None


def english(words: dict) -> str:
    """The words in English (the ``error`` text that travels beside them)."""
    return render(words) or ""
