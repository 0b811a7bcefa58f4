"""The TODO regions of a student file, and the file rewritten without some of its statements.

A student file's TODO comments open its regions (``# TODO 2.4: …`` in the released
exercises, ``# BEGIN TODO 2.4`` … ``# END TODO 2.4`` in the solutions): a region runs from
its comment to the next TODO comment, or to the end of the block the comment sits in
(the first line of code indented less than the comment), whichever comes first; the first
statement after the comment belongs to it whatever its indentation (a line written under
the comment but dedented out of its ``with`` is still that TODO's code). A ``BEGIN``
region runs to its ``END``. Lines in no region are the skeleton's (or a comment the
student deleted left them there): nothing is attributed to them.

Used in the sandboxed child (``grader.judge.probes``: which TODO's code raised, and a
replay of the call without the statement that raised) where the file is read as it is:
it may not parse (``find_regions`` then works on lines alone), may have lost its
comments (no region), anything. Pure standard library, imported when the zygote
preloads: the child cannot import kit modules lazily.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

MARKER = re.compile(r"^[ \t]*#[ \t]*(?:(BEGIN|END)[ \t]+)?TODO[ \t]+([0-9]+\.[0-9]+|[A-Z]\.[0-9]+)\b")
CODE_CHARS = 120  # of a line quoted in a message


@dataclass(frozen=True)
class Region:
    """TODO ``todo``'s lines ``first`` … ``last`` (1-based, inclusive)."""

    todo: str
    first: int
    last: int


def indent(line: str) -> int:
    return len(line.expandtabs()) - len(line.expandtabs().lstrip())


def is_code(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def statement_spans(tree: ast.AST) -> tuple[dict[int, int], dict[int, int]]:
    """For each line a statement starts on: where the simple statement starting there ends
    (its continuation lines), and where the statement starting there ends whole (a
    compound one with its body). The outermost statement wins a shared line."""
    simple: dict[int, int] = {}
    whole: dict[int, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt):
            end = node.end_lineno or node.lineno
            whole[node.lineno] = max(whole.get(node.lineno, 0), end)
            if not any(
                isinstance(value, list) and value and isinstance(value[0], ast.stmt)
                for _f, value in ast.iter_fields(node)
            ):
                simple[node.lineno] = max(simple.get(node.lineno, 0), end)
    return simple, whole


def find_regions(source: str, tree: ast.AST | None = None, todos: list[str] | None = None) -> list[Region]:
    """The TODO regions of ``source`` (``tree``: its parse, when it parses: statements
    spanning several lines are then kept whole). ``todos``: the file's TODO ids in order,
    when known: a comment naming another TODO opens no region, and where a TODO's comment
    is missing (the student deleted it), the region before it is cut to its comment's first
    statement, since what follows may be the missing TODO's code (it is then in no region)."""
    lines = source.splitlines()
    simple, whole = statement_spans(tree) if tree is not None else ({}, {})
    markers = [
        (number, found.group(1), found.group(2))
        for number, line in enumerate(lines, 1)
        if (found := MARKER.match(line)) and (todos is None or found.group(2) in todos)
    ]
    openers = [todo for _number, kind, todo in markers if kind != "END"]
    regions = []
    for position, (start, kind, todo) in enumerate(markers):
        if kind == "END":
            continue
        later = [number for number, _kind, _todo in markers[position + 1 :]]
        end = (later[0] - 1) if later else len(lines)
        if kind != "BEGIN":
            end = block_end(lines, start, end, simple, whole, whole_block=not missing_after(todo, openers, todos))
        regions.append(Region(todo, start, end))
        openers.remove(todo)
    return regions


def missing_after(todo: str, openers: list[str], todos: list[str] | None) -> bool:
    """Whether a TODO that should come right after ``todo`` has no comment of its own next
    (``openers``: the TODOs whose comments come from ``todo``'s on, itself first)."""
    if todos is None:
        return False
    following = todos[todos.index(todo) + 1 :]
    after = openers[1:2]
    return bool(following) and after not in ([todo], following[:1])


def block_end(
    lines: list[str], start: int, end: int, simple: dict[int, int], whole: dict[int, int], whole_block: bool = True
) -> int:
    """The last line of the region a TODO comment on line ``start`` opens, at most ``end``:
    its first statement whole, then (``whole_block``) the lines of code indented at least as
    the comment."""
    level = indent(lines[start - 1])
    number, first = start + 1, True
    while number <= end:
        line = lines[number - 1]
        if not is_code(line):
            number += 1
            continue
        if first:
            first = False
            number = whole.get(number, number) + 1
            continue
        if indent(line) < level or not whole_block:
            return number - 1
        number = simple.get(number, number) + 1
    return end


def region_of(regions: list[Region], line: int) -> str | None:
    """The TODO whose region holds ``line``, if any (the innermost: the latest opened)."""
    holding = [region for region in regions if region.first <= line <= region.last]
    return holding[-1].todo if holding else None


def code_at(source: str, line: int) -> str:
    """Line ``line`` of ``source``, stripped and cut to ``CODE_CHARS``."""
    lines = source.splitlines()
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return text if len(text) <= CODE_CHARS else text[: CODE_CHARS - 3] + "..."


# -- the file without some statements (a replay) -------------------------------------------

SWALLOW = "swallow"  # run the statement, as if it had not raised: ``try: … except Exception: pass``
SKIP = "skip"  # do not run it (a statement that left a run active for another to trip over)


def innermost_statement(tree: ast.AST, line: int) -> ast.stmt | None:
    """The innermost statement whose lines hold ``line`` (a compound statement when
    ``line`` is in its header)."""
    found = None
    nodes: list[ast.AST] = [tree]
    while nodes:
        node = nodes.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt) and child.lineno <= line <= (child.end_lineno or child.lineno):
                found = child
                nodes = [child]
                break
            if not isinstance(child, ast.stmt):
                nodes.append(child)  # an ExceptHandler, a match_case: statements inside
    return found


def without(tree: ast.Module, statements: dict[int, str]) -> ast.Module:
    """``tree`` with the innermost statement on each line of ``statements`` swallowed
    (``SWALLOW``) or skipped (``SKIP``)."""
    targets = {}
    for line, how in statements.items():
        statement = innermost_statement(tree, line)
        if statement is not None:
            targets[id(statement)] = how

    def replaced(node: ast.stmt) -> ast.stmt:
        how = targets.get(id(node))
        if how == SKIP:
            return ast.copy_location(ast.Pass(), node)
        if how == SWALLOW:
            handler = ast.ExceptHandler(type=ast.Name("Exception", ast.Load()), name=None, body=[ast.Pass()])
            return ast.copy_location(ast.Try(body=[node], handlers=[handler], orelse=[], finalbody=[]), node)
        return node

    for node in list(ast.walk(tree)):  # every node first: a new ``Try`` is never walked into
        for field, value in ast.iter_fields(node):
            if isinstance(value, list) and any(isinstance(item, ast.stmt) for item in value):
                setattr(node, field, [replaced(item) if isinstance(item, ast.stmt) else item for item in value])
    return ast.fix_missing_locations(tree)
