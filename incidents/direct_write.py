"""A hot write of a few statements, run on a bare driver connection in its own transaction.

Backup heartbeats arrive by the thousand when a large estate's cron jobs report in the same minute,
and each one is a few rows. Through the Session, a batch of them spent more of the app server's CPU
in SQLAlchemy (checking out and pinging a connection, beginning and committing, building a Result
per statement) than in the database. Here each statement is compiled once per dialect with its
parameters' type processing worked out (incidents/prepared_read.py's `compile_for`), and a batch is
BEGIN, a few `execute`/`executemany` calls straight on the driver's cursor, COMMIT: the same SQL,
the same stored values, without the bookkeeping.

Only for writes that touch no ORM-managed state a Session could hold (heartbeats are Core
statements on tables the audit log leaves out): nothing here reaches the Session's unit of work or
the audit recorder.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from incidents.prepared_read import Compiled, bare_pool, compile_for

T = TypeVar("T")


class PreparedWrite:
    """A statement to run in `run_direct`: an INSERT (with the columns its rows give), an UPDATE
    (with or without RETURNING), or a SELECT whose rows the write needs."""

    def __init__(self, statement, column_keys: Sequence[str] | None = None, *,
                 per_dialect: dict[str, Any] | None = None):
        """`per_dialect`: where the databases need different SQL, the statement for each by name."""
        self.statement = statement
        self.column_keys = list(column_keys) if column_keys else None
        self._per_dialect = per_dialect or {}
        self._by_dialect: dict[str, Compiled] = {}

    def compiled_for(self, dialect) -> Compiled:
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            statement = self._per_dialect.get(dialect.name, self.statement)
            compiled = self._by_dialect[dialect.name] = compile_for(statement, dialect, self.column_keys)
        return compiled


class DirectTransaction:
    """What a `run_direct` work function runs its statements on (parameters by name, as values of
    the statement's own types)."""

    def __init__(self, engine: Engine, cursor):
        self._engine, self._cursor = engine, cursor

    def _told(self, sql: str, params: Any, many: bool) -> None:
        # A bare cursor passes by the engine's events; whoever counts or logs the app's statements
        # (the tests' statement counts, the benches) listens there, and is told.
        if self._engine.dispatch.before_cursor_execute:
            self._engine.dispatch.before_cursor_execute(None, self._cursor, sql, params, None, many)

    def execute_sql(self, sql: str) -> None:
        self._told(sql, (), False)
        self._cursor.execute(sql)

    def rows(self, prepared: PreparedWrite, **params: Any) -> list[tuple]:
        compiled = prepared.compiled_for(self._engine.dialect)
        values = compiled.driver_params(params)
        self._told(compiled.sql, values, False)
        self._cursor.execute(compiled.sql, values)
        return [compiled.row_of(row) for row in self._cursor.fetchall()]

    def executemany(self, prepared: PreparedWrite, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        compiled = prepared.compiled_for(self._engine.dialect)
        values = [compiled.driver_params(row) for row in rows]
        self._told(compiled.sql, values, True)
        self._cursor.executemany(compiled.sql, values)


def run_direct(engine: Engine, work: Callable[[DirectTransaction], T]) -> T:
    """`work(transaction)` in a transaction on a bare driver connection, committed when it returns
    and rolled back when it raises. On SQLite it takes the write lock at once (BEGIN IMMEDIATE, as
    the app's own writes do: see incidents/db.py). On PostgreSQL the connection comes from a pool
    without pre-ping (a round trip per write saved); a connection the server dropped is found by
    a statement, thrown away, and the work run again once on a fresh one: nothing of it can have
    been committed (only a failure at COMMIT itself leaves that unknown, and is not retried). So
    `work` may run twice: it keeps its effects to the transaction."""
    pool = bare_pool(engine)
    for attempt in (1, 2):
        raw = pool.raw_connection()
        committing = False
        try:
            cursor = raw.cursor()
            try:
                transaction = DirectTransaction(engine, cursor)
                if pool.dialect.name == "sqlite":  # the driver is told never to begin by itself
                    transaction.execute_sql("BEGIN IMMEDIATE")
                    result = work(transaction)
                    committing = True
                    transaction.execute_sql("COMMIT")
                else:  # psycopg begins at the first statement by itself
                    result = work(transaction)
                    committing = True
                    raw.driver_connection.commit()
                return result
            finally:
                cursor.close()
        except BaseException as error:
            dropped = _roll_back(pool, raw, error)
            if not dropped or committing or attempt == 2:
                raise
        finally:
            raw.close()  # back to the pool (or, invalidated, closed)
    raise AssertionError("unreachable")


def _roll_back(engine: Engine, raw, error: BaseException) -> bool:
    """Undo the transaction; True when the server had dropped the connection (now thrown away)."""
    if isinstance(error, engine.dialect.loaded_dbapi.Error) and engine.dialect.is_disconnect(
            error, raw.dbapi_connection, None):
        raw.invalidate()  # never handed out again
        return True
    with contextlib.suppress(engine.dialect.loaded_dbapi.Error):
        raw.driver_connection.rollback()
    return False
