"""A hot read that is one SELECT, run on a bare driver cursor outside any transaction.

The API's most asked read (one incident) cost more in SQLAlchemy's Session than in the database:
joining a transaction, BEGIN, building a Result, ROLLBACK and closing the session were about 85% of
its time on SQLite, and on PostgreSQL the pool's pre-ping, BEGIN and ROLLBACK were three of its four
round trips. One SELECT statement sees one consistent snapshot by itself on both databases, so it
needs no transaction: it is compiled once per dialect, its parameters bound by name, its values
passed through the columns' own result processors (UTC times, JSON), exactly as the ORM would
return them. On PostgreSQL it runs on a second, small pool of the same database without pre-ping: a
read can simply be tried again, so a connection the server dropped (a restart, a failover) is
found by the read itself, thrown away, and the read repeated once on a fresh one.

Only for reads: a statement that writes does not belong here (it would commit on its own).
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.sql import Select

from incidents.db import db


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # parameter names in order, for drivers that bind by position
    processors: tuple[Callable[[Any], Any] | None, ...]


class PreparedRead:
    """`PreparedRead(select(...)).first(name=value)`: the first row as a tuple, or None."""

    def __init__(self, statement: Select):
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled_for(self, dialect: Dialect) -> _Compiled:
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            sql = self.statement.compile(dialect=dialect)
            processors = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None)
                               for column in self.statement.selected_columns)
            compiled = _Compiled(str(sql), tuple(sql.positiontup) if sql.positional else None, processors)
            self._by_dialect[dialect.name] = compiled
        return compiled

    def first(self, **params: Any) -> tuple | None:
        app_engine = db.engine
        engine = _read_engine(app_engine)
        compiled = self._compiled_for(engine.dialect)
        values = params if compiled.positional is None else tuple(params[name] for name in compiled.positional)
        row = _run(engine, compiled.sql, values, listeners=app_engine)
        if row is None:
            return None
        return tuple(value if process is None else process(value)
                     for value, process in zip(row, compiled.processors, strict=True))


def _run(engine: Engine, sql: str, values, *, listeners: Engine) -> tuple | None:
    for attempt in (1, 2):
        raw = engine.raw_connection()
        try:
            return _select_one(listeners, raw, sql, values)
        except engine.dialect.loaded_dbapi.Error as error:
            if attempt == 2 or not engine.dialect.is_disconnect(error, raw.dbapi_connection, None):
                raise
            raw.invalidate()  # dropped by the server: never handed out again; try a fresh one
        finally:
            raw.close()  # back to the pool; no transaction was opened, so nothing to roll back
    raise AssertionError("unreachable")


_READ_ENGINES: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_READ_ENGINES_LOCK = threading.Lock()


def _read_engine(engine: Engine) -> Engine:
    """The pool prepared reads use: SQLite's own (a ping there is a function call, not a round
    trip); for a server database, one without pre-ping beside the app's, disposed with it."""
    if engine.dialect.name == "sqlite":
        return engine
    read = _READ_ENGINES.get(engine)
    if read is None:
        with _READ_ENGINES_LOCK:
            read = _READ_ENGINES.get(engine)
            if read is None:
                options = {**current_app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}), "pool_pre_ping": False}
                read = create_engine(engine.url, **options)
                event.listen(engine, "engine_disposed", lambda _engine, read=read: read.dispose())
                _READ_ENGINES[engine] = read
    return read


def _select_one(listeners: Engine, raw, sql: str, values) -> tuple | None:
    driver = raw.driver_connection
    autocommit = getattr(driver, "autocommit", None)  # psycopg: otherwise its first statement sends BEGIN
    if autocommit is False:
        driver.autocommit = True
    try:
        cursor = raw.cursor()
        try:
            if listeners.dispatch.before_cursor_execute:
                # A bare cursor passes by the engine's events; whoever counts or logs the app's
                # statements (the tests' statement counts, the benches) listens on the app's engine,
                # not the read pool's, and is told, with no Connection to give.
                listeners.dispatch.before_cursor_execute(None, cursor, sql, values, None, False)
            cursor.execute(sql, values)
            return cursor.fetchone()
        finally:
            cursor.close()
    finally:
        if autocommit is False:
            driver.autocommit = False

