"""idempotency key fingerprint

Revision ID: 8e1f4a7b2c35
Revises: bc9634593da8
Create Date: 2026-11-28 09:00:00

A key is stored with a SHA-256 fingerprint of the request's form fields, so a key sent again with a
different payload is refused instead of answered as "already saved". Keys stored before have none
(NULL): they are answered as before.
"""
import sqlalchemy as sa
from alembic import op

revision = '8e1f4a7b2c35'
down_revision = 'bc9634593da8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('idempotency_key') as batch_op:
        batch_op.add_column(sa.Column('fingerprint', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('idempotency_key') as batch_op:
        batch_op.drop_column('fingerprint')
