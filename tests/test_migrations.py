"""The schema only ever comes from the Alembic migrations, and they match the models.

Each backend starts from an EMPTY database (not the suite's migrated template): upgrade to head,
compare with the models, downgrade to base, upgrade again.
"""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from incidents import create_app
from incidents.config import PROJECT_ROOT
from incidents.extensions import db
from incidents.search.schema import is_search_object
from tests.conftest import base_config

VERSIONS = PROJECT_ROOT / "migrations" / "versions"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_app(request, tmp_path):
    """An app on a brand-new, empty database of each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        url = request.getfixturevalue("pg_databases").create("migrations")
    app = create_app(base_config(tmp_path, url))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def schema_differences(app) -> list:
    """What autogenerate would write into a new migration: nothing, when models and schema agree."""
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                          "compare_server_default": True,
                                                          "include_name": include_name})
        return compare_metadata(context, db.metadata)


def include_name(name, type_, parent_names) -> bool:
    return not is_search_object(name, type_)  # the full-text index is outside the models


def table_names(app) -> set[str]:
    with app.app_context():
        return {t for t in sa.inspect(db.engine).get_table_names() if not is_search_object(t, "table")}


def constraint_names(app) -> dict[str, set[str]]:
    """The names of every primary key, foreign key, unique, check constraint and index, per table,
    as the database reports them."""
    with app.app_context():
        inspector = sa.inspect(db.engine)
        names: dict[str, set[str]] = {}
        for table in inspector.get_table_names():
            if table == "alembic_version" or is_search_object(table, "table"):
                continue
            uniques = {c["name"] for c in inspector.get_unique_constraints(table)}
            indexes = {i["name"] for i in inspector.get_indexes(table)
                       if not i.get("duplicates_constraint") and not is_search_object(i["name"], "index")
                       } - uniques  # PostgreSQL backs uniques by indexes
            names[table] = ({inspector.get_pk_constraint(table)["name"]}
                            | {c["name"] for c in inspector.get_foreign_keys(table)}
                            | uniques | indexes
                            | {c["name"] for c in inspector.get_check_constraints(table)})
        return names


def model_constraint_names() -> dict[str, set[str]]:
    return {table.name: {str(c.name) for c in table.constraints} | {str(i.name) for i in table.indexes}
            for table in db.metadata.sorted_tables}


def test_create_app_on_an_empty_database_creates_no_tables(empty_app):
    client = empty_app.test_client()
    client.get("/login")
    assert table_names(empty_app) == set(), "the app made tables behind the migrations' back"


def test_upgrade_downgrade_upgrade_matches_the_models(empty_app):
    assert table_names(empty_app) == set()
    with empty_app.app_context():
        upgrade()
    assert schema_differences(empty_app) == []
    model_tables = {t.name for t in db.metadata.sorted_tables}
    assert table_names(empty_app) == model_tables | {"alembic_version"}
    assert constraint_names(empty_app) == model_constraint_names()

    with empty_app.app_context():
        downgrade(revision="base")
    assert table_names(empty_app) == {"alembic_version"}

    with empty_app.app_context():
        upgrade()
    assert schema_differences(empty_app) == []
    assert constraint_names(empty_app) == model_constraint_names()

    # The upgraded database works: the app can sign someone in on it.
    from tests.factories import Factory

    make = Factory(empty_app)
    email = make.user(role="responder")
    make.incident(by=email)
    response = empty_app.test_client().post("/login", data={"email": email, "password": Factory.PASSWORD})
    assert response.status_code == 302


def test_every_constraint_and_index_in_the_models_is_named():
    """Named constraints can be altered and dropped by name on every backend (SQLite batch mode
    included); an unnamed one gets a different generated name on each database."""
    unnamed = []
    for table in db.metadata.sorted_tables:
        for item in [*table.constraints, *table.indexes]:
            # Named by hand or by the metadata's naming convention; never left to the database.
            if not (isinstance(item.name, str) and item.name):
                unnamed.append(f"{table.name}: {item!r}")
            elif len(item.name) > 63:
                unnamed.append(f"{table.name}: {item.name} is cut short by PostgreSQL (63 chars)")
    assert unnamed == []
    kinds = {type(c).__name__ for t in db.metadata.sorted_tables for c in t.constraints}
    # The check above has something to check: every kind of constraint the models use.
    assert {"PrimaryKeyConstraint", "ForeignKeyConstraint", "UniqueConstraint", "CheckConstraint"} <= kinds


def test_migration_files_start_with_their_date():
    files = sorted(p for p in VERSIONS.glob("*.py") if p.name != "__init__.py")
    assert files, f"no migrations in {VERSIONS}"
    for path in files:
        match = re.match(r"(\d{4})_(\d{2})_(\d{2})_", path.name)
        assert match, f"{path.name} does not start with YYYY_MM_DD_"
        datetime(*map(int, match.groups()))  # a real date, not 2026_13_45


def test_migrations_form_one_chain():
    """One head and one base: two helpers' migrations made in parallel must be merged."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(VERSIONS).parent))
    scripts = ScriptDirectory.from_config(config)
    assert len(scripts.get_heads()) == 1, scripts.get_heads()
    assert len(scripts.get_bases()) == 1, scripts.get_bases()


