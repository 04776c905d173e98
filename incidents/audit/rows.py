"""History rows against the audit log: each row of a table the app only ever appends to must still
hold what the log recorded when it was created (and, for the few fields set once later, such as a
notice's approval, what the log's later updates set).

The hash chain proves the log was not changed; this proves the rows were not changed behind the
log's back (an UPDATE or DELETE with the triggers dropped, by someone with the database owner's
rights). Columns the log leaves out (`body_html`, `note_html`: HTML rendered from the text beside it)
are not compared.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.audit.models import AuditEvent
from incidents.audit.recorder import plain_value

# Tables whose rows the app never updates or deletes (or sets a field once, which the log records).
HISTORY_TABLES = ("timeline_entry", "notice_version", "notice_release", "postmortem_version",
                  "postmortem_approval", "impact_update", "category_impact", "workstream_progress")
# Foreign keys to accounts are SET NULL by the database when an account is deleted: not tampering.
USER_COLUMNS = {"author_id", "approved_by_id", "released_by_id", "comms_lead_id", "commander_id"}


@dataclass
class RowProblem:
    table: str
    row_id: str
    problem: str


def _same(recorded, current) -> bool:
    if recorded == current:
        return True
    if isinstance(recorded, str) and isinstance(current, str):
        try:  # timestamps: the same instant, whatever its spelling
            return datetime.fromisoformat(recorded) == datetime.fromisoformat(current)
        except ValueError:
            return False
    return False


def _recorded(session: Session, table: str, batch: int) -> dict[str, dict]:
    """Each row's values as the log says they should be now: its create event, then its updates."""
    expected: dict[str, dict] = {}
    stmt = (select(AuditEvent.action, AuditEvent.entity_id, AuditEvent.after)
            .where(AuditEvent.entity_type == table, AuditEvent.action.in_(("create", "update")))
            .order_by(AuditEvent.id).execution_options(yield_per=batch))
    with session.execute(stmt) as rows:
        for action, entity_id, after in rows:
            values = json.loads(after) if after else {}
            if action == "create":
                expected[entity_id] = values
            elif entity_id in expected:
                expected[entity_id].update(values)
            else:
                expected.setdefault(entity_id, {})["(update before create)"] = True
    return expected


def _differences(table: str, row_id: str, recorded: dict, row: dict, users: set) -> RowProblem | None:
    if recorded.get("(update before create)"):
        return RowProblem(table, row_id, "the log has changes to it but no record of its creation")
    for column, value in sorted(recorded.items()):
        if column not in row:
            continue
        now = plain_value(row[column])
        if _same(value, now):
            continue
        if column in USER_COLUMNS and now is None and value not in users:
            continue  # the account was deleted and the database cleared the link
        shown = json.dumps(value, ensure_ascii=False)[:80]
        return RowProblem(table, row_id, f"its {column} is not what the log recorded ({shown}): "
                                         "it was changed behind the log's back")
    return None


def _first_changed(session: Session, table, expected: dict, users: set, batch: int) -> RowProblem | None:
    """The first row that differs from the log; rows seen are taken out of `expected`."""
    stmt = select(table).order_by(*table.primary_key.columns).execution_options(yield_per=batch)
    with session.execute(stmt) as rows:  # closed when we stop early (a server-side cursor)
        for row in rows.mappings():
            row_id = ",".join(str(row[c.name]) for c in table.primary_key.columns)
            recorded = expected.pop(row_id, None)
            if recorded is None:
                return RowProblem(table.name, row_id, "the log has no record of its creation: it was added "
                                  "behind the log's back (or the log's newest events were removed)")
            found = _differences(table.name, row_id, recorded, dict(row), users)
            if found:
                return found
    return None


def compare_rows(*, session: Session, batch: int = 1000, tables=HISTORY_TABLES) -> list[RowProblem]:
    """Every history row against the log: changed rows, rows the log never saw created, and rows
    the log saw created that are gone. At most one problem per table (the first)."""
    from incidents.auth.models import User

    users = set(session.scalars(select(User.id)))
    problems = []
    for table in tables:
        model_table = AuditEvent.metadata.tables[table]
        expected = _recorded(session, table, batch)
        found = _first_changed(session, model_table, expected, users, batch)
        if found is None and expected:
            row_id = min(expected, key=lambda k: (len(k), k))
            found = RowProblem(table, row_id, "the log recorded its creation but the row is gone: it was deleted")
        if found:
            problems.append(found)
    return problems
