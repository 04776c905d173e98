"""sign-in limits and session lifetimes

Revision ID: 827b3011d92d
Revises: 8e1f4a7b2c35
Create Date: 2026-11-28 09:00:00

Failed sign-ins are counted in `sign_in_attempt` (shared by every app server). Login sessions
learn when they were last used, whether they were "keep me signed in", and how many wrong
passwords the confirm-password page saw in a row. Existing sessions count as last seen when they
started, so sessions idle for longer than the timeout end at the first request after the upgrade.
"""
import sqlalchemy as sa
from alembic import op

revision = '827b3011d92d'
down_revision = '8e1f4a7b2c35'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sign_in_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account', sa.String(length=254), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_attempt'))
    )
    with op.batch_alter_table('sign_in_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_sign_in_attempt_account_at', ['account', 'attempted_at'], unique=False)
        batch_op.create_index('ix_sign_in_attempt_address_at', ['address', 'attempted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_attempt_attempted_at'), ['attempted_at'], unique=False)

    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('remember', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('failed_confirmations', sa.Integer(), server_default=sa.text('0'),
                                      nullable=False))
    op.execute("UPDATE login_session SET last_seen_at = created_at")
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.alter_column('last_seen_at', existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade():
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.drop_column('failed_confirmations')
        batch_op.drop_column('remember')
        batch_op.drop_column('last_seen_at')
    with op.batch_alter_table('sign_in_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_attempt_attempted_at'))
        batch_op.drop_index('ix_sign_in_attempt_address_at')
        batch_op.drop_index('ix_sign_in_attempt_account_at')
    op.drop_table('sign_in_attempt')
