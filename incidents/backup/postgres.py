"""PostgreSQL: `pg_dump -Fc` of an exported snapshot, summarised in that same snapshot.

Connection details reach pg_dump and pg_restore through the libpq environment (PGHOST, PGPORT,
PGUSER, PGPASSWORD, PGDATABASE), never on the command line, where `ps` would show the password.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg
from psycopg import IsolationLevel, sql
from sqlalchemy.engine import URL

from incidents.backup.errors import BackupError
from incidents.backup.manifest import summarise_rows

DUMP_NAME = "database.dump"
TOOL_TIMEOUT_S = 6 * 3600


def _conninfo(url: URL, database: str | None = None) -> dict:
    info = {"host": url.host, "port": url.port, "user": url.username, "password": url.password,
            "dbname": database or url.database}
    info.update({k: v for k, v in url.query.items() if isinstance(v, str)})  # sslmode=..., etc.
    return {k: v for k, v in info.items() if v not in (None, "")}


def _libpq_env(url: URL, database: str | None = None) -> dict[str, str]:
    names = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD",
             "dbname": "PGDATABASE", "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT",
             "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY", "connect_timeout": "PGCONNECT_TIMEOUT"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update({names[k]: str(v) for k, v in _conninfo(url, database).items() if k in names})
    return env


def connect(url: URL, database: str | None = None, **options) -> psycopg.Connection:
    try:
        return psycopg.connect(**_conninfo(url, database), **options)
    except psycopg.Error as error:
        raise BackupError(f"cannot connect to PostgreSQL database {database or url.database!r} "
                          f"({str(error).strip().splitlines()[0]}).") from error


def _snapshot_connection(url: URL) -> psycopg.Connection:
    """A connection whose next statement opens a read-only REPEATABLE READ transaction: one snapshot."""
    conn = connect(url)
    conn.isolation_level = IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BackupError(f"{name} is not installed; install the PostgreSQL client "
                          f"(Debian: apt-get install postgresql-client).")
    return path


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    if done.returncode != 0:
        raise BackupError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


def table_names(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute("SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
                        "ORDER BY table_name").fetchall()
    return [name for (name,) in rows]


def summarise(conn: psycopg.Connection) -> tuple[dict[str, dict], str | None]:
    """Every table's row count and checksum, and the Alembic revision, in the open transaction."""
    tables = {}
    for name in table_names(conn):
        # A server-side cursor: big tables stream instead of landing in memory at once.
        with conn.cursor(name=f"backup_{secrets.token_hex(4)}") as cursor:
            cursor.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(name)))
            tables[name] = summarise_rows(iter(lambda c=cursor: c.fetchmany(1000), []))
    revision = None
    if "alembic_version" in tables:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    return tables, revision


def create(url: URL, folder: Path) -> tuple[Path, dict[str, dict], str | None]:
    """Dump the database into FOLDER while it serves; return the dump, its summary and revision.

    A REPEATABLE READ transaction exports its snapshot; pg_dump dumps exactly that snapshot
    (--snapshot) while this transaction computes the summary in it, so the manifest matches the
    dump row for row however many writes happen meanwhile.
    """
    target = folder / DUMP_NAME
    with closing(_snapshot_connection(url)) as conn:
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        dump = subprocess.Popen(
            [_tool("pg_dump"), "--format=custom", f"--snapshot={snapshot}", f"--file={target}"],
            env=_libpq_env(url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            tables, revision = summarise(conn)
            # The snapshot exists only while this transaction is open: wait for pg_dump first.
            _, stderr = dump.communicate(timeout=TOOL_TIMEOUT_S)
        finally:
            if dump.poll() is None:
                dump.kill()
                dump.wait()
            conn.rollback()
    if dump.returncode != 0:
        raise BackupError(f"pg_dump failed (exit {dump.returncode}): {stderr.strip()[-2000:]}")
    return target, tables, revision


@contextmanager
def scratch_database(url: URL):
    """A new empty database on the same server (the role needs CREATEDB), dropped afterwards."""
    name = f"{url.database}_verify_{secrets.token_hex(4)}"[-63:]
    with closing(connect(url, autocommit=True)) as admin:
        try:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.Error as error:
            raise BackupError(f"cannot create a scratch database to verify into ({error}); give the role "
                              "CREATEDB or pass --scratch-url with an empty database.") from error
    try:
        yield url.set(database=name)
    finally:
        with closing(connect(url, autocommit=True)) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                          .format(sql.Identifier(name)))


def restore_into(dump: Path, url: URL, *, replace: bool) -> None:
    """Load DUMP into the database at URL, in one transaction: all of it or nothing.

    With `replace`, the dump's tables, sequences, functions and triggers are dropped and
    created again (`--clean`): tables are replaced, never emptied row by row, so append-only
    triggers are not in the way.
    """
    args = [_tool("pg_restore"), "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges"]
    if replace:
        args += ["--clean", "--if-exists"]
    _run([*args, f"--dbname={url.database}", str(dump)], _libpq_env(url), "pg_restore")


def inspect_copy(url: URL) -> tuple[dict[str, dict], str | None]:
    with closing(_snapshot_connection(url)) as conn:
        try:
            return summarise(conn)
        finally:
            conn.rollback()


def current_revision(url: URL) -> str | None:
    with closing(connect(url)) as conn:
        if conn.execute("SELECT to_regclass('alembic_version')").fetchone()[0] is None:
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None


def tool_version() -> str:
    done = subprocess.run([_tool("pg_dump"), "--version"], capture_output=True, text=True, timeout=30)
    return done.stdout.strip()
