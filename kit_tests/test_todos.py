"""The TODO table is consistent, and every TODO has kata tests."""

import subprocess
import sys

from grader.core.paths import KIT_ROOT
from grader.lab.todos import graded_todos, load_todos



def test_there_are_15_graded_todos_and_2_bonus_ones_with_the_spec_ids():
    ids = [todo.id for todo in load_todos()]
    assert ids == ["1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "2.3", "2.4", "3.1", "3.2", "3.3",
                   "4.1", "4.2", "4.3", "4.4", "B.1", "B.2"]
    assert sum(todo.points for todo in graded_todos()) == 15


def test_every_todo_has_bilingual_text_and_hints():
    for todo in load_todos():
        assert todo.title and todo.todo_en and todo.todo_es and todo.hint_en and todo.hint_es


def test_the_tree_model_hint_of_3_3_names_skops_trusted_types():
    todo = {t.id: t for t in load_todos()}["3.3"]
    assert "skops_trusted_types" in todo.hint_en and "skops_trusted_types" in todo.hint_es


def test_every_todo_has_at_least_one_kata_test():
    listing = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "todo", str(KIT_ROOT / "tests")],
        capture_output=True, text=True, cwd=KIT_ROOT, check=True,
    ).stdout
    import re

    tested = set()
    for line in listing.splitlines():
        if "::" in line:
            tested.add(line)
    sources = "\n".join(p.read_text() for p in (KIT_ROOT / "tests").glob("test_*.py"))
    for todo in load_todos():
        assert f'@pytest.mark.todo("{todo.id}")' in sources, f"TODO {todo.id} has no test"
    assert len(tested) >= len(load_todos())
    assert re.search(r"\d+ tests? collected", listing)


def test_every_task_and_todo_has_a_spanish_title_shown_when_spanish_is_chosen():
    from grader.core import i18n
    from grader.lab.todos import load_tasks, load_todos

    items = [*load_tasks(), *load_todos()]
    assert [item.title for item in items if not item.title_es.strip()] == []
    with i18n.use("es"):
        assert load_todos()[0].shown_title == load_todos()[0].title_es
    with i18n.use(""):  # no language chosen: English, as every other title
        assert load_todos()[0].shown_title == load_todos()[0].title


def test_what_comes_after_green_tasks_is_the_next_task_then_the_bonus_then_kata_check():
    from grader.core import i18n
    from grader.lab.progress import next_step

    assert next_step([1]) == "✓ Task 1 is green. Next: task 2, pytest tests/test_task2.py"
    assert next_step([1, 2]) == "✓ Tasks 1, 2 are green. Next: task 3, pytest tests/test_task3.py"
    assert next_step([4]) == "✓ Task 4 is green. Next, the bonus (not counted): pytest tests/test_bonus.py"
    assert next_step([5]) == "✓ Task bonus is green. `kata check` shows every TODO and your score."
    assert next_step([1, 2, 3, 4, 5]) == (
        "✓ Every task is green, the bonus too. `kata check` shows every TODO and your score.")
    with i18n.use("es"):
        assert next_step([3]) == "✓ La tarea 3 está en verde. Siguiente: la tarea 4, pytest tests/test_task4.py"
        assert next_step([4]) == "✓ La tarea 4 está en verde. Ahora, el bonus (no cuenta): pytest tests/test_bonus.py"
