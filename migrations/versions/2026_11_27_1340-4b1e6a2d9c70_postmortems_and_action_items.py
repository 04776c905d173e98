"""postmortems and action items

Revision ID: 4b1e6a2d9c70
Revises: cf807642f874
Create Date: 2026-11-27 13:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = '4b1e6a2d9c70'
down_revision = 'cf807642f874'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('action_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.Enum('prevent', 'detect', 'mitigate', 'process', name='action_kind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('priority', sa.Enum('high', 'medium', 'low', name='action_priority', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('status', sa.Enum('open', 'in_progress', 'done', 'wont_do', name='action_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('tracker_url', sa.String(length=500), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['closed_by_id'], ['user.id'], name=op.f('fk_action_item_closed_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_action_item_created_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_action_item_incident_id_incident'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['user.id'], name=op.f('fk_action_item_owner_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_item'))
    )
    with op.batch_alter_table('action_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_item_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_action_item_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_action_item_status_due', ['status', 'due_on'], unique=False)

    op.create_table('postmortem',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'in_review', 'approved', 'published', name='postmortem_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('sections', sa.JSON(), nullable=False),
    sa.Column('include_full_timeline', sa.Boolean(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['approved_by_id'], ['user.id'], name=op.f('fk_postmortem_approved_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_postmortem_created_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_postmortem_incident_id_incident'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['published_by_id'], ['user.id'], name=op.f('fk_postmortem_published_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_postmortem_updated_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postmortem')),
    sa.UniqueConstraint('incident_id', name=op.f('uq_postmortem_incident_id'))
    )
    op.create_table('postmortem_approval',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('postmortem_id', sa.Integer(), nullable=False),
    sa.Column('version_number', sa.Integer(), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('comment', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['approved_by_id'], ['user.id'], name=op.f('fk_postmortem_approval_approved_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['postmortem_id'], ['postmortem.id'], name=op.f('fk_postmortem_approval_postmortem_id_postmortem'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postmortem_approval'))
    )
    with op.batch_alter_table('postmortem_approval', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_postmortem_approval_postmortem_id'), ['postmortem_id'], unique=False)

    op.create_table('postmortem_reviewer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('postmortem_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['added_by_id'], ['user.id'], name=op.f('fk_postmortem_reviewer_added_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['postmortem_id'], ['postmortem.id'], name=op.f('fk_postmortem_reviewer_postmortem_id_postmortem'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_postmortem_reviewer_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postmortem_reviewer')),
    sa.UniqueConstraint('postmortem_id', 'user_id', name='uq_postmortem_reviewer_postmortem_user')
    )
    with op.batch_alter_table('postmortem_reviewer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_postmortem_reviewer_user_id'), ['user_id'], unique=False)

    op.create_table('postmortem_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('postmortem_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('sections', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user.id'], name=op.f('fk_postmortem_version_author_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['postmortem_id'], ['postmortem.id'], name=op.f('fk_postmortem_version_postmortem_id_postmortem'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postmortem_version')),
    sa.UniqueConstraint('postmortem_id', 'number', name='uq_postmortem_version_postmortem_number')
    )


def downgrade():
    op.drop_table('postmortem_version')
    with op.batch_alter_table('postmortem_reviewer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postmortem_reviewer_user_id'))

    op.drop_table('postmortem_reviewer')
    with op.batch_alter_table('postmortem_approval', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postmortem_approval_postmortem_id'))

    op.drop_table('postmortem_approval')
    op.drop_table('postmortem')
    with op.batch_alter_table('action_item', schema=None) as batch_op:
        batch_op.drop_index('ix_action_item_status_due')
        batch_op.drop_index(batch_op.f('ix_action_item_owner_id'))
        batch_op.drop_index(batch_op.f('ix_action_item_incident_id'))

    op.drop_table('action_item')
