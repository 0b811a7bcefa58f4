"""``kata release OUT``: the student kit, ready to be a GitHub Classroom template repository.

What a student gets, and nothing else:

* ``exercises/``: the stubs, generated from ``solutions/`` by the stub generator;
* ``tests/``: the public kata tests (never ``tests/hidden/``, a file whose name says
  hidden, or a file marked ``pytestmark = pytest.mark.hidden``);
* what the tests and the student's ``kata check``/``kata run`` need at run time:
  ``conftest.py``, ``pytest.ini``, ``labkit/``, ``data/`` and the student wings of
  ``grader/``, whole (``STUDENT_PACKAGES``; the import contract in ``pyproject.toml``
  keeps them from importing an instructor wing or library, and the ``kata`` CLI leaves
  out the verbs whose wing is absent);
* ``LAB.md``, a student ``README.md`` (English and Spanish), a ``pyproject.toml`` that
  installs ``kata`` with the student verbs and only the student's dependencies (the
  instructor's, ``[tool.kata] instructor-only``, stay out), ``.gitignore``, and
  ``.github/workflows/classroom.yml`` (GitHub Classroom autograding, one test per TODO).

Never ``solutions/``, ``examples/``, ``kit_tests/``, ``benchmarks/``, the instructor
README, ``grader/authoring/mistakes.toml`` (it quotes solution lines), caches or ``.ci/``. After
writing, every file of the release (stubs, tests and the kit's own modules alike) is scanned
for the solution of any TODO region of ``solutions/`` (``find_leaks``), two ways: the region's
whole body as text, whatever the whitespace or comment markers (any file); and each statement
of the region on its own, up to the names of its variables (Python code and comments, and the
code blocks of Markdown files: ``statement_fingerprints``). A release that contains one is
removed and refused.
"""

from __future__ import annotations

import ast
import builtins
import re
import shutil
import textwrap
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import NamedTuple

from grader.authoring.stubgen import BEGIN, END, STUB, expected_exercises
from grader.core.paths import KIT_ROOT
from grader.lab.todos import load_todos, todo_by_id

TEMPLATES = Path(__file__).with_name("templates") / "release"
RELEASE_NAME = "mlflow-kata-lab"  # the student kit's distribution name (its pyproject)

# The wings of grader/ a student kit ships, whole: the import contract (pyproject.toml,
# checked in CI) keeps them from importing any other wing or an instructor library.
STUDENT_PACKAGES = ("core", "lab", "results", "sandbox", "judge", "student", "cli")
STUDENT_DATA = (
    "grader/__init__.py",
    "grader/__main__.py",
    "grader/locale/*/LC_MESSAGES/*.po",
)  # the messages' translations (grader/core/i18n.py)
TOP_FILES = ("conftest.py", "pytest.ini", "LAB.md")
# What is never copied from a folder of the kit, wherever it is.
CACHES = {"__pycache__", ".pytest_cache", ".hypothesis", "mlruns", "mlartifacts", ".DS_Store"}
CACHE_SUFFIXES = (".pyc", ".pyo", ".db", ".egg-info")
# The kit's own folders: a release is never written into one of them.
KIT_PARTS = {
    "grader",
    "labkit",
    "tests",
    "solutions",
    "exercises",
    "data",
    "examples",
    "kit_tests",
    "benchmarks",
    ".ci",
    ".git",
    ".venv",
}
HIDDEN = "hidden"
HIDDEN_MARK = re.compile(r"\bmark\.hidden\b")
# A previous release (or a fresh clone of an empty template repository) may be replaced
# with --force; other folders are never emptied.
REPLACEABLE = {".git", ".gitignore", ".gitattributes", "README", "README.md", "LICENSE", "LICENSE.md", "LICENSE.txt"}
# A TODO body shorter than this (without whitespace) is one ordinary MLflow call that the
# kit's own code may make too (e.g. ``mlflow.log_metrics(metrics)``): not a fingerprint.
MIN_FINGERPRINT = 32


class ReleaseError(Exception):
    """The release cannot be written (one line, for the CLI)."""


