"""Every student-facing string of the kit's code in English and Spanish: the catalog is
complete, the language is chosen in a documented order, failure messages (cold and
through the warm judge) speak the chosen language, and the Spanish glossary keeps
*log* and *register* apart."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from grader.core import i18n
from grader.core.paths import EXERCISES_DIR, KIT_ROOT, PYTEST_INI, TESTS_DIR

PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def code_messages() -> dict:
    """Every msgid the code marks (``_``, ``ngettext``, ``N_``), found as ``pybabel
    extract`` finds them, with the kit's mapping file."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with open(i18n.LOCALE_DIR / "babel.cfg") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = {}
    for folder in ("grader", "tests"):
        for filename, _lineno, message, _comments, _context in extract_from_dir(
                KIT_ROOT / folder, method_map, options_map):
            found[message] = f"{folder}/{filename}"
    return found


def read_catalog(path):
    from babel.messages.pofile import read_po

    with open(path, "rb") as handle:
        return read_po(handle)


# -- the catalog ---------------------------------------------------------------------------
def test_every_message_of_the_code_is_translated_in_every_catalog_and_none_is_fuzzy():
    messages = code_messages()
    assert len(messages) > 80  # the tests' messages, the plugin's, case's, check's
    assert i18n.languages()[0] == "en" and "es" in i18n.languages()
    for lang in i18n.languages()[1:]:
        catalog = read_catalog(i18n.catalog_path(lang))
        problems = []
        for message, where in messages.items():
            key = message if isinstance(message, str) else message[0]
            entry = catalog.get(key)
            strings = [] if entry is None else (
                [entry.string] if isinstance(entry.string, str) else list(entry.string))
            if entry is None or entry.fuzzy or not all(strings):
                problems.append(f"{where}: {key!r} is {'fuzzy' if entry and entry.fuzzy else 'untranslated'}")
                continue
            wanted = sorted(PLACEHOLDER.findall(key if isinstance(message, str) else message[-1]))
            for string in strings:
                if sorted(PLACEHOLDER.findall(string)) != wanted:
                    problems.append(f"{where}: {key!r} -> {string!r}: placeholders differ")
        assert not problems, f"{lang}: " + "\n".join(problems)
        assert not [entry.id for entry in catalog if entry.id and entry.fuzzy]


def test_the_template_holds_every_message_of_the_code():
    template = {entry.id if isinstance(entry.id, str) else entry.id[0]
                for entry in read_catalog(i18n.LOCALE_DIR / "kata.pot") if entry.id}
    missing = {m if isinstance(m, str) else m[0] for m in code_messages()} - template
    assert not missing, f"run pybabel extract (README, 'Developing the kit'): {sorted(missing)}"


def test_a_catalog_is_read_at_run_time_fuzzy_entries_left_out(tmp_path, monkeypatch):
    folder = tmp_path / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "kata.po").write_text(
        'msgid ""\nmsgstr ""\n"Language: fr\\n"\n"Plural-Forms: nplurals=2; plural=(n > 1);\\n"\n\n'
        'msgid "Hint"\nmsgstr "Indice"\n\n#, fuzzy\nmsgid "Score"\nmsgstr "Sc0re"\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    assert i18n.languages() == ("en", "fr")  # a new language without touching code
    with i18n.use("fr"):
        assert i18n._("Hint") == "Indice"
        assert i18n._("Score") == "Score"  # fuzzy: not trusted, English
        assert i18n._("what") == "what"  # untranslated: English


# -- the glossary ---------------------------------------------------------------------------
def test_spanish_tells_logging_from_registering_and_lists_the_glossary():
    catalog = read_catalog(i18n.catalog_path("es"))
    header = catalog.header_comment
    assert "anotar" in header and "registrar en el Model Registry" in header
    for entry in catalog:
        if not entry.id:
            continue
        english = entry.id if isinstance(entry.id, str) else " ".join(entry.id)
        spanish = entry.string if isinstance(entry.string, str) else " ".join(entry.string)
        if re.search(r"\blog(s|ged|ging)?\b", english, re.I):
            assert "registr" not in spanish.lower(), (english, spanish)
            assert "anot" in spanish.lower(), (english, spanish)
        if "registr" in spanish.lower():
            assert "Registry" in english or "regist" in english.lower(), (english, spanish)


# -- which language -----------------------------------------------------------------------
@pytest.mark.parametrize("explicit,environ,expected", [
    ("es", {"KATA_LANG": "en", "LANG": "en_US.UTF-8"}, "es"),  # the option first
    (None, {"KATA_LANG": "es", "LC_ALL": "en_US.UTF-8"}, "es"),  # then KATA_LANG
    (None, {"LC_ALL": "es_MX.UTF-8", "LC_MESSAGES": "en_US", "LANG": "en_US"}, "es"),  # LC_ALL
    (None, {"LC_MESSAGES": "es_ES", "LANG": "en_GB.UTF-8"}, "es"),  # then LC_MESSAGES
    (None, {"LANG": "es_AR.UTF-8"}, "es"),  # then LANG
    (None, {"LANG": "en_US.UTF-8"}, "en"),
    (None, {"LANG": "de_DE.UTF-8"}, "en"),  # a language the kit does not speak: English
    (None, {"KATA_LANG": "ES"}, "es"),
    (None, {"LANG": "C.UTF-8"}, ""),  # no language: English, hints in both
    (None, {"LC_ALL": "POSIX", "LANG": "es_ES.UTF-8"}, ""),  # LC_ALL wins, and names none
    (None, {}, ""),
])
def test_the_language_is_the_option_then_kata_lang_then_the_locale(explicit, environ, expected):
    assert i18n.choose(explicit, environ) == expected


def test_kata_verbs_default_to_the_same_choice_and_grade_to_english(monkeypatch):
    from grader.student.check import default_lang
    from grader.cli.main import build_parser

    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "KATA_LANG"):
        monkeypatch.delenv(name, raising=False)
    assert default_lang() == "en"
    monkeypatch.setenv("LANG", "es_ES.UTF-8")
    assert default_lang() == "es"
    monkeypatch.setenv("KATA_LANG", "en")
    assert default_lang() == "en"
    assert build_parser().parse_args(["grade", "class", "--out", "out"]).lang == "en"
    assert build_parser().parse_args(["grade", "class", "--out", "out", "--lang", "es"]).lang == "es"
    assert build_parser().parse_args(["check", "--lang", "es"]).lang == "es"


