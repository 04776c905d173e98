"""scheduled maintenance on the status page: the plan, its components and its public updates

Revision ID: f7a1b3c5d8e9
Revises: e6d0f2a4b5c7
Create Date: 2026-11-29 07:50:45

Issue #16. Where a maintenance stands (automatic start and completion) is worked out when read
(incidents/maintenance/lifecycle.py), so only the plan and the posted updates are stored.
"""
import sqlalchemy as sa
from alembic import op

revision = 'f7a1b3c5d8e9'
down_revision = 'e6d0f2a4b5c7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('maintenance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=False),
    sa.Column('scheduled_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('auto_start', sa.Boolean(), nullable=False),
    sa.Column('auto_complete', sa.Boolean(), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('scheduled_until > scheduled_for', name=op.f('ck_maintenance_window_ends_after_it_starts')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_maintenance_created_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_maintenance')),
    sa.UniqueConstraint('public_id', name=op.f('uq_maintenance_public_id'))
    )
    with op.batch_alter_table('maintenance', schema=None) as batch_op:
        batch_op.create_index('ix_maintenance_scheduled_for', ['scheduled_for'], unique=False)

    op.create_table('maintenance_component',
    sa.Column('maintenance_id', sa.Integer(), nullable=False),
    sa.Column('component_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.CheckConstraint("status IN ('degraded_performance', 'partial_outage', 'major_outage', 'under_maintenance')", name=op.f('ck_maintenance_component_status_valid')),
    sa.ForeignKeyConstraint(['component_id'], ['component.id'], name=op.f('fk_maintenance_component_component_id_component'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['maintenance_id'], ['maintenance.id'], name=op.f('fk_maintenance_component_maintenance_id_maintenance'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('maintenance_id', 'component_id', name=op.f('pk_maintenance_component'))
    )
    with op.batch_alter_table('maintenance_component', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_maintenance_component_component_id'), ['component_id'], unique=False)

    op.create_table('maintenance_update',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=20), nullable=False),
    sa.Column('maintenance_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=True),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('scheduled', 'in_progress', 'verifying', 'completed')", name=op.f('ck_maintenance_update_status_valid')),
    sa.ForeignKeyConstraint(['author_id'], ['user.id'], name=op.f('fk_maintenance_update_author_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['maintenance_id'], ['maintenance.id'], name=op.f('fk_maintenance_update_maintenance_id_maintenance'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_maintenance_update')),
    sa.UniqueConstraint('public_id', name=op.f('uq_maintenance_update_public_id'))
    )
    with op.batch_alter_table('maintenance_update', schema=None) as batch_op:
        batch_op.create_index('ix_maintenance_update_maintenance_posted', ['maintenance_id', 'posted_at'], unique=False)



def downgrade():
    with op.batch_alter_table('maintenance_update', schema=None) as batch_op:
        batch_op.drop_index('ix_maintenance_update_maintenance_posted')

    op.drop_table('maintenance_update')
    with op.batch_alter_table('maintenance_component', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_maintenance_component_component_id'))

    op.drop_table('maintenance_component')
    with op.batch_alter_table('maintenance', schema=None) as batch_op:
        batch_op.drop_index('ix_maintenance_scheduled_for')

    op.drop_table('maintenance')