@dataclass
class Release:
    out: Path
    files: list[str] = field(default_factory=list)  # relative POSIX paths written
    checked: list[str] = field(default_factory=list)  # TODO ids whose bodies were looked for
    # TODO ids whose body is public by design: their own instruction or level-1 hint spells
    # it out, or the student files show it (another task's starting code)
    told: list[str] = field(default_factory=list)
    short: list[str] = field(default_factory=list)  # TODO ids too short to fingerprint


# -- what a solution looks like -------------------------------------------------------


def todo_regions(source: str) -> list[tuple[str, list[str]]]:
    """Every ``# BEGIN TODO`` … ``# END TODO`` region of a solution file, in order, as
    (TODO id, body lines without the ``# STUB:`` lines). Markers as the stub generator
    reads them (``grader.authoring.stubgen``)."""
    regions: list[tuple[str, list[str]]] = []
    current: tuple[str, list[str]] | None = None
    for line in source.splitlines():
        if begin := BEGIN.match(line):
            current = (begin["id"], [])
        elif END.match(line):
            if current is not None:
                regions.append(current)
            current = None
        elif current is not None and not STUB.match(line):
            current[1].append(line)
    return regions


COMMENT_LEAD = re.compile(r"^(#+|>+|//+)")
SPACE = re.compile(r"\s+")


def normalised(text: str) -> str:
    """``text`` as one string of code: each line without its indentation, a leading
    comment or quote marker (so a commented-out or quoted copy still counts) and any
    whitespace; blank lines vanish and line breaks do not matter."""
    return "".join(SPACE.sub("", COMMENT_LEAD.sub("", line.strip())) for line in text.splitlines())


def fingerprints(solutions: Path) -> tuple[dict[str, list[str]], list[str], list[str]]:
    """``({todo_id: [normalised body, …]}, told, short)``: the region bodies a release must
    not contain. A body that is public by design (``told``: the TODO's own instruction or
    level-1 hint spells it out, or the student files show it, e.g. task 2's starting code
    makes the very ``mlflow.set_experiment`` call of TODO 1.1) is no leak; one shorter than
    ``MIN_FINGERPRINT`` is too common to tell apart."""
    todos = todo_by_id()
    bodies: dict[str, list[str]] = {}
    told: list[str] = []
    short: list[str] = []
    stubs = normalised("\n".join(expected_exercises(solutions).values()))
    for path in sorted(solutions.glob("*.py")):
        for todo_id, lines in todo_regions(path.read_text(encoding="utf-8")):
            body = normalised("\n".join(lines))
            todo = todos.get(todo_id)
            public = [todo.todo_en, todo.todo_es, todo.hint_en, todo.hint_es] if todo else []
            spelled = todo and (body in normalised("\n".join(public)) or body in stubs)
            if not body:
                continue
            if spelled:
                told.append(todo_id)
            elif len(body) < MIN_FINGERPRINT:
                short.append(todo_id)
            else:
                bodies.setdefault(todo_id, []).append(body)
    return bodies, told, short


# -- statement by statement ----------------------------------------------------------
# A copy need not be a whole region, nor keep the solution's names: the warm-up once logged
# ``mlflow.sklearn.log_model(model, …, signature=infer_signature(X, model.predict(X)), …)``,
# TODO 3.3's statement with ``X`` for ``X_test``; a test sent TODO B.1's body as the
# argument of its own request. So each statement of a region is also looked for alone, as
# a syntax tree: the expression it computes (a call, a returned value, an assigned value,
# a ``with`` or ``for`` header's) found anywhere in a file's code, where each variable of
# the solution may stand for any expression (the same one wherever it recurs) and a string
# literal may stand for an f-string it renders; attribute and keyword names, imported
# names, literals and the shape must be the same (keyword arguments in any order).


@dataclass(frozen=True)
class Statement:
    """One statement of a TODO region, as ``find_leaks`` looks for it."""

    todo_id: str
    pattern: ast.expr  # what the statement computes
    fixed: frozenset[str]  # names that are no variable: the solution's imports, builtins
    code: str  # the pattern as code, each variable written ``_`` (for messages)


class Leak(NamedTuple):
    """A solution found in a released file: where, whose, and (a statement found in
    code) its line and the solution's statement."""

    path: str
    todo_id: str
    line: int = 0
    code: str = ""