def test_the_history_migrations_undo_and_redo_on_a_database_with_data(empty_app):
    """The #19 migrations on a database in use: undone and redone without touching the records
    (no table copy whose cascade the append-only timeline would refuse), and the public status
    of each published incident filled in from its updates."""
    from tests.factories import Factory

    with empty_app.app_context():
        upgrade()
    make = Factory(empty_app)
    email = make.user(role="responder")
    published, quiet = make.incident(by=email), make.incident(by=email)
    make.entry(quiet, by=email, body="Restoring contacts from tape.")
    with empty_app.app_context():
        from incidents.auth.models import User
        from incidents.incident.service import get_incident
        from incidents.status import service as status

        actor = db.session.scalar(sa.select(User).where(User.email == email))
        incident = get_incident(session=db.session, reference=published)
        status.publish_incident(session=db.session, actor=actor, incident=incident, public_title="Contacts",
                                impact="minor", body="Looking.")
        status.publish_update(session=db.session, actor=actor, incident=incident, status="monitoring", body="Back.")
        db.session.commit()
        entries = db.session.scalar(sa.text("SELECT count(*) FROM timeline_entry"))
        db.session.remove()  # no transaction of ours may hold the tables the migrations alter
        downgrade(revision="9e5f1a4b6d83")
        upgrade()
        assert db.session.scalar(sa.text("SELECT count(*) FROM timeline_entry")) == entries
        states = dict(db.session.execute(sa.text("SELECT reference, public_status FROM incident")).all())
        db.session.remove()
    assert states == {published: "monitoring", quiet: None}
    assert schema_differences(empty_app) == []
    # The search index was filled again from the existing text.
    client = empty_app.test_client()
    client.post("/login", data={"email": email, "password": Factory.PASSWORD})
    assert quiet in client.get("/", query_string={"q": "tape", "status": ""}).get_data(as_text=True)


def test_undoing_a_migration_that_copies_a_table_keeps_its_childrens_rows(empty_app):
    """SQLite alters a table by copying it; with foreign keys on, dropping the old copy would cascade
    into the timeline (refused: it is append-only) or empty other children. Migrations run with them
    off and check every reference afterwards (migrations/env.py)."""
    from tests.factories import Factory

    with empty_app.app_context():
        upgrade()
    make = Factory(empty_app)
    email = make.user(role="responder")
    reference = make.incident(by=email)
    make.entry(reference, by=email, body="Restoring contacts from tape.")
    with empty_app.app_context():
        entries = db.session.scalar(sa.text("SELECT count(*) FROM timeline_entry"))
        db.session.remove()
        downgrade(revision="7be7d9deaddc")  # undoes the status site's columns on incident (a table copy)
        assert db.session.scalar(sa.text("SELECT count(*) FROM timeline_entry")) == entries
        db.session.remove()
        upgrade()
        assert db.session.scalar(sa.text("SELECT count(*) FROM timeline_entry")) == entries
        assert db.session.scalar(sa.text("SELECT reference FROM incident")) == reference
        if db.engine.dialect.name == "sqlite":  # the app's connections still enforce references
            assert db.session.scalar(sa.text("PRAGMA foreign_keys")) == 1
        db.session.remove()
