"""contract rules

Revision ID: 7c3d9e2f4b61
Revises: 5e1b7c9d2a40
Create Date: 2026-11-28 19:30:00

Notification obligations an admin adds in the app, from customer contracts (issue #13).
"""
import sqlalchemy as sa
from alembic import op

revision = '7c3d9e2f4b61'
down_revision = '5e1b7c9d2a40'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('contract_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('recipient', sa.String(length=30), nullable=False),
    sa.Column('anchor', sa.String(length=30), nullable=False),
    sa.Column('offset_kind', sa.String(length=30), nullable=False),
    sa.Column('offset_amount', sa.Integer(), nullable=True),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_contract_rule_created_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_rule'))
    )


def downgrade():
    op.drop_table('contract_rule')
