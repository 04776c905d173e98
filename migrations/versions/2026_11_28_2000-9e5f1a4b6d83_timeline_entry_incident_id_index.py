"""timeline entry (incident_id, id) index

Revision ID: 9e5f1a4b6d83
Revises: 8d4e0f3a5c72
Create Date: 2026-11-28 20:00:00

The live incident page asks for an incident's newest entry id every few seconds per open page:
an index on (incident_id, id) answers it with one probe (issue #12).
"""
from alembic import op

revision = '9e5f1a4b6d83'
down_revision = '8d4e0f3a5c72'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('timeline_entry', schema=None) as batch_op:
        batch_op.create_index('ix_timeline_entry_incident_id_id', ['incident_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('timeline_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_timeline_entry_incident_id_id')
