"""One source for solutions and stubs: the generator, its markers and the sync check."""

import ast
import io
import re
import tokenize

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.core.paths import KIT_ROOT
from grader.authoring.stubgen import (ALL, MarkerError, expected_exercises, render, stale_exercises,
                                     todo_ids_in)
from grader.lab.todos import load_todos

SOLUTIONS = KIT_ROOT / "solutions"


def test_exercises_are_exactly_what_the_solutions_generate():
    assert stale_exercises(SOLUTIONS, KIT_ROOT / "exercises") == [], "run `kata stubs`"


def test_kata_stubs_check_says_the_exercises_are_in_sync(capsys):
    import grader.cli.main as cli

    assert cli.main(["stubs", "--check"]) == 0
    assert capsys.readouterr().out == ""


def test_every_todo_is_marked_in_the_solution_file_of_its_task():
    for todo in load_todos():
        source = (SOLUTIONS / f"{todo.module}.py").read_text(encoding="utf-8")
        assert todo.id in todo_ids_in(source), f"TODO {todo.id} is not marked in {todo.module}.py"


@pytest.mark.parametrize("path", sorted(SOLUTIONS.glob("*.py")), ids=lambda p: p.name)
def test_every_single_revert_and_the_full_stub_are_valid_python(path):
    source = path.read_text(encoding="utf-8")
    for stub_ids in [ALL, *({todo_id} for todo_id in todo_ids_in(source))]:
        ast.parse(render(source, stub_ids, path.name))


def test_stubs_carry_each_todo_in_english_and_spanish():
    for todo in load_todos():
        stub = render((SOLUTIONS / f"{todo.module}.py").read_text(encoding="utf-8"))
        assert f"# TODO {todo.id}: " in stub
        assert "#   ES: " in stub


ENGLISH_WORD = re.compile(r"\b(the|and|of|with|your|on|to|is|an|its|until|by|this|that|for|from|in|at|continued)\b", re.I)
SPANISH_WORD = re.compile(r"\b(el|la|los|las|del|y|con|tu|una|un|por|para|que|hasta|su|continuación)\b", re.I)


def words_of(source: str) -> list[tuple[int, str]]:
    """``(line, text)`` of each comment block (consecutive comment lines) and docstring of
    a student file; a linter directive alone (``# noqa: F401``) is not words."""
    blocks: list[tuple[int, str]] = []
    last = -2
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT or re.fullmatch(r"#\s*noqa(:[\w, ]*)?", token.string):
            continue
        if token.start[0] == last + 1 and blocks:
            blocks[-1] = (blocks[-1][0], blocks[-1][1] + "\n" + token.string)
        else:
            blocks.append((token.start[0], token.string))
        last = token.start[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and ast.get_docstring(node):
            blocks.append((getattr(node, "lineno", 1), ast.get_docstring(node) or ""))
    return blocks


def test_every_comment_and_docstring_of_the_student_files_is_in_english_and_spanish():
    """What a student reads in their files besides code: a TODO's instructions (both
    languages, from todos.toml) and every other comment and docstring, written in both in
    solutions/ (a Spanish student met "# Until TODO 4.1 registers a version, …" alone)."""
    problems = []
    for name, source in expected_exercises(SOLUTIONS).items():
        for line, text in words_of(source):
            prose = re.sub(r"`[^`]*`|\S*[_./:=()@]\S*", " ", text)
            if not (ENGLISH_WORD.search(prose) and SPANISH_WORD.search(prose)):
                problems.append(f"{name}:{line}: {text!r}")
    assert not problems, "English only or Spanish only (edit solutions/, then `kata stubs`):\n" + "\n".join(problems)


def test_a_region_renders_its_stub_lines_or_pass_and_solved_regions_lose_markers():
    source = (
        "def f():\n"
        "    # BEGIN TODO 1.1\n"
        "    x = 1\n"
        "    # STUB: x = None\n"
        "    # END TODO 1.1\n"
        "    # BEGIN TODO 1.3\n"
        "    y = 2\n"
        "    # END TODO 1.3\n"
        "    return x\n"
    )
    stubbed = render(source)
    assert "    x = None\n" in stubbed and "x = 1" not in stubbed
    assert "    pass\n" in stubbed and "y = 2" not in stubbed
    solved = render(source, stub_ids=())
    assert "BEGIN" not in solved and "STUB" not in solved and "x = 1" in solved


@pytest.mark.parametrize("source,problem", [
    ("# BEGIN TODO 1.1\nx = 1\n", "never closed"),
    ("# BEGIN TODO 1.1\n# BEGIN TODO 1.2\n", "begins inside"),
    ("# BEGIN TODO 9.9\n# END TODO 9.9\n", "not in todos.toml"),
    ("# STUB: x = 1\n", "outside a TODO region"),
    ("# BEGIN TODO 1.1\n# END TODO 1.2\n", "does not close"),
])
def test_malformed_markers_are_reported_with_their_line(source, problem):
    with pytest.raises(MarkerError, match=problem):
        render(source, filename="broken.py")


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_any_mix_of_solved_and_stubbed_todos_is_valid_python_keeping_the_solved_code(data):
    path = data.draw(st.sampled_from(sorted(SOLUTIONS.glob("*.py"))), label="file")
    source = path.read_text(encoding="utf-8")
    ids = todo_ids_in(source)
    stubbed = data.draw(st.sets(st.sampled_from(ids)), label="stubbed")
    rendered = render(source, stubbed, path.name)
    ast.parse(rendered)
    for todo_id in ids:
        assert (f"# TODO {todo_id}: " in rendered) == (todo_id in stubbed)
    assert "# BEGIN TODO" not in rendered and "# STUB:" not in rendered
