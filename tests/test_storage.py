"""Where data lives and how it is kept: SQLite settings, DATABASE_URL, UTC timestamps."""
from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.exc import StatementError

from incidents import create_app
from incidents.auth.models import User
from incidents.config import database_url
from incidents.extensions import db
from incidents.incident.enums import Severity
from incidents.incident.models import Incident
from incidents.incident.service import declare_incident, get_incident
from incidents.timeline.models import TimelineEntry
from tests.conftest import base_config

PRAGMAS = {"foreign_keys": 1, "journal_mode": "wal", "synchronous": 2}


def sqlite_settings(raw) -> dict:
    """The settings of one pooled DBAPI connection (raw, so reading them starts no transaction)."""
    cursor = raw.cursor()
    try:
        return {name: cursor.execute(f"PRAGMA {name}").fetchone()[0]
                for name in [*PRAGMAS, "busy_timeout"]}
    finally:
        cursor.close()


# --- where the database is ---------------------------------------------------------------------

def test_database_url_normalises_postgres_urls_to_psycopg(tmp_path):
    for given in ("postgres://u:p@db.internal:5432/incidents", "postgresql://u:p@db.internal:5432/incidents"):
        assert database_url(given, tmp_path) == "postgresql+psycopg://u:p@db.internal:5432/incidents"
    already = "postgresql+psycopg://u:p@db.internal/incidents"
    assert database_url(already, tmp_path) == already
    assert database_url("sqlite:////srv/data/incidents.db", tmp_path) == "sqlite:////srv/data/incidents.db"


@pytest.mark.parametrize("raw", [None, ""])
def test_without_database_url_it_is_sqlite_in_the_instance_folder(tmp_path, raw):
    assert database_url(raw, tmp_path) == f"sqlite:///{tmp_path / 'incidents.db'}"


def test_default_app_keeps_its_sqlite_file_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    instance = tmp_path / "instance"
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": str(instance)})
    try:
        assert Path(app.instance_path) == instance
        with app.app_context():
            assert db.engine.dialect.name == "sqlite"
            upgrade()
            assert Path(db.engine.url.database) == instance / "incidents.db"
        assert (instance / "incidents.db").is_file()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["instance"]  # nothing written elsewhere
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_database_url_selects_postgresql(tmp_path, monkeypatch, pg_databases, scheme):
    target = sa.engine.make_url(pg_databases.create("url"))
    plain = target.set(drivername=scheme).render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", plain)
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": str(tmp_path / "instance")})
    try:
        with app.app_context():
            assert db.engine.dialect.name == "postgresql"
            assert db.engine.dialect.driver == "psycopg"
            assert db.engine.url.database == target.database
            upgrade()
            assert "incident" in sa.inspect(db.engine).get_table_names()
        assert not (tmp_path / "instance" / "incidents.db").exists()
    finally:
        with app.app_context():
            db.engine.dispose()


# --- SQLite connection settings ----------------------------------------------------------------

@pytest.fixture
def sqlite_app(migrated_sqlite, tmp_path):
    path = tmp_path / "incidents.db"
    shutil.copy(migrated_sqlite, path)
    app = create_app(base_config(tmp_path, f"sqlite:///{path}"))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_every_sqlite_connection_is_durable_and_waits_for_locks(sqlite_app):
    app = sqlite_app
    with app.app_context():
        first, second = db.engine.raw_connection(), db.engine.raw_connection()
        try:
            # Both checked out at once: the second is a new connection, not the first reused.
            assert first.dbapi_connection is not second.dbapi_connection
            for raw in (first, second):
                settings = sqlite_settings(raw)
                assert {k: settings[k] for k in PRAGMAS} == PRAGMAS
                assert settings["busy_timeout"] >= 1000  # waits for a writer instead of failing
        finally:
            first.close()
            second.close()
        db.engine.dispose()
        fresh = db.engine.raw_connection()  # after the pool was emptied
        try:
            assert {k: v for k, v in sqlite_settings(fresh).items() if k in PRAGMAS} == PRAGMAS
        finally:
            fresh.close()


def test_sqlite_refuses_rows_that_point_nowhere(sqlite_app):
    """foreign_keys=ON in practice: a timeline entry for a missing incident is refused."""
    with sqlite_app.app_context(), pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.execute(sa.insert(TimelineEntry.__table__).values(
            incident_id=424242, revision=1, kind="note", visibility="internal", body="orphan",
            occurred_at=datetime(2009, 10, 2, tzinfo=UTC),
            recorded_at=datetime(2009, 10, 2, tzinfo=UTC)))


# --- timestamps ---------------------------------------------------------------------------------

def test_timestamps_come_back_aware_in_utc(app, make):
    email = make.user(role="responder")
    berlin = timezone(timedelta(hours=2))
    declared = datetime(2009, 10, 2, 8, 15, 30, tzinfo=berlin)  # 06:15:30 UTC
    with app.app_context():
        actor = db.session.scalar(sa.select(User).where(User.email == email))
        reference = declare_incident(session=db.session, actor=actor, title="Zones", severity=Severity.SEV2,
                                     declared_at=declared).reference
        db.session.commit()
        db.session.remove()
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        entry = db.session.scalar(sa.select(TimelineEntry).where(TimelineEntry.incident_id == incident.id))
        for value in (incident.declared_at, incident.created_at, incident.updated_at,
                      entry.occurred_at, entry.recorded_at, incident.commander.created_at):
            assert value.tzinfo is not None and value.utcoffset() == timedelta(0), value
        assert incident.declared_at == declared
        assert (incident.declared_at.hour, incident.declared_at.minute) == (6, 15)
        assert entry.occurred_at == declared
        # Stored as the UTC instant, whatever zone it was given in: ordering and filters agree.
        raw = db.session.execute(sa.text("SELECT declared_at FROM incident WHERE id = :id"),
                                 {"id": incident.id}).scalar()
        if isinstance(raw, str):  # SQLite keeps text
            assert raw.startswith("2009-10-02 06:15:30")
        else:
            assert raw.astimezone(UTC).replace(tzinfo=None) == datetime(2009, 10, 2, 6, 15, 30)


def test_a_naive_datetime_is_refused_and_nothing_is_saved(app, make):
    email = make.user(role="responder")
    with app.app_context():
        actor = db.session.scalar(sa.select(User).where(User.email == email))
        with pytest.raises(StatementError) as caught:
            declare_incident(session=db.session, actor=actor, title="Naive", severity=Severity.SEV2,
                             declared_at=datetime(2009, 10, 2, 6, 15))
            db.session.flush()
        assert isinstance(caught.value.orig, ValueError)
        assert "naive" in str(caught.value.orig)
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 0
