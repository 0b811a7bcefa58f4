"""Every student-facing string of the kit's code in English and Spanish: the catalog is
complete, the language is chosen in a documented order, failure messages (cold and
through the warm judge) speak the chosen language, and the Spanish glossary keeps
*log* and *register* apart."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

from grader.core import i18n
from grader.core.paths import EXERCISES_DIR, KIT_ROOT, PYTEST_INI, TESTS_DIR
from failures import Failures

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
    from grader.cli.instructor import grade_lang
    from grader.cli.main import build_parser

    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "KATA_LANG"):
        monkeypatch.delenv(name, raising=False)
    assert default_lang() == "en"
    monkeypatch.setenv("LANG", "es_ES.UTF-8")
    assert default_lang() == "es"
    monkeypatch.setenv("KATA_LANG", "en")
    assert default_lang() == "en"
    assert grade_lang(build_parser().parse_args(["grade", "class", "--out", "out"])) == "en"
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
        assert results["kit"]["lang"] == lang  # what kata feedback speaks by default
    assert reasons["es"] == {"empty": "carpeta de entrega vacía",
                             "packed.tar": "no es una carpeta ni un .zip: packed.tar es un archivo tar; sube un .zip"}
    assert reasons["en"] == {"empty": "empty submission folder",
                             "packed.tar": "not a folder or a .zip: packed.tar is a tar archive; upload a .zip"}
    from grader.cli.main import main
    from grader.reports.feedback import page_name

    assert main(["feedback", str(tmp_path / "es"), "--out", str(tmp_path / "feedback")]) == 0
    page = (tmp_path / "feedback" / page_name("empty")).read_text(encoding="utf-8")
    assert '<html lang="es">' in page and "No se pudo calificar lo que entregaste" in page
    assert "carpeta de entrega vacía" in page
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


# -- no English sentence a Spanish student meets ------------------------------------------------
# English words no Spanish sentence holds (lower case: a name such as MLflow's "Default"
# experiment is not a sentence), looked for outside code, quotes, names and Python's own
# exception text (``english_in``).
ENGLISH_WORDS = re.compile(
    r"\b(the|is|was|are|not|your|you|with|this|that|which|have|could|should|of|and|or|to|in|on|for"
    r"|it|by|from|expected|but|usage|options|positional|arguments?|invalid|choice|required|show|help"
    r"|message|exit|default|every|there|when|where|what|seconds|folder|file|only|same|level|again"
    r"|next|more|each|time|once|against|see|registered|created|successfully)\b")
NOT_PROSE = [
    re.compile(r"`[^`\n]*`"),  # code
    re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|«[^»\n]*»"),  # quoted: values, names, Python's text
    re.compile(r"\{[^{}\n]*\}|\[[^\]\n]*\]"),  # argparse's choices and optionals, code
    re.compile(r"\b\w*(Error|Exception|Warning)\b:[^(\n]*"),  # Python's exception and its text
    re.compile(r"\b(kata|pytest|mlflow) [a-z]+\b"),  # a command: kata run, pytest tests/…
    re.compile(r"(?<!\S)\S*[-_./:=()@$<>\\\d]\S*"),  # options, paths, identifiers, numbers
]


def english_in(text: str) -> list[str]:
    """The lines of ``text`` that say something in English (``ENGLISH_WORDS``)."""
    found = []
    for line in text.splitlines():
        prose = line
        for pattern in NOT_PROSE:
            prose = pattern.sub(" ", prose)
        words = ENGLISH_WORDS.findall(prose)
        if words:
            found.append(f"{line.strip()!r} ({', '.join(sorted(set(words)))})")
    return found


def test_the_english_finder_finds_english_and_leaves_code_names_and_pythons_text():
    assert english_in("kata check: error: argument --task: invalid choice: '7' (choose from 1, 2)")
    assert english_in("Successfully registered model 'devops-response-time'.")
    assert english_in("TODO 2.1: task2_tuning.py could not be imported: SyntaxError: x (line 40)")
    assert not english_in("kata check: error: argumento --task: opción no válida: '7' (elige entre 1, 2)")
    assert not english_in("no se pudo importar task2_tuning.py: SyntaxError: '(' was never closed (línea 40)")
    assert not english_in("va al experimento Default; cámbialo por `with mlflow.start_run() as run:` y run.info")
    assert not english_in("uso: kata check [-h] [--exercises DIR] [--task N] {text,json}")


def kata_says(argv: list[str], capsys) -> tuple[int, str]:
    """``kata ARGV`` in this process: its exit code and all it printed."""
    import grader.cli.main as cli

    try:
        code = cli.main(argv)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    said = capsys.readouterr()
    return code, said.out + said.err


# argv -> exit code: the student verbs' help, and what argparse says to a mistake (the
# CLI is fixed: its options and codes do not change with the language).
STUDENT_CLI = [
    ([], 2), (["--help"], 0), (["chek"], 2),
    (["check", "--help"], 0), (["check", "--task", "7"], 2), (["check", "--task"], 2),
    (["check", "--seed", "not a seed"], 2), (["check", "--timeout", "0"], 2), (["check", "--lang", "fr"], 2),
    (["check", "--bogus"], 2), (["check", "--format", "html"], 2),
    (["run", "--help"], 0), (["run"], 2), (["run", "7"], 2),
    (["hint", "--help"], 0), (["hint", "--reset=yes"], 2), (["hint", "1.1", "1.2"], 2),
    (["watch", "--help"], 0), (["watch", "7"], 2),
    (["progress", "--help"], 0), (["progress"], 1), (["progress", "--lang", "fr"], 2),
    (["stop", "--help"], 0), (["stop"], 0), (["stop", "--lang", "fr"], 2),
]


def test_a_spanish_student_meets_no_english_sentence_from_the_student_verbs(tmp_path, monkeypatch, capsys):
    """``kata`` and each student verb in Spanish: their help and argparse's errors, every
    hint of every TODO and ``kata hint``'s refusals, ``kata run`` on the stubs (a stub logs
    nothing; task 4 before task 3; a syntax error) and the verbs' missing folders: not one
    English sentence, with the CLI's exit codes (``kata check`` runs in the next test)."""
    from grader.lab.todos import load_todos

    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("KATA_LANG", "es")
    monkeypatch.setenv("KATA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")  # kata run's own default
    runtime = tmp_path / "run"  # kata stop: this test's own (empty) judge folder, no one else's
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # kata run puts the exercises first
    shutil.copytree(EXERCISES_DIR, tmp_path / "exercises", ignore=shutil.ignore_patterns("__pycache__"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "task2_tuning.py").write_text("def tune_random_forest(data_path:\n    pass\n")
    own_store = tmp_path / "own_store"  # MLflow's tutorials' first line, at the top of the file
    own_store.mkdir()
    (own_store / "task1_baseline.py").write_text('import mlflow\nmlflow.set_tracking_uri("http://127.0.0.1:9")\n'
                                                 + (EXERCISES_DIR / "task1_baseline.py").read_text())
    runs = list(STUDENT_CLI)
    for todo in load_todos():
        runs += [(["hint", todo.id], 0)] * len(todo.hints("es"))
    runs += [(["hint", "1.1"], 0), (["hint"], 2), (["hint", "9.9"], 2), (["hint", "--reset"], 0),
             (["run", "1"], 0), (["run", "4"], 1), (["run", "bonus"], 1), (["run", "2", "--exercises", "broken"], 1),
             (["run", "1", "--exercises", "own_store"], 1), (["run", "B"], 1),
             (["check", "--exercises", "nowhere"], 2), (["watch", "--exercises", "nowhere"], 2)]
    before = i18n.language()
    problems, said = [], {}
    for argv, expected in runs:
        code, text = kata_says(argv, capsys)
        said[" ".join(argv)] = text
        if code != expected:
            problems.append(f"kata {' '.join(argv)}: exit {code}, not {expected}: {text[-500:]}")
        problems += [f"kata {' '.join(argv)}: {line}" for line in english_in(text)]
    assert not problems, "\n".join(problems)
    assert "uso: kata check" in said["check --help"] and "opciones:" in said["check --help"]
    # a task that does not exist: one line that lists the tasks, no usage, no "invalid choice"
    tasks = "las tareas son 1, 2, 3, 4, bonus; B y 5 también nombran el bonus"
    assert said["check --task 7"] == f"kata check: no hay tarea '7': {tasks}\n"
    assert said["run 7"] == f"kata run: no hay tarea '7': {tasks}\n"
    assert said["watch 7"] == f"kata watch: no hay tarea '7': {tasks}\n"
    assert "SyntaxError: '(' was never closed (broken/task2_tuning.py, línea 1)" in said["run 2 --exercises broken"]
    assert said["run 1 --exercises own_store"].startswith(
        "kata run 1: tu código fija su propia dirección de seguimiento (mlflow.set_tracking_uri('http://127.0.0.1:9'), "
        "task1_baseline.py, línea 2)")
    assert said["stop"] == "Nada del kata se está ejecutando en segundo plano.\n"
    from grader.judge.warm import announce  # what the first run says when it starts the judge

    with i18n.use("es"):
        announce()
    problems += [f"the judge's first line: {line}" for line in english_in(capsys.readouterr().err)]
    assert not problems, "\n".join(problems)
    assert not (tmp_path / "mlflow.db").exists()  # a stub logs nothing: nothing was made to look at
    assert i18n.language() == before  # the process's language is given back
    import argparse
    import gettext

    assert argparse._ is gettext.gettext and argparse.ngettext is gettext.ngettext  # and argparse its own


def test_the_student_verbs_help_and_errors_stay_english_in_english(monkeypatch, capsys):
    """The same CLI in English (``--lang en`` over a Spanish locale), with the same codes;
    an instructor's verb parses in English whatever the locale."""
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("LANG", "es_ES.UTF-8")
    monkeypatch.delenv("KATA_LANG", raising=False)
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    code, text = kata_says(["check", "--task", "7", "--lang", "en"], capsys)
    assert code == 2 and text == "kata check: no task '7': the tasks are 1, 2, 3, 4, bonus; B and 5 name the bonus too\n"
    code, text = kata_says(["check", "--lang=en", "--help"], capsys)
    assert code == 0 and text.startswith("usage: kata check") and "show this help message and exit" in text
    code, text = kata_says(["grade", "--jobs", "0"], capsys)
    assert code == 2 and "usage: kata grade" in text and "argument --jobs:" in text
    code, text = kata_says(["run", "7"], capsys)  # the locale's language: Spanish
    assert code == 2 and text.startswith("kata run: no hay tarea '7'")
    code, text = kata_says(["run"], capsys)  # no task: one line that lists them
    assert code == 2 and text == ("kata run: ¿qué tarea? Las tareas son 1, 2, 3, 4, bonus; "
                                  "B y 5 también nombran el bonus\n")
    code, text = kata_says(["run", "--help"], capsys)
    assert code == 0 and text.startswith("uso: kata run")


def test_kata_check_on_the_stubs_and_on_a_syntax_error_says_nothing_in_english(tmp_path, monkeypatch, capsys):
    """``kata check`` in Spanish on the stubs (every task's failures) and on a task file
    that does not parse: Python's text is quoted, the kit's frame is Spanish ("línea")."""
    monkeypatch.setenv("KATA_LANG", "es")
    monkeypatch.setenv("KATA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "400")  # one line per row
    from grader.student import check as check_module
    from grader.student.watch import watch

    exercises = tmp_path / "exercises"
    shutil.copytree(EXERCISES_DIR, exercises, ignore=shutil.ignore_patterns("__pycache__"))
    made = []
    real_run_kata = check_module.run_kata
    monkeypatch.setattr(check_module, "run_kata", lambda *args, **kwargs: made.append(real_run_kata(*args, **kwargs))
                        or made[-1])
    code, stubs = kata_says(["check", "--exercises", str(exercises)], capsys)
    assert code == 1 and "Puntuación: 0/" in stubs
    # What kata check --all and kata watch show of the same verdicts, on every task's screen.
    check_module.show(made[0], "es", exercises, full=True)
    for task in ("1", "2", "3", "4", "bonus"):
        with i18n.use("es"):
            assert watch(exercises, task, "es", OneRun(), lambda folder, tasks: made[0]) == 130
    stubs += capsys.readouterr().out
    task2 = exercises / "task2_tuning.py"
    task2.write_text(task2.read_text().replace("mlflow.set_experiment(experiment_name)",
                                               "mlflow.set_experiment(experiment_name", 1))
    line = next(n for n, text in enumerate(task2.read_text().splitlines(), 1) if "set_experiment(" in text)
    code, broken = kata_says(["check", "--task", "2", "--exercises", str(exercises)], capsys)
    assert code == 1
    assert f"no se pudo importar task2_tuning.py: SyntaxError: '(' was never closed (línea {line})" in broken
    problems = [f"kata check: {line}" for line in english_in(stubs + broken)]
    assert not problems, "\n".join(problems)


class OneRun:
    """``kata watch``'s changes: Ctrl-C after its first run."""

    polling, poll_s = False, 0.0

    def mark(self):
        pass

    def wait(self):
        raise KeyboardInterrupt

    def close(self):
        pass


RUN_4 = """
import sys

import mlflow
from sklearn.linear_model import LinearRegression

from grader.cli.main import main
from labkit import load_split

split = load_split()  # task 3's comparison, its best run with its model
mlflow.set_experiment("devops-model-comparison")
with mlflow.start_run(run_name="LinearRegression"):
    mlflow.log_param("model_type", "LinearRegression")
    mlflow.log_metric("r2", 0.5)
    mlflow.sklearn.log_model(LinearRegression().fit(split.X_train, split.y_train), name="model",
                             pip_requirements=["scikit-learn"])  # no inference
print(MARK, flush=True)
print(MARK, file=sys.stderr, flush=True)
sys.exit(main(["run", "4"]))
"""


def test_kata_run_4_in_spanish_leaves_out_mlflows_english_lines(tmp_path):
    """``kata run 4`` registers a version: MLflow's own "Successfully registered model …" and
    "Created version …" are not shown; the kit's own line says it, in Spanish. One process
    makes task 3's comparison, then runs ``kata run 4`` on the reference."""
    from grader.judge.store import template_path

    shutil.copytree(KIT_ROOT / "solutions", tmp_path / "exercises", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(template_path(), tmp_path / "mlflow.db")  # migrated already
    mark = "--- kata run 4 ---"
    run = subprocess.run([sys.executable, "-c", f"MARK = {mark!r}\n" + RUN_4], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(KIT_ROOT), "MLFLOW_TRACKING_URI": "sqlite:///mlflow.db",
                              "KATA_LANG": "es"})
    assert run.returncode == 0 and mark in run.stderr, run.stdout[-2000:] + run.stderr[-2000:]
    said = run.stdout.partition(mark)[2] + run.stderr.partition(mark)[2]
    assert "register_best() devolvió la versión: 1" in said, said
    assert "Successfully registered" not in said and "Created version" not in said, said
    assert not english_in(said), said


def test_run_statuses_and_a_count_of_no_versions_read_naturally_in_each_language():
    """MLflow's FINISHED and RUNNING were left in Spanish sentences ("… la guarda en RUNNING"),
    and 4.1 said "hay 0 además de la versión 1": each status is said in the student's language
    with MLflow's word after it (what the UI shows), and no version is said as none."""
    from mlflow.entities import Run, RunData, RunInfo

    from grader.judge.judgments import new_versions_held
    from grader.judge.messages import describe_runs, run_status

    def run(name, status):
        return Run(RunInfo(run_id="0" * 32, experiment_id="1", user_id="", status=status, start_time=0,
                           end_time=None, lifecycle_stage="active", run_name=name), RunData())

    runs = [run("baseline", "FINISHED"), run("other", "RUNNING")]
    with i18n.use("es"):
        assert describe_runs(runs) == ("la ejecución 'baseline' (terminada, FINISHED), "
                                       "la ejecución 'other' (en curso, RUNNING)")
        assert [run_status(status) for status in ("FAILED", "KILLED", "SCHEDULED", "NEW")] == [
            "fallida (FAILED)", "cancelada (KILLED)", "programada (SCHEDULED)", "NEW"]
        none = new_versions_held("m", 0, "1")
        two = new_versions_held("m", 2, "1")
    assert "pero no hay ninguna aparte de la versión 1, que el test registró" in none, none
    assert "pero hay 2 versiones nuevas aparte de la versión 1" in two, two
    with i18n.use("en"):  # English: MLflow's word alone, as before
        assert describe_runs(runs) == "the run 'baseline' (FINISHED), the run 'other' (RUNNING)"
        assert new_versions_held("m", 0, "1") == (
            "expected one new version of 'm' in the Model Registry, but it holds no version besides "
            "version 1, which the test registered before your call")
        assert "but it holds 2 new versions besides version 1" in new_versions_held("m", 2, "1")
    for lang in ("es", "en"):
        with i18n.use(lang):
            assert not re.search(r"\b0\b", new_versions_held("m", 0, "1"))


def test_a_missing_param_names_what_the_run_holds_besides_it_in_either_language():
    """A typo'd key (log_params({"random_sate": 42})) is in MLflow: the message said the run
    holds {'model_type': …} (no random_state), and a student looking for the typo was told
    it was not there; MLflow's own mlflow.* tags are never listed."""
    from grader.core import i18n
    from grader.judge.messages import held_text

    held = {"model_type": "LinearRegression", "random_sate": "42", "mlflow.runName": "baseline"}
    expected = {"model_type": "LinearRegression", "random_state": "42"}
    with i18n.use("en"):
        assert held_text(held, expected) == (
            "{'model_type': 'LinearRegression'} (no random_state); it holds {'random_sate': '42'} too")
    with i18n.use("es"):
        assert held_text(held, expected).endswith("(falta random_state); también guarda {'random_sate': '42'}")
    assert held_text({"mlflow.user": "x"}, {"task": "t"}) == "{} (no task)"
    assert held_text(held, {"model_type": "LinearRegression"}) == "{'model_type': 'LinearRegression'}"