BUILTIN_NAMES = frozenset(dir(builtins))


def region_tree(lines: list[str]) -> ast.Module:
    """A region's lines as a module: dedented, and a block the region opens but does not
    hold (TODO 1.2's ``with`` line) given a body."""
    text = textwrap.dedent("\n".join(line for line in lines if line.strip()))
    try:
        return ast.parse(text)
    except SyntaxError:
        last = text.splitlines()[-1]
        return ast.parse(f"{text}\n{' ' * (len(last) - len(last.lstrip()) + 4)}pass")


def computed(statement: ast.stmt) -> list[ast.expr]:
    """What a statement computes: its value, or its header's expressions."""
    if isinstance(statement, (ast.Return, ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign)):
        return [statement.value] if statement.value is not None else []
    if isinstance(statement, (ast.With, ast.AsyncWith)):
        return [item.context_expr for item in statement.items]
    if isinstance(statement, (ast.For, ast.AsyncFor)):
        return [statement.iter]
    if isinstance(statement, (ast.If, ast.While)):
        return [statement.test]
    return []


def imported_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= {alias.asname or alias.name for alias in node.names}
    return names


def is_variable(node: ast.AST, fixed: frozenset[str]) -> bool:
    return isinstance(node, ast.Name) and node.id not in fixed


def is_plain_call(pattern: ast.expr, fixed: frozenset[str]) -> bool:
    """A lone variable or literal, or one call whose arguments are all variables or
    literals: ``mlflow.log_metrics(metrics)``, ``mlflow.start_run(run_name=name)``,
    ``mlflow.log_param("model_type", name)``. The TODO's own instruction names that call
    and its values, and the kit's code makes the same calls with its own (the seeding of
    Task 4's runs, the warm-up): too common to be told apart from a copy."""

    def leaf(node: ast.expr) -> bool:
        return is_variable(node, fixed) or isinstance(node, ast.Constant)

    if leaf(pattern):
        return True
    return (
        isinstance(pattern, ast.Call)
        and all(leaf(arg) for arg in pattern.args)
        and all(keyword.arg is not None and leaf(keyword.value) for keyword in pattern.keywords)
    )


class Blanked(ast.NodeTransformer):
    """A pattern with each variable written ``_``: how a message shows it."""

    def __init__(self, fixed: frozenset[str]):
        self.fixed = fixed

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.Name(id="_") if node.id not in self.fixed else node


