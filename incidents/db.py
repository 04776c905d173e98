"""Database plumbing: the declarative base, UTC timestamps, enum columns and SQLite durability settings."""
from __future__ import annotations

import enum
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from flask import g, has_request_context, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, Enum, MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, MappedColumn, mapped_column
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so migrations can drop and alter them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def in_values(column: str, values: tuple[str, ...]) -> str:
    """SQL for a CHECK constraint that `column` holds one of `values` (NULL passes, as in SQL)."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


_frozen_now: ContextVar[datetime | None] = ContextVar("frozen_now", default=None)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (or the time set by `clock_at`)."""
    return _frozen_now.get() or datetime.now(UTC)


@contextmanager
def clock_at(moment: datetime):
    """Run a block as if it were `moment`: used to replay a recorded story (the demo, imports)."""
    token = _frozen_now.set(moment)
    try:
        yield
    finally:
        _frozen_now.reset(token)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware.

    PostgreSQL keeps the zone itself (timestamptz); SQLite has no zone, so we store naive UTC
    and put the zone back on the way out. Naive input is refused: it is a bug, not a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a timezone first")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_column(enum_cls: type[enum.Enum], *, name: str, **column_options) -> MappedColumn:
    """A column holding members of `enum_cls`, stored by value under the CHECK constraint `name`."""
    # Plain strings with a CHECK rather than a native type: the same schema on SQLite and PostgreSQL,
    # and a new member is a constraint change, not an ALTER TYPE.
    return mapped_column(Enum(enum_cls, name=name, native_enum=False, length=20, validate_strings=True,
                              create_constraint=True), **column_options)


SQLITE_BUSY_TIMEOUT_MS = 10_000


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, _record):
    """Make every SQLite connection durable and safe for concurrent writers."""
    if type(dbapi_connection).__module__.split(".")[0] not in ("sqlite3", "pysqlite2"):
        return
    # We issue BEGIN ourselves (see _begin_sqlite), so the driver must not.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.close()


def _wants_write_lock() -> bool:
    """Requests that may write take SQLite's write lock up front; reads stay concurrent."""
    if has_request_context():
        if g.get("reading_before_writing", False):
            return False
        return request.method not in ("GET", "HEAD", "OPTIONS") or g.get("write_lock_on_begin", False)
    return True  # CLI commands and scripts


@contextmanager
def reading_before_writing():
    """In a request that will write: transactions begun inside this block only read (SQLite: a
    plain BEGIN, concurrent with the writer), so a check that needs no lock (a token's) is not
    made while holding the write lock every other writer waits for. Its own session's work only:
    the request's writes begin after the block, with the lock."""
    g.reading_before_writing = True
    try:
        yield
    finally:
        g.reading_before_writing = False


def writing_from_here() -> None:
    """For a GET that must write (an audited look-up), or a request whose reads ran in a
    `reading_before_writing` block: end its read transaction, so the next one takes SQLite's write
    lock up front instead of failing to upgrade when another writer got in first. The caller
    commits what it writes."""
    g.write_lock_on_begin = True
    g.reading_before_writing = False
    db.session.commit()


@event.listens_for(Engine, "begin")
def _begin_sqlite(conn):
    """Start SQLite transactions explicitly.

    A deferred transaction that reads and then writes can fail at once with SQLITE_BUSY when
    another writer got in first; BEGIN IMMEDIATE waits for the lock (busy_timeout) instead.
    """
    if conn.dialect.name != "sqlite":
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE" if _wants_write_lock() else "BEGIN")
