"""PostgreSQL: the searched text's tsvector stored on each row, under the GIN index

Revision ID: d5c9e0f1a3b4
Revises: c3b8d4e7f9a2
Create Date: 2026-11-29 05:30:00

The GIN indexes were over to_tsvector(text) expressions: finding matches was fast, but a search for
a word in a hundred thousand texts reads the newest ones first and checked each by parsing its text
again. A stored generated column holds the vector once, kept by PostgreSQL on every write; the GIN
indexes move onto it (issue #19). Adding the columns rewrites both tables (printed: the time it
took). SQLite's FTS5 table is unchanged.
"""
import time

from alembic import op

# As incidents/search/schema.py names them (copied: a migration stays as it was written).
PG_CONFIG = "english"
COLUMN = "search_vector"
INCIDENT_INDEX = "ix_search_incident_text"
ENTRY_INDEX = "ix_search_entry_text"
INCIDENT_TEXT = "translate(reference || ' ' || title || ' ' || coalesce(summary, ''), '-', ' ')"
ENTRY_TEXT = "translate(body, '-', ' ')"

revision = 'd5c9e0f1a3b4'
down_revision = 'c3b8d4e7f9a2'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    started = time.monotonic()
    for table, index, text in (("incident", INCIDENT_INDEX, INCIDENT_TEXT), ("timeline_entry", ENTRY_INDEX, ENTRY_TEXT)):
        op.execute(f"DROP INDEX IF EXISTS {index}")
        op.execute(f"ALTER TABLE {table} ADD COLUMN {COLUMN} tsvector "
                   f"GENERATED ALWAYS AS (to_tsvector('{PG_CONFIG}', {text})) STORED")
        op.execute(f"CREATE INDEX {index} ON {table} USING gin ({COLUMN})")
    print(f"  stored search vectors in {time.monotonic() - started:.1f} s")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, index, text in (("incident", INCIDENT_INDEX, INCIDENT_TEXT), ("timeline_entry", ENTRY_INDEX, ENTRY_TEXT)):
        op.execute(f"DROP INDEX IF EXISTS {index}")
        op.execute(f"ALTER TABLE {table} DROP COLUMN {COLUMN}")
        op.execute(f"CREATE INDEX {index} ON {table} USING gin (to_tsvector('{PG_CONFIG}', {text}))")