def statement_fingerprints(solutions: Path) -> tuple[list[Statement], list[Statement]]:
    """``(looked for, plain)``: every statement of every TODO region of ``solutions/``,
    split into those a release must not contain and the plain calls (``is_plain_call``)
    it may."""
    looked_for: list[Statement] = []
    plain: list[Statement] = []
    for path in sorted(solutions.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        fixed = frozenset(imported_names(ast.parse(source))) | BUILTIN_NAMES
        for todo_id, lines in todo_regions(source):
            if not any(line.strip() for line in lines):
                continue
            for statement in ast.walk(region_tree(lines)):
                if not isinstance(statement, ast.stmt):
                    continue
                for pattern in computed(statement):
                    code = ast.unparse(Blanked(fixed).visit(ast.parse(ast.unparse(pattern), mode="eval")).body)
                    found = Statement(todo_id, pattern, fixed, code)
                    (plain if is_plain_call(pattern, fixed) else looked_for).append(found)
    return looked_for, plain


IGNORED_FIELDS = {"ctx", "lineno", "col_offset", "end_lineno", "end_col_offset", "type_comment", "kind"}


def matches(pattern: ast.AST, node: ast.AST, fixed: frozenset[str], bound: dict[str, str]) -> bool:
    """Whether ``node`` is ``pattern`` with each variable standing for an expression (the
    same one at each of its places: ``bound``, variable → code)."""
    if is_variable(pattern, fixed):
        assert isinstance(pattern, ast.Name)
        code = ast.unparse(node)
        return bound.setdefault(pattern.id, code) == code
    if isinstance(pattern, ast.JoinedStr) and isinstance(node, ast.Constant) and isinstance(node.value, str):
        template = "".join(
            re.escape(str(part.value)) if isinstance(part, ast.Constant) else ".+" for part in pattern.values
        )
        return re.fullmatch(template, node.value, re.DOTALL) is not None
    if type(pattern) is not type(node):
        return False
    if isinstance(pattern, ast.Call):
        assert isinstance(node, ast.Call)
        wanted = {keyword.arg: keyword.value for keyword in pattern.keywords}
        given = {keyword.arg: keyword.value for keyword in node.keywords}
        return (
            len(pattern.args) == len(node.args)
            and wanted.keys() == given.keys()
            and matches(pattern.func, node.func, fixed, bound)
            and all(matches(a, b, fixed, bound) for a, b in zip(pattern.args, node.args))
            and all(matches(wanted[name], given[name], fixed, bound) for name in wanted)
        )
    for name in pattern._fields:
        if name in IGNORED_FIELDS:
            continue
        want, have = getattr(pattern, name, None), getattr(node, name, None)
        if isinstance(want, list):
            if not isinstance(have, list) or len(want) != len(have):
                return False
            for a, b in zip(want, have):
                same = matches(a, b, fixed, bound) if isinstance(a, ast.AST) and isinstance(b, ast.AST) else a == b
                if not same:
                    return False
        elif isinstance(want, ast.AST):
            if not isinstance(have, ast.AST) or not matches(want, have, fixed, bound):
                return False
        elif want != have:
            return False
    return True


FENCE = re.compile(r"^\s*(```|~~~)")
COMMENT = re.compile(r"^\s*#+ ?")


def code_blocks(path: Path, text: str) -> Iterator[tuple[int, str]]:
    """``(first line, code)`` of the Python a file holds: a Python file's code, and its
    comments as code (each run of comment lines, else each line alone: a commented-out
    copy counts); a Markdown file's fenced blocks."""
    lines = text.splitlines()
    if path.suffix == ".py":
        yield 1, text
        run: list[tuple[int, str]] = []
        for number, line in enumerate([*lines, ""], start=1):
            if COMMENT.match(line):
                run.append((number, COMMENT.sub("", line, count=1)))
                continue
            if run:
                yield run[0][0], textwrap.dedent("\n".join(code for _, code in run))
                if len(run) > 1:
                    yield from run
            run = []
    elif path.suffix == ".md":
        block: list[str] | None = None
        start = 0
        for number, line in enumerate(lines, start=1):
            if FENCE.match(line):
                if block is None:
                    block, start = [], number + 1
                else:
                    yield start, textwrap.dedent("\n".join(block))
                    block = None
            elif block is not None:
                block.append(line)


def statement_leaks(path: Path, text: str, statements: Sequence[Statement]) -> Iterator[tuple[int, Statement]]:
    """``(line, statement)`` for each solution statement found in ``text``'s code."""
    for first, code in code_blocks(path, text):
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.expr):
                continue
            for statement in statements:
                if type(node) is type(statement.pattern) or (
                    isinstance(statement.pattern, ast.JoinedStr) and isinstance(node, ast.Constant)
                ):
                    if matches(statement.pattern, node, statement.fixed, {}):
                        yield first + node.lineno - 1, statement


def find_leaks(root: Path, bodies: dict[str, list[str]], statements: Sequence[Statement] = ()) -> list[Leak]:
    """Every solution in a file under ``root`` (but ``.git``): a TODO region's body, whatever
    the indentation, line breaks, blank lines or comment markers (``Leak(path, todo_id)``);
    and one of ``statements`` in the file's code (``Leak(path, todo_id, line, code)``)."""
    leaks = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if ".git" in relative.parts or not path.is_file():
            continue
        raw = path.read_bytes().decode("utf-8", errors="replace")
        text = normalised(raw)
        for todo_id, todo_bodies in bodies.items():
            if any(body in text for body in todo_bodies):
                leaks.append(Leak(relative.as_posix(), todo_id))
        found = {(line, s.todo_id, s.code) for line, s in statement_leaks(path, raw, statements)}
        leaks += [Leak(relative.as_posix(), todo_id, line, code) for line, todo_id, code in sorted(found)]
    return leaks


# -- what a student needs -------------------------------------------------------------


