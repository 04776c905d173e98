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
class Compiled:
    """A statement compiled for one dialect, with what binding its parameters and reading its rows
    through the columns' own types needs (the UTC times, JSON): what SQLAlchemy does per execution,
    worked out once."""

    sql: str
    positional: tuple[str, ...] | None  # parameter names in order, for drivers that bind by position
    processors: tuple[Callable[[Any], Any] | None, ...]  # per selected column
    bind_processors: dict[str, Callable[[Any], Any]]
    constants: dict[str, Any]  # the statement's own literal parameters (e.g. the 1 of "reports + 1")

    def driver_params(self, params: dict[str, Any]) -> dict[str, Any] | tuple:
        """`params` (by name) as the driver takes them, each through its column's type."""
        values = {**self.constants, **params} if self.constants else params
        processors = self.bind_processors
        if self.positional is None:
            return {name: processors[name](value) if name in processors else value for name, value in values.items()}
        return tuple(processors[name](values[name]) if name in processors else values[name]
                     for name in self.positional)

    def row_of(self, row) -> tuple:
        return tuple(value if process is None else process(value)
                     for value, process in zip(row, self.processors, strict=True))


def compile_for(statement, dialect: Dialect, column_keys: list[str] | None = None) -> Compiled:
    """`statement` compiled for `dialect` (an INSERT's `column_keys`: the columns its rows give)."""
    sql = statement.compile(dialect=dialect, column_keys=column_keys)
    selected = getattr(statement, "exported_columns", None) or ()  # a SELECT's, or what RETURNING gives
    processors = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in selected)
    bind_processors, constants = {}, {}
    for bind, name in sql.bind_names.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            bind_processors[name] = process
        if bind.callable is not None or bind.value is not None:
            constants[name] = bind.effective_value
    return Compiled(str(sql), tuple(sql.positiontup) if sql.positional else None, processors, bind_processors,
                    constants)


class PreparedRead:
    """`PreparedRead(select(...)).first(name=value)`: the first row as a tuple, or None."""

    def __init__(self, statement: Select):
        self.statement = statement
        self._by_dialect: dict[str, Compiled] = {}

    def _compiled_for(self, dialect: Dialect) -> Compiled:
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            compiled = self._by_dialect[dialect.name] = compile_for(self.statement, dialect)
        return compiled

    def first(self, **params: Any) -> tuple | None:
        app_engine = db.engine
        engine = bare_pool(app_engine)
        compiled = self._compiled_for(engine.dialect)
        row = _run(engine, compiled.sql, compiled.driver_params(params), listeners=app_engine)
        return None if row is None else compiled.row_of(row)


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


def bare_pool(engine: Engine) -> Engine:
    """The pool prepared reads (and incidents/direct_write.py's writes) use: SQLite's own (a ping
    there is a function call, not a round trip); for a server database, one without pre-ping beside
    the app's, disposed with it."""
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

