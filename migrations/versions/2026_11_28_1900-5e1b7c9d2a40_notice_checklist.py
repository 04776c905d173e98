"""notice checklist

Revision ID: 5e1b7c9d2a40
Revises: 9a4c2e7d1b58
Create Date: 2026-11-28 19:00:00

The items of the notification rules' content checklists a notice is ticked as covering (issue #13).
"""
import sqlalchemy as sa
from alembic import op

revision = '5e1b7c9d2a40'
down_revision = '9a4c2e7d1b58'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('covered_items', sa.JSON(), nullable=False, server_default='[]'))
    # The default only filled the existing notices; new rows get theirs from the model, as elsewhere.
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.alter_column('covered_items', server_default=None)


def downgrade():
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.drop_column('covered_items')
