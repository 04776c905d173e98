"""customer notices

Revision ID: 5c2f7b3e0d81
Revises: 4b1e6a2d9c70
Create Date: 2026-11-27 13:41:00

"""
import sqlalchemy as sa
from alembic import op

revision = '5c2f7b3e0d81'
down_revision = '4b1e6a2d9c70'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('audience', sa.Enum('customers', 'regulator', name='notice_audience', native_enum=False, length=20, create_constraint=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_notice_created_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_notice_incident_id_incident'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice'))
    )
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notice_incident_id'), ['incident_id'], unique=False)

    op.create_table('notice_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['approved_by_id'], ['user.id'], name=op.f('fk_notice_version_approved_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['author_id'], ['user.id'], name=op.f('fk_notice_version_author_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['notice_id'], ['notice.id'], name=op.f('fk_notice_version_notice_id_notice'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_version')),
    sa.UniqueConstraint('notice_id', 'number', name='uq_notice_version_notice_number')
    )
    op.create_table('notice_release',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('audience', sa.Enum('customers', 'regulator', name='notice_release_audience', native_enum=False, length=20, create_constraint=True), nullable=False),
    sa.Column('channel', sa.Enum('email', 'website', 'in_app', 'letter', 'portal', name='notice_channel', native_enum=False, length=20, create_constraint=True), nullable=False),
    sa.Column('released_by_id', sa.Integer(), nullable=True),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['released_by_id'], ['user.id'], name=op.f('fk_notice_release_released_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['version_id'], ['notice_version.id'], name=op.f('fk_notice_release_version_id_notice_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_release')),
    sa.UniqueConstraint('version_id', 'channel', name='uq_notice_release_version_channel')
    )
    with op.batch_alter_table('notice_release', schema=None) as batch_op:
        batch_op.create_index('ix_notice_release_version_id', ['version_id'], unique=False)


def downgrade():
    with op.batch_alter_table('notice_release', schema=None) as batch_op:
        batch_op.drop_index('ix_notice_release_version_id')

    op.drop_table('notice_release')
    op.drop_table('notice_version')
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notice_incident_id'))

    op.drop_table('notice')
