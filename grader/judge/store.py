"""Fresh, isolated MLflow stores in ~30 ms: copy a pre-migrated SQLite template.

Creating a SQLite store runs MLflow's migrations (~1 s); MLflow's own test-suite
instead migrates one template per session and copies it per test. We go one step
further and cache the template on disk, keyed by the MLflow version, so reruns of
a student's tests skip the migration entirely.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from functools import cache
from pathlib import Path

from grader.core.quiet import silence_mlflow

STORE_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlruns"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mlflow-kata"


# MLflow migrates with alembic, whose ``context`` is one global of the process: two
# threads migrating at once (a test and the model server starting in the background,
# on a cold cache) run each other's steps ("duplicate column name: step").
_building = threading.Lock()


def template_path() -> Path:
    """The migrated template for the installed MLflow, built once and cached. One
    process builds it at a time (a lock file beside it): a first run's warm judge and
    its sandbox's zygote both need it, and the second waits for the first's instead of
    migrating again (~1 s of CPU)."""
    import mlflow

    path = cache_dir() / f"store-template-mlflow-{mlflow.__version__}.db"
    if path.is_file():
        return path
    with _building:
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path.with_suffix(".lock"), "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not path.is_file():
                    _build_template(path)
    return path


def _build_template(path: Path) -> None:
    silence_mlflow()
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        draft = Path(scratch) / STORE_FILE
        uri = f"sqlite:///{draft}"
        with _unsynced(draft):
            store = SqlAlchemyStore(uri, str(Path(scratch) / ARTIFACTS_DIR))
            RegistryStore(uri)
            store.engine.dispose()
        os.replace(draft, path)  # atomic: other processes building it never see half a file


@contextlib.contextmanager
def _unsynced(draft: Path):
    """Connections to ``draft`` (only) skip the disk syncs of each migration's commit and
    keep their rollback journal in memory: the ~70 migrations take ~2 s instead of ~8 on a
    busy disk. Neither setting is stored in the file, and a draft a crash leaves half-made
    is never used (it becomes the template only by the atomic rename after)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    target = os.path.realpath(draft)

    def on_connect(connection, _record) -> None:
        if not isinstance(connection, sqlite3.Connection):
            return
        files = [row[2] for row in connection.execute("PRAGMA database_list")]
        if any(name and os.path.realpath(name) == target for name in files):
            connection.execute("PRAGMA synchronous = OFF")
            connection.execute("PRAGMA journal_mode = MEMORY")

    event.listen(Engine, "connect", on_connect)
    try:
        yield
    finally:
        event.remove(Engine, "connect", on_connect)


def new_store(directory: Path) -> str:
    """Create a fresh store in ``directory``; return its tracking (and registry) URI.

    Artifacts go to ``directory/mlruns``, including the Default experiment's.
    """
    directory.mkdir(parents=True, exist_ok=True)
    database = directory / STORE_FILE
    shutil.copyfile(template_path(), database)
    artifacts = directory / ARTIFACTS_DIR
    artifacts.mkdir(exist_ok=True)
    with sqlite3.connect(database) as connection:
        connection.execute(
            "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
            ((artifacts / "0").as_uri(),),
        )
    connection.close()
    return f"sqlite:///{database}"


# -- a store student code wrote, checked before the judge (maybe root) opens it -----------
# A lab store is well under 1 MB with a few dozen rows a table; the caps leave room for
# any honest mistake (a loop logging thousands of metrics) and none for a flood.
MAX_STORE_BYTES = 64 << 20
MAX_TABLE_ROWS = 50_000
CHECK_DEADLINE_S = 5.0


def template_schema() -> tuple:
    """The schema of the template stores are copied from now. Kept per template file: a
    process whose cache folder changes ($XDG_CACHE_HOME, $HOME: a test's own home) copies
    another template, whose constraints SQLite may list in another order, and its stores
    must not be refused as "not MLflow's" against the first one's."""
    return _schema_at(template_path())


@cache
def _schema_at(template: Path) -> tuple:
    return schema_of(template)


def schema_of(database: Path) -> tuple:
    """Every object SQLite knows in ``database`` (tables, indexes, views, triggers), as
    ``(type, name, table, sql)``, sorted."""
    with _read_only(database) as connection:
        # SQLite's own objects (sqlite_sequence appears with the first AUTOINCREMENT row)
        # are its to make: no statement of the student's can create a name starting so.
        rows = connection.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        ).fetchall()
    return tuple(sorted(rows, key=lambda row: tuple(str(field) for field in row)))


class _read_only:
    """A read-only connection that trusts nothing in the schema and gives up at a deadline."""

    def __init__(self, database: Path):
        self.database = database

    def __enter__(self) -> sqlite3.Connection:
        self.connection = sqlite3.connect(f"{Path(self.database).resolve().as_uri()}?mode=ro", uri=True, timeout=1)
        deadline = time.monotonic() + CHECK_DEADLINE_S
        self.connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        self.connection.execute("PRAGMA trusted_schema = OFF")
        return self.connection

    def __exit__(self, *_) -> None:
        self.connection.close()


def store_refusal(database: Path) -> str:
    """Why the judge must not open the store student code left at ``database`` (one line,
    said to the student), or "". Its size is capped, its schema must be exactly the
    template's (no view, trigger, index or column of the student's: a view on a table's
    name once made the judge compute for 281 s or read 900 MB a row), and every table's
    rows are capped, all read-only under a deadline."""
    try:
        size = os.lstat(database).st_size
        if size > MAX_STORE_BYTES:
            return f"the MLflow store is {size >> 20} MB, over the kit's {MAX_STORE_BYTES >> 20} MB"
        found = schema_of(database)
        expected = template_schema()
        if found != expected:
            extra = [f"{kind} {name!r}" for kind, name, _, _ in sorted(set(found) - set(expected))]
            gone = [f"{kind} {name!r}" for kind, name, _, _ in sorted(set(expected) - set(found))]
            what = "; ".join(
                filter(
                    None,
                    [
                        "added or changed: " + ", ".join(extra[:3]) if extra else "",
                        "missing: " + ", ".join(gone[:3]) if gone else "",
                    ],
                )
            )
            return f"the MLflow store's schema is not MLflow's ({what})"
        tables = [name for kind, name, _, _ in expected if kind == "table"]
        with _read_only(database) as connection:
            for table in tables:
                quoted = '"' + table.replace('"', '""') + '"'
                (rows,) = connection.execute(
                    f"SELECT count(*) FROM (SELECT 1 FROM {quoted} LIMIT {MAX_TABLE_ROWS + 1})"
                ).fetchone()
                if rows > MAX_TABLE_ROWS:
                    return f"the MLflow store's table {table!r} has over {MAX_TABLE_ROWS} rows"
    except sqlite3.DatabaseError as error:  # interrupted (the deadline), malformed, locked
        return f"the MLflow store could not be read safely: {error}"
    except OSError as error:
        return f"the MLflow store could not be read: {error.strerror}"
    return ""