def test_kata_grade_in_spanish_gives_a_broken_submissions_reason_and_notes_in_spanish(tmp_path):
    """The reasons of broken submissions are read by students (a gradebook comment, the
    report): ``--lang es`` says them in Spanish like the verdicts; the default stays English.
    A class with nothing gradable is graded without any worker."""
    import json

    from grader.classroom.grade import GradeOptions, grade

    submissions = tmp_path / "sub"
    (submissions / "empty").mkdir(parents=True)
    (submissions / "packed.tar").write_bytes(b"not graded")
    reasons = {}
    for lang in ("es", "en"):
        out = tmp_path / lang
        grade(GradeOptions(submissions, out, 1, 5, logs=False, lang=lang))
        results = json.loads((out / "results.json").read_text())
        reasons[lang] = {s["id"]: s["message"] for s in results["submissions"]}
    assert reasons["es"] == {"empty": "carpeta de entrega vacía",
                             "packed.tar": "no es una carpeta ni un .zip: packed.tar es un archivo tar; sube un .zip"}
    assert reasons["en"] == {"empty": "empty submission folder",
                             "packed.tar": "not a folder or a .zip: packed.tar is a tar archive; upload a .zip"}
    assert i18n.language() == i18n.choose()  # the process's language is given back


def test_kata_hint_in_spanish_shows_the_todos_spanish_title(tmp_path, capsys):
    import grader.cli.main as cli

    exercises = tmp_path / "exercises"
    exercises.mkdir()
    assert cli.main(["hint", "1.2", "--lang", "es", "--exercises", str(exercises)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("TODO 1.2 — Ejecución llamada baseline, terminada, id devuelto — pista "), first
    assert i18n.language() == i18n.choose()  # the process's language is given back


# -- messages, cold and warm ---------------------------------------------------------------
class Failures:
    """A pytest plugin object: each failed test's full text."""

    def __init__(self):
        self.texts: dict[str, str] = {}

    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.texts[report.nodeid.rpartition("::")[2]] = report.longreprtext


STUB_TEST = "test_the_run_has_params_model_type_and_random_state"  # 1.3, on the stubs


def stub_failure(*options: str) -> str:
    failures = Failures()
    pytest.main([f"{TESTS_DIR / 'test_task1.py'}::{STUB_TEST}", "--exercises", str(EXERCISES_DIR),
                 "-p", "no:cacheprovider", "-q", "--rootdir", str(KIT_ROOT), "-c", str(PYTEST_INI),
                 *options], plugins=[failures])
    return failures.texts[STUB_TEST]


def test_a_stub_fails_in_the_chosen_language_naming_the_todo_it_waits_for():
    before = i18n.language()
    spanish = stub_failure("--kata-lang", "es").splitlines()
    assert spanish[0].startswith("TODO 1.3: se esperaban los parámetros ")
    assert "MLflow aún no guarda ninguna ejecución: la inicia el TODO 1.2" in spanish[0]
    assert spanish[1].startswith("  Pista del TODO 1.2: ") and "nullcontext" in spanish[1]
    assert not any(line.lstrip().startswith("Hint") for line in spanish)
    english = stub_failure("--kata-lang", "en").splitlines()
    assert english[0].startswith("TODO 1.3: expected params ")
    assert "MLflow holds no run yet: TODO 1.2 starts it" in english[0]
    assert english[1].startswith("  Hint for TODO 1.2: ")
    assert not any("Pista" in line for line in english)
    both = stub_failure("--kata-lang=").splitlines()  # no language: English, hints in both
    assert both[0] == english[0]
    assert both[1].startswith("  Hint for TODO 1.2: ") and both[2].startswith("  Pista del TODO 1.2: ")
    assert i18n.language() == before  # the session gave the process its language back


def test_where_student_code_raised_is_said_in_the_chosen_language(tmp_path):
    """"(task1_baseline.py, line 50)" was copied from Python's traceback: "línea" in Spanish."""
    from grader.authoring.stubgen import render

    exercises = tmp_path / "exercises"
    exercises.mkdir()
    solution = render((KIT_ROOT / "solutions" / "task1_baseline.py").read_text(), stub_ids=())
    typo = solution.replace("mlflow.log_metric(", "mlflow.log_metrc(", 1)
    assert typo != solution
    (exercises / "task1_baseline.py").write_text(typo)
    line = next(number for number, text in enumerate(typo.splitlines(), 1) if "log_metrc" in text)
    failures = Failures()
    test = "test_the_run_has_the_held_out_metrics"
    pytest.main([f"{TESTS_DIR / 'test_task1.py'}::{test}", "--exercises", str(exercises), "--kata-lang", "es",
                 "-p", "no:cacheprovider", "-q", "--rootdir", str(KIT_ROOT), "-c", str(PYTEST_INI)],
                plugins=[failures])
    assert f"(task1_baseline.py, línea {line})" in failures.texts[test] or \
        f"en task1_baseline.py, línea {line}:" in failures.texts[test], failures.texts[test]


def test_the_warm_judge_speaks_each_requests_language(tmp_path):
    """One judge, runs with different languages and locales: each in its own (the
    judge's environment is fixed when it starts; the language travels per request)."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "KATA_WARM_IDLE_S": "120",
           "KATA_WARM": "1", "LANG": "C.UTF-8"}
    env.pop("LC_ALL", None)
    env.pop("LC_MESSAGES", None)

    def student_pytest(**variables: str) -> str:
        run = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), "pytest"),
             f"tests/test_task1.py::{STUB_TEST}", "-p", "no:cacheprovider"],
            cwd=KIT_ROOT, capture_output=True, text=True, timeout=600, env={**env, **variables})
        assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
        return run.stdout

    try:
        spanish = student_pytest(KATA_LANG="es")
        english = student_pytest(KATA_LANG="en")
        spanish_again = student_pytest(LANG="es_ES.UTF-8")  # another locale: still the same judge
    finally:
        pids = judge_pids(runtime)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert len(pids) == 1  # one judge answered all three, whatever their locale
    assert "TODO 1.3: se esperaban los parámetros" in spanish and "Pista del TODO 1.2" in spanish
    assert "TODO 1.3: expected params" in english and "Pista" not in english
    assert "TODO 1.3: se esperaban los parámetros" in spanish_again


def judge_pids(runtime) -> list[int]:
    folder = runtime / f"mlflow-kata-{os.getuid()}"
    logs = folder.glob("judge-*.log") if folder.is_dir() else []
    return [int(pid) for log in logs for pid in re.findall(r"warm judge (\d+) ready", log.read_text())]


def test_kata_check_speaks_the_chosen_language(capsys, monkeypatch):
    from grader.student.check import check

    monkeypatch.setenv("COLUMNS", "400")  # one line per row
    check(EXERCISES_DIR, [1], "es")
    out = capsys.readouterr().out
    assert "Kata de MLflow — tus TODOs" in out and "Puntuación: 0/4" in out
    # one line for the task, one per failing TODO with its first message
    assert re.search(r"✗ +Tarea 1 +Seguimiento del experimento base +0/4", out)
    assert re.search(r"✗ 1\.1 +Ejecución en el experimento indicado +se esperaba una ejecución nueva", out)
    assert "✗ falla" in out and "kata check --all" in out
    # 1.1 fails waiting for the run 1.2 starts: the student is sent to 1.2 first.
    assert "Siguiente: arregla el TODO 1.2 — pista 1/" in " ".join(out.split())


def test_the_sandboxs_words_are_rendered_by_the_judge_and_a_child_cannot_choose_the_template():
    from grader.core.i18n import _, use
    from grader.sandbox.words import from_child, render, said, with_words

    timeout = said("timeout", seconds=60)
    assert render(timeout) == "did not return within the 60 s time limit"
    with use("es"):
        spanish = render(timeout, _)
    assert spanish != render(timeout) and "60" in spanish
    assert render(said("no_predict", type="ActiveRun")) == "returned an ActiveRun, which has no predict()"
    crash = with_words(ImportError(), "syntax_error", file="task1_baseline.py", error="SyntaxError: x")
    assert str(crash) == "task1_baseline.py could not be imported: SyntaxError: x"
    assert render(crash.words) == str(crash)
    forged = {"id": "timeout", "params": {"seconds": {"__class__": 1}}}
    injected = {"id": "{seconds.__class__}", "params": {"seconds": "60"}}
    for words in (forged, injected, {"id": "timeout", "params": {}}, "timeout", None):
        assert render(words) is None  # the reply's English error is shown instead
    # How a call ended is the zygote's to say: a child's exception cannot claim a timeout.
    assert from_child(timeout) is None and from_child(said("no_model")) == said("no_model")
