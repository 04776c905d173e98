"""outbound webhooks: the secret before the last rotation, which signs beside the new one for a while

Revision ID: c7d8e9f0a1b2
Revises: a5b6c7d8e9f0
Create Date: 2026-11-29 17:45:00.000000

Issue #17. Rotating a webhook's secret no longer cuts its receiver off: for
WEBHOOK_SECRET_GRACE_HOURS each message carries a signature by the old secret too.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c7d8e9f0a1b2'
down_revision = 'a5b6c7d8e9f0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('webhook_subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_secret', sa.String(length=100), nullable=True))


def downgrade():
    with op.batch_alter_table('webhook_subscription', schema=None) as batch_op:
        batch_op.drop_column('previous_secret')
