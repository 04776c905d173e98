"""obligation attachment

Revision ID: 8d4e0f3a5c72
Revises: 7c3d9e2f4b61
Create Date: 2026-11-28 19:45:00

The proof of sending kept with a filed obligation (issue #13).
"""
import sqlalchemy as sa
from alembic import op

revision = '8d4e0f3a5c72'
down_revision = '7c3d9e2f4b61'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('obligation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachment_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('attachment_size', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('attachment', sa.LargeBinary(), nullable=True))


def downgrade():
    with op.batch_alter_table('obligation', schema=None) as batch_op:
        batch_op.drop_column('attachment')
        batch_op.drop_column('attachment_size')
        batch_op.drop_column('attachment_name')
