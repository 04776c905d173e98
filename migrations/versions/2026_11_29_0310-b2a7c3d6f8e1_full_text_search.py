"""full-text search over incident titles, summaries and timeline text

Revision ID: b2a7c3d6f8e1
Revises: a1f6b2c5e7d9
Create Date: 2026-11-29 03:10:00

SQLite: an FTS5 table (rowid: the entry's id, or minus the incident's id) kept in step by triggers
in the writing transaction, filled in batches of 20,000 entries. PostgreSQL: GIN indexes over
to_tsvector of the same text, which the database maintains itself. Prints how long it took, so an
upgrade of a large database says what it cost (issue #19).
"""
import time

from alembic import op

# As incidents/search/schema.py names them (copied: a migration stays as it was written).
FTS_TABLE = "search_fts"
PG_INCIDENT_INDEX = "ix_search_incident_text"
PG_ENTRY_INDEX = "ix_search_entry_text"
PG_CONFIG = "english"
SQLITE_TOKENIZE = "porter unicode61 remove_diacritics 2"
INCIDENT_TEXT_SQLITE = "new.reference || ' ' || new.title || char(10) || coalesce(new.summary, '')"
# Hyphens read as spaces: PostgreSQL's parser would keep "-3" of "storage-3" as a signed number.
INCIDENT_TEXT_PG = "translate(reference || ' ' || title || ' ' || coalesce(summary, ''), '-', ' ')"
ENTRY_TEXT_PG = "translate(body, '-', ' ')"

revision = 'b2a7c3d6f8e1'
down_revision = 'a1f6b2c5e7d9'
branch_labels = None
depends_on = None

BATCH = 20_000


def upgrade():
    started = time.monotonic()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX {PG_INCIDENT_INDEX} ON incident "
                   f"USING gin (to_tsvector('{PG_CONFIG}', {INCIDENT_TEXT_PG}))")
        op.execute(f"CREATE INDEX {PG_ENTRY_INDEX} ON timeline_entry USING gin (to_tsvector('{PG_CONFIG}', {ENTRY_TEXT_PG}))")
    else:
        _sqlite_upgrade()
    print(f"  full-text search index built in {time.monotonic() - started:.1f} s")


def _sqlite_upgrade():
    op.execute(f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(body, tokenize='{SQLITE_TOKENIZE}')")
    incident_text = INCIDENT_TEXT_SQLITE
    op.execute(f"""CREATE TRIGGER {FTS_TABLE}_incident_insert AFTER INSERT ON incident BEGIN
        INSERT INTO {FTS_TABLE}(rowid, body) VALUES (-new.id, {incident_text}); END""")
    op.execute(f"""CREATE TRIGGER {FTS_TABLE}_incident_update AFTER UPDATE OF title, summary ON incident BEGIN
        DELETE FROM {FTS_TABLE} WHERE rowid = -old.id;
        INSERT INTO {FTS_TABLE}(rowid, body) VALUES (-new.id, {incident_text}); END""")
    op.execute(f"""CREATE TRIGGER {FTS_TABLE}_incident_delete AFTER DELETE ON incident BEGIN
        DELETE FROM {FTS_TABLE} WHERE rowid = -old.id; END""")
    op.execute(f"""CREATE TRIGGER {FTS_TABLE}_entry_insert AFTER INSERT ON timeline_entry BEGIN
        INSERT INTO {FTS_TABLE}(rowid, body) VALUES (new.id, new.body); END""")
    op.execute(f"""CREATE TRIGGER {FTS_TABLE}_entry_delete AFTER DELETE ON timeline_entry BEGIN
        DELETE FROM {FTS_TABLE} WHERE rowid = old.id; END""")
    existing = incident_text.replace("new.", "")
    op.execute(f"INSERT INTO {FTS_TABLE}(rowid, body) SELECT -id, {existing} FROM incident")
    bind = op.get_bind()
    last = 0
    while True:
        top = bind.exec_driver_sql(f"SELECT max(id) FROM (SELECT id FROM timeline_entry WHERE id > {last} "
                                   f"ORDER BY id LIMIT {BATCH})").scalar()
        if top is None:
            break
        bind.exec_driver_sql(f"INSERT INTO {FTS_TABLE}(rowid, body) SELECT id, body FROM timeline_entry "
                             f"WHERE id > {last} AND id <= {top}")
        last = top


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {PG_ENTRY_INDEX}")
        op.execute(f"DROP INDEX IF EXISTS {PG_INCIDENT_INDEX}")
        return
    for trigger in ("incident_insert", "incident_update", "incident_delete", "entry_insert", "entry_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{trigger}")
    op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
