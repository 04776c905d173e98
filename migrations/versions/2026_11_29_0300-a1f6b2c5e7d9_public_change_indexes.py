"""indexes for the public site's change check, an incident's public updates and the incident list

Revision ID: a1f6b2c5e7d9
Revises: 9e5f1a4b6d83
Create Date: 2026-11-29 03:00:00

The public site's change check (status/public.py, last_published_change) asks for the newest public
update and the newest publication, and an incident's publish panel for its own public updates: with a
million timeline entries each of those read every entry (issue #19). Partial indexes over the public
updates (a few rows among millions) and an index on incident.published_at make each one probe.
The incident list pages newest first by (declared_at, id), postmortems due soonest first by
(resolved_at, id): an index on each pair makes a page a range.
"""
import time

import sqlalchemy as sa
from alembic import op

revision = 'a1f6b2c5e7d9'
down_revision = '9e5f1a4b6d83'
branch_labels = None
depends_on = None

PUBLIC = sa.text("public_status IS NOT NULL")


def upgrade():
    started = time.monotonic()
    op.create_index('ix_timeline_entry_public_recorded', 'timeline_entry', ['recorded_at'], unique=False,
                    sqlite_where=PUBLIC, postgresql_where=PUBLIC)
    op.create_index('ix_timeline_entry_incident_public', 'timeline_entry', ['incident_id', 'occurred_at', 'id'],
                    unique=False, sqlite_where=PUBLIC, postgresql_where=PUBLIC)
    op.create_index('ix_incident_published_at', 'incident', ['published_at'], unique=False)
    op.create_index('ix_incident_declared_id', 'incident', ['declared_at', 'id'], unique=False)
    op.create_index('ix_incident_resolved_id', 'incident', ['resolved_at', 'id'], unique=False)
    print(f"  indexes built in {time.monotonic() - started:.1f} s")


def downgrade():
    op.drop_index('ix_incident_resolved_id', table_name='incident')
    op.drop_index('ix_incident_declared_id', table_name='incident')
    op.drop_index('ix_incident_published_at', table_name='incident')
    op.drop_index('ix_timeline_entry_incident_public', table_name='timeline_entry')
    op.drop_index('ix_timeline_entry_public_recorded', table_name='timeline_entry')