def is_hidden_test(path: Path, tests: Path) -> bool:
    """A hidden test: under a ``hidden`` folder, named so, or marked hidden as a whole
    (``pytestmark = pytest.mark.hidden``). A public test file that marks only some of its
    tests hidden cannot be split safely: ``ReleaseError``."""
    relative = path.relative_to(tests)
    if any(HIDDEN in part.lower() for part in relative.parts):
        return True
    if path.suffix != ".py":
        return False
    source = path.read_text(encoding="utf-8")
    if not HIDDEN_MARK.search(source):
        return False
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets)
            and HIDDEN_MARK.search(ast.get_source_segment(source, node.value) or "")
        ):
            return True
    raise ReleaseError(
        f"tests/{relative.as_posix()} marks some tests hidden: move them to "
        "tests/hidden/ so the release can leave them out"
    )


def is_cache(path: Path) -> bool:
    return path.name in CACHES or path.name.endswith(CACHE_SUFFIXES)


# -- writing it -----------------------------------------------------------------------


def prepare_out(out: Path, kit: Path, force: bool) -> None:
    """Make ``out`` an empty folder (``.git`` kept), or refuse in one line."""
    resolved = out.resolve()
    if kit.is_relative_to(resolved):
        raise ReleaseError(f"{out} holds the kit itself; choose a folder outside it")
    if resolved.is_relative_to(kit) and resolved.relative_to(kit).parts[0] in KIT_PARTS:
        raise ReleaseError(
            f"{out} is inside the kit's own {resolved.relative_to(kit).parts[0]}/; choose another folder"
        )
    if out.exists() and not out.is_dir():
        raise ReleaseError(f"{out} exists and is not a folder")
    entries = sorted(out.iterdir()) if out.exists() else []
    if not entries:
        out.mkdir(parents=True, exist_ok=True)
        return
    if not force:
        raise ReleaseError(f"{out} exists and is not empty (use --force to replace a previous release)")
    if not (is_release(out) or all(entry.name in REPLACEABLE for entry in entries)):
        strange = next(e.name for e in entries if e.name not in REPLACEABLE)
        raise ReleaseError(
            f"{out} is not a previous kata release (it holds {strange}); "
            "--force replaces only a release: choose an empty folder"
        )
    empty(out)


def empty(folder: Path) -> None:
    """Remove everything in ``folder`` but its ``.git``."""
    for entry in folder.iterdir():
        if entry.name == ".git":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def is_release(folder: Path) -> bool:
    try:
        with open(folder / "pyproject.toml", "rb") as handle:
            return tomllib.load(handle).get("project", {}).get("name") == RELEASE_NAME
    except (OSError, tomllib.TOMLDecodeError):
        return False


def render_template(template: str, **values) -> str:
    return Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(values)


def release(out: Path, force: bool = False, kit: Path = KIT_ROOT, journal: bool = True) -> Release:
    """Write the student kit to ``out``; raise ``ReleaseError`` (and leave no release
    behind) when it cannot be written or would contain a solution. ``journal``: the
    student's journal of runs is on (``grader.results.journal``; its README says what it
    records, its ``.gitignore`` keeps it); False leaves it out of the course."""
    kit = kit.resolve()
    solutions = kit / "solutions"
    if not solutions.is_dir():
        raise ReleaseError(f"no solutions/ in {kit}: `kata release` runs in the instructor's kit")
    created = not out.exists()
    prepare_out(out, kit, force)
    result = Release(out)

    def write(relative: str, text: str) -> None:
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        result.files.append(relative)

    def copy(source: Path, relative: str) -> None:
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        shutil.copymode(source, target)
        result.files.append(relative)

    def copy_tree(folder: str, keep=lambda path: True) -> None:
        for path in sorted((kit / folder).rglob("*")):
            relative = path.relative_to(kit)
            if any(is_cache(Path(part)) for part in relative.parts) or not path.is_file():
                continue
            if keep(path):
                copy(path, relative.as_posix())

    try:
        for name, text in expected_exercises(solutions).items():
            write(f"exercises/{name}", text)
        tests = kit / "tests"
        copy_tree("tests", keep=lambda path: not is_hidden_test(path, tests))
        for package in STUDENT_PACKAGES:
            copy_tree(f"grader/{package}", keep=lambda path: "templates" not in path.parts)
        for pattern in STUDENT_DATA:
            for path in sorted(kit.glob(pattern)):
                copy(path, path.relative_to(kit).as_posix())
        copy_tree("labkit")
        copy_tree("data")
        for name in TOP_FILES:
            copy(kit / name, name)
        write_packaging(kit, write, journal)
        bodies, result.told, result.short = fingerprints(solutions)
        statements, _plain = statement_fingerprints(solutions)
        looked_for = set(bodies) | {statement.todo_id for statement in statements}
        result.checked = sorted(looked_for, key=list(todo_by_id()).index)
        leaks = find_leaks(out, bodies, statements)
        if leaks:
            first = leaks[0]
            where = f"{first.path}:{first.line}" if first.line else first.path
            what = f" (its statement {first.code})" if first.code else ""
            raise ReleaseError(
                f"{where} contains the solution of TODO {first.todo_id}{what} ({len(leaks)} leak(s)); "
                "nothing was released"
            )
    except BaseException:  # no half release: OUT was empty (but .git) before
        shutil.rmtree(out) if created else empty(out)
        raise
    return result


