"""Which failure messages did not help: the kit's messages ranked by the runs students
spent on them before going green, summed over one or more classes.

Reads what ``kata grade --journal-summary FILE`` writes (the class's per-message counts,
no student id: what an instructor sends the kit's maintainers), or a ``results.json``
whose submissions carry their journal's summary (summed the same way). A message seen in
many runs by few students is one to rewrite first: each line shows both figures and the
runs per student who saw it.

Usage: ``python benchmarks/rank_messages.py FILE [FILE ...] [--top N]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(KIT_ROOT))

from grader.lab.todos import todo_order  # noqa: E402
from grader.results import journal  # noqa: E402


def messages_of(data: dict) -> list[dict]:
    """The per-message counts of one file: a journal summary's ``messages``, or those of a
    results.json's journals summed (``journal.shared_summary``)."""
    if not isinstance(data, dict):
        raise ValueError("neither a --journal-summary file nor a results.json")
    if data.get("format") == journal.SHARED_FORMAT:
        items = data.get("messages")
        return [
            item
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict) and type(item.get("runs")) is int and type(item.get("students")) is int
        ]
    if isinstance(data.get("submissions"), list):
        summaries = {str(n): sub.get("journal") for n, sub in enumerate(data["submissions"]) if isinstance(sub, dict)}
        return journal.shared_summary(summaries)["messages"]
    raise ValueError("neither a --journal-summary file nor a results.json")


def ranked(files: list[dict]) -> list[dict]:
    """Every (TODO, message) of ``files`` with its runs and students summed, most runs first."""
    total: dict[tuple[str, str], dict] = {}
    for data in files:
        for item in messages_of(data):
            key = (str(item.get("todo")), str(item.get("id")))
            line = total.setdefault(
                key, {"todo": key[0], "id": key[1], "text": item.get("text"), "runs": 0, "students": 0}
            )
            line["runs"] += int(item.get("runs", 0))
            line["students"] += int(item.get("students", 0))
    return sorted(total.values(), key=lambda line: (-line["runs"], todo_order(line["todo"]), line["id"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="journal summaries or results.json files")
    parser.add_argument("--top", type=int, default=30, help="lines shown (default: %(default)s)")
    args = parser.parse_args(argv)
    loaded = []
    for path in args.files:
        try:
            loaded.append(json.loads(path.read_text(encoding="utf-8")))
            messages_of(loaded[-1])
        except (OSError, ValueError) as reason:
            print(f"rank_messages: {path}: {reason}", file=sys.stderr)
            return 2
    lines = ranked(loaded)
    print(f"{'runs':>5} {'students':>8} {'per st.':>7}  TODO  message")
    for line in lines[: args.top]:
        per = line["runs"] / line["students"] if line["students"] else 0.0
        text = line["text"] if line["text"] is not None else f"(not in this kit's catalog: {line['id']})"
        print(f"{line['runs']:>5} {line['students']:>8} {per:>7.1f}  {line['todo']:<5} {text}")
    if not lines:
        print("no message was seen before green in these journals")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
