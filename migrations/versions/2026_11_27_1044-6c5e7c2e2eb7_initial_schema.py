"""initial schema

Revision ID: 6c5e7c2e2eb7
Revises:
Create Date: 2026-11-27 10:44:58.833635

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '6c5e7c2e2eb7'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('reference_counter',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_reference_counter'))
    )
    op.create_table('user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.Enum('viewer', 'responder', 'admin', name='user_role', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user')),
    sa.UniqueConstraint('email', name=op.f('uq_user_email'))
    )
    op.create_table('incident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('severity', sa.Enum('SEV1', 'SEV2', 'SEV3', 'SEV4', name='severity', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('status', sa.Enum('investigating', 'identified', 'recovering', 'monitoring', 'resolved', 'closed', name='status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('data_categories', sa.JSON(), nullable=False),
    sa.Column('personal_data', sa.Boolean(), nullable=False),
    sa.Column('commander_id', sa.Integer(), nullable=True),
    sa.Column('comms_lead_id', sa.Integer(), nullable=True),
    sa.Column('executive_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('loss_began_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('declared_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('aware_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('mitigated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['commander_id'], ['user.id'], name=op.f('fk_incident_commander_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['comms_lead_id'], ['user.id'], name=op.f('fk_incident_comms_lead_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_incident_created_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['executive_id'], ['user.id'], name=op.f('fk_incident_executive_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_incident_updated_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident')),
    sa.UniqueConstraint('reference', name=op.f('uq_incident_reference'))
    )
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.create_index('ix_incident_status_declared', ['status', 'declared_at'], unique=False)

    op.create_table('login_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_login_session_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_session')),
    sa.UniqueConstraint('token', name=op.f('uq_login_session_token'))
    )
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_session_user_id'), ['user_id'], unique=False)

    op.create_table('timeline_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('original_id', sa.Integer(), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('note', 'status_change', 'impact', 'recovery', 'communication', 'decision', 'action', name='entry_kind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('visibility', sa.Enum('internal', 'public', name='visibility', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('correction_reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['user.id'], name=op.f('fk_timeline_entry_author_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_timeline_entry_incident_id_incident'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['original_id'], ['timeline_entry.id'], name=op.f('fk_timeline_entry_original_id_timeline_entry')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timeline_entry')),
    sa.UniqueConstraint('original_id', 'revision', name='uq_timeline_entry_original_revision')
    )
    with op.batch_alter_table('timeline_entry', schema=None) as batch_op:
        batch_op.create_index('ix_timeline_entry_incident_occurred', ['incident_id', 'occurred_at', 'id'], unique=False)
        batch_op.create_index('ix_timeline_entry_original_id', ['original_id'], unique=False)




def downgrade():

    with op.batch_alter_table('timeline_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_timeline_entry_original_id')
        batch_op.drop_index('ix_timeline_entry_incident_occurred')

    op.drop_table('timeline_entry')
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_session_user_id'))

    op.drop_table('login_session')
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_status_declared')

    op.drop_table('incident')
    op.drop_table('user')
    op.drop_table('reference_counter')