def student_dependencies(pyproject: dict) -> list[str]:
    """The kit's runtime dependencies but the instructor's (``[tool.kata]
    instructor-only`` in ``pyproject.toml``, the one list of them): what the student's
    verbs and the kata tests need. A name in that list that is no dependency is refused:
    a stale list would let a renamed instructor library reach every student."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    instructor = {canonicalize_name(name) for name in pyproject["tool"]["kata"]["instructor-only"]}
    named = {
        canonicalize_name(Requirement(dependency).name): dependency
        for dependency in pyproject["project"]["dependencies"]
    }
    if instructor - set(named):
        raise ReleaseError(
            f"pyproject.toml: [tool.kata] instructor-only names "
            f"{', '.join(sorted(instructor - set(named)))}, no dependency of the kit"
        )
    return [dependency for name, dependency in named.items() if name not in instructor]


JOURNAL_KEPT = "# exercises/.kata/journal.jsonl is handed in with your work (README.md): not ignored\n"
JOURNAL_LEFT_OUT = "exercises/.kata/\n"


def write_packaging(kit: Path, write, journal: bool = True) -> None:
    """The student kit's pyproject (the student's dependencies and Python from the kit's
    own, ``[tool.kata] journal``), README, .gitignore, the launcher of ``kata`` and the
    GitHub Classroom workflow. With ``journal``, the README says in both languages what the
    journal records and why, and the .gitignore keeps it; without, neither mentions it but
    to leave it out."""
    with open(kit / "pyproject.toml", "rb") as handle:
        pyproject = tomllib.load(handle)
    project = pyproject["project"]
    todos = load_todos()
    graded = [todo for todo in todos if not todo.bonus]
    dependencies = "".join(f'    "{dependency}",\n' for dependency in student_dependencies(pyproject))
    packages = "".join(f', "grader.{package}"' for package in STUDENT_PACKAGES)
    write(
        "pyproject.toml",
        render_template(
            "pyproject.toml.in",
            name=RELEASE_NAME,
            version=project["version"],
            requires_python=project["requires-python"],
            dependencies=dependencies,
            packages=packages,
            journal="true" if journal else "false",
        ),
    )
    write(
        "README.md",
        render_template(
            "README.md",
            todos=len(graded),
            max_score=sum(todo.points for todo in graded),
            bonus=len(todos) - len(graded),
            journal_en=(TEMPLATES / "journal_en.md").read_text(encoding="utf-8") if journal else "",
            journal_es=(TEMPLATES / "journal_es.md").read_text(encoding="utf-8") if journal else "",
        ),
    )
    ignored = (TEMPLATES / "gitignore").read_text(encoding="utf-8")
    write(".gitignore", ignored + (JOURNAL_KEPT if journal else JOURNAL_LEFT_OUT))
    write("kata_launcher.py", (TEMPLATES / "kata_launcher.py").read_text(encoding="utf-8"))
    write(".github/workflows/classroom.yml", (TEMPLATES / "classroom.yml").read_text(encoding="utf-8"))
