"""the ownership audit kept per system: each system's problems as a bit mask and their score, the
next moment time changes them, and the restore-test age limit they were worked out with

Revision ID: e1f2a3b4c5d6
Revises: d8e9f0a1b2c3
Create Date: 2026-11-30 02:00:00.000000

Issue #15. The audit page read every system's facts and judged each one per view; it now reads
counts and its worst systems from these rows (incidents/systems/audit_kept.py). They start empty:
the first audit read works out every row (no setting row means "never worked out").
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e1f2a3b4c5d6'
down_revision = 'd8e9f0a1b2c3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'system_audit',
        sa.Column('system_id', sa.Integer(), nullable=False),
        sa.Column('listed', sa.Boolean(), nullable=False),
        sa.Column('mask', sa.Integer(), nullable=False),
        sa.Column('score', sa.Integer(), nullable=False),
        sa.Column('personal_data', sa.Boolean(), nullable=False),
        sa.Column('name_key', sa.String(length=120), nullable=False),
        sa.Column('recheck_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('restore_due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('worked_out_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['system_id'], ['system.id'], name=op.f('fk_system_audit_system_id_system'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('system_id', name=op.f('pk_system_audit')),
    )
    op.create_index('ix_system_audit_order', 'system_audit',
                    ['listed', sa.text('score DESC'), sa.text('personal_data DESC'), 'name_key'], unique=False)
    op.create_index('ix_system_audit_mask', 'system_audit', ['listed', 'mask'], unique=False)
    op.create_index(op.f('ix_system_audit_recheck_at'), 'system_audit', ['recheck_at'], unique=False)
    op.create_index(op.f('ix_system_audit_worked_out_at'), 'system_audit', ['worked_out_at'], unique=False)
    op.create_table(
        'system_audit_setting',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('restore_test_max_days', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_system_audit_setting')),
    )


def downgrade():
    op.drop_table('system_audit_setting')
    op.drop_index(op.f('ix_system_audit_worked_out_at'), table_name='system_audit')
    op.drop_index(op.f('ix_system_audit_recheck_at'), table_name='system_audit')
    op.drop_index('ix_system_audit_mask', table_name='system_audit')
    op.drop_index('ix_system_audit_order', table_name='system_audit')
    op.drop_table('system_audit')
