"""the public status kept on the incident; indexes over what is still open

Revision ID: c3b8d4e7f9a2
Revises: b2a7c3d6f8e1
Create Date: 2026-11-29 05:00:00

incident.public_status holds the status of the incident's newest public update (kept by the session,
incidents/status/public_status.py), so the public site finds its unresolved incidents in a small index
instead of reading every published incident's updates; its history pages by (published_at,
public_id). Postmortems due, the open action items and the deadlines walk partial indexes that leave
out closed incidents, finished items and filed obligations, which pile up over the years (issue #19). Prints how long it took.
"""
import time

import sqlalchemy as sa
from alembic import op

revision = 'c3b8d4e7f9a2'
down_revision = 'b2a7c3d6f8e1'
branch_labels = None
depends_on = None

PUBLIC = sa.text("public_status IS NOT NULL")
NOT_CLOSED = sa.text("status != 'closed'")
OPEN_ITEM = sa.text("status IN ('open', 'in_progress')")
PENDING = sa.text("status = 'pending'")
# The status of each published incident's newest public update: latest revisions only, still public
# ("investigating" when none is, as the public view shows it).
BACKFILL = """
UPDATE incident SET public_status = coalesce((
    SELECT e.public_status FROM timeline_entry e
    WHERE e.incident_id = incident.id AND e.public_status IS NOT NULL AND e.visibility = 'public'
      AND NOT EXISTS (SELECT 1 FROM timeline_entry later
                      WHERE later.original_id = coalesce(e.original_id, e.id) AND later.revision > e.revision)
    ORDER BY e.occurred_at DESC, coalesce(e.original_id, e.id) DESC LIMIT 1), 'investigating')
WHERE published_at IS NOT NULL
"""


def upgrade():
    started = time.monotonic()
    op.add_column('incident', sa.Column('public_status', sa.String(length=20), nullable=True))
    op.execute(BACKFILL)
    op.create_index('ix_incident_public_status', 'incident', ['public_status'], unique=False,
                    sqlite_where=PUBLIC, postgresql_where=PUBLIC)
    op.drop_index('ix_incident_published_at', table_name='incident')
    op.create_index('ix_incident_published', 'incident', ['published_at', 'public_id'], unique=False)
    op.drop_index('ix_incident_resolved_id', table_name='incident')
    op.create_index('ix_incident_resolved_id', 'incident', ['resolved_at', 'id'], unique=False,
                    sqlite_where=NOT_CLOSED, postgresql_where=NOT_CLOSED)
    op.drop_index('ix_action_item_status_due', table_name='action_item')
    op.create_index('ix_action_item_open_due', 'action_item', ['due_on', 'id'], unique=False,
                    sqlite_where=OPEN_ITEM, postgresql_where=OPEN_ITEM)
    op.drop_index('ix_obligation_status_due', table_name='obligation')
    op.create_index('ix_obligation_pending_due', 'obligation', ['due_at', 'id'], unique=False,
                    sqlite_where=PENDING, postgresql_where=PENDING)
    print(f"  public status and open-work indexes in {time.monotonic() - started:.1f} s")


def downgrade():
    op.drop_index('ix_obligation_pending_due', table_name='obligation')
    op.create_index('ix_obligation_status_due', 'obligation', ['status', 'due_at'], unique=False)
    op.drop_index('ix_action_item_open_due', table_name='action_item')
    op.create_index('ix_action_item_status_due', 'action_item', ['status', 'due_on'], unique=False)
    op.drop_index('ix_incident_resolved_id', table_name='incident')
    op.create_index('ix_incident_resolved_id', 'incident', ['resolved_at', 'id'], unique=False)
    op.drop_index('ix_incident_published', table_name='incident')
    op.create_index('ix_incident_published_at', 'incident', ['published_at'], unique=False)
    op.drop_index('ix_incident_public_status', table_name='incident')
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops an unindexed column in place. A batch copy would drop the incident table, and
        # its cascade would try to delete every timeline entry, which the append-only trigger refuses.
        op.execute("ALTER TABLE incident DROP COLUMN public_status")
    else:
        op.drop_column('incident', 'public_status')
