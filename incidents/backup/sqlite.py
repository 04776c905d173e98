"""SQLite: online backups with the backup API, summarised inside the snapshot they copy."""
from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from incidents.backup.errors import BackupError
from incidents.backup.manifest import summarise_rows

DUMP_NAME = "database.sqlite3"
BUSY_TIMEOUT_S = 30


def _connect(path: Path, *, must_exist: bool = True) -> sqlite3.Connection:
    if must_exist and not path.is_file():
        raise BackupError(f"{path} does not exist.")
    # Autocommit mode: transactions are begun explicitly below, so their extent is plain.
    return sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_names(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                        "AND name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
    return [name for (name,) in rows]


def summarise(conn: sqlite3.Connection) -> tuple[dict[str, dict], str | None]:
    """Every table's row count and checksum, and the Alembic revision, as this connection sees them."""
    tables = {}
    for name in table_names(conn):
        cursor = conn.execute(f"SELECT * FROM {_quote(name)}")
        tables[name] = summarise_rows(iter(lambda c=cursor: c.fetchmany(1000), []))
    revision = None
    if "alembic_version" in tables:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    return tables, revision


def create(database: Path, folder: Path) -> tuple[Path, dict[str, dict], str | None]:
    """Copy DATABASE into FOLDER while it serves; return the copy, its tables' summary and revision.

    One read transaction holds the snapshot: the summary is computed in it and the backup API
    copies the pages through the same connection, so both see the same committed state, while
    other connections keep writing (WAL).
    """
    target = folder / DUMP_NAME
    with closing(_connect(database)) as source:
        source.execute("BEGIN")
        try:
            tables, revision = summarise(source)  # the first read fixes the snapshot
            with closing(sqlite3.connect(target, isolation_level=None)) as copy:
                source.backup(copy)
                # A self-contained single file: no -wal/-shm beside it.
                copy.execute("PRAGMA journal_mode = DELETE")
        finally:
            source.execute("ROLLBACK")
    return target, tables, revision


def inspect_copy(path: Path) -> tuple[dict[str, dict], str | None]:
    """Check a restored copy's integrity and summarise it."""
    try:
        with closing(_connect(path)) as conn:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
            if problems != ["ok"]:
                raise BackupError("the restored database fails SQLite's integrity check: "
                                  + "; ".join(problems[:5]))
            conn.execute("BEGIN")
            try:
                return summarise(conn)
            finally:
                conn.execute("ROLLBACK")
    except sqlite3.DatabaseError as error:
        raise BackupError(f"the backup does not open as an SQLite database ({error}).") from error


def restore_into(dump: Path, database: Path) -> None:
    """Replace DATABASE's whole content with DUMP, page by page, in one step.

    The backup API swaps every page under an exclusive lock: tables are replaced, rows are never
    deleted one by one (append-only triggers stay untouched), and other connections see either
    the old database or the restored one.
    """
    try:
        with closing(_connect(dump)) as source, closing(_connect(database, must_exist=False)) as live:
            source.backup(live)
            live.execute("PRAGMA journal_mode = WAL")  # the app's setting, whatever the copy said
    except sqlite3.DatabaseError as error:
        raise BackupError(f"restoring {dump} failed ({error}).") from error


def current_revision(database: Path) -> str | None:
    """The live database's Alembic revision (None for an empty or missing database)."""
    if not database.is_file():
        return None
    with closing(_connect(database)) as conn:
        has_table = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                 "AND name = 'alembic_version'").fetchone()
        if not has_table:
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None


def tool_version() -> str:
    return f"SQLite {sqlite3.sqlite_version}"
