"""status site

Revision ID: cf807642f874
Revises: 7be7d9deaddc
Create Date: 2026-11-27 12:19:48.092826

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'cf807642f874'
down_revision = '7be7d9deaddc'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('component',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('group_name', sa.String(length=120), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('status_override', sa.String(length=30), nullable=True),
    sa.Column('showcase', sa.Boolean(), nullable=False),
    sa.Column('only_show_if_degraded', sa.Boolean(), nullable=False),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status_override IN ('operational', 'degraded_performance', 'partial_outage', 'major_outage', 'under_maintenance')", name=op.f('ck_component_status_override_valid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_component')),
    sa.UniqueConstraint('public_id', name=op.f('uq_component_public_id'))
    )
    op.create_table('incident_component',
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('component_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('degraded_performance', 'partial_outage', 'major_outage', 'under_maintenance')", name=op.f('ck_incident_component_status_valid')),
    sa.ForeignKeyConstraint(['component_id'], ['component.id'], name=op.f('fk_incident_component_component_id_component'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_incident_component_incident_id_incident'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('incident_id', 'component_id', name=op.f('pk_incident_component'))
    )
    with op.batch_alter_table('incident_component', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_component_component_id'), ['component_id'], unique=False)

    op.create_table('update_component',
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('component_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.CheckConstraint("status IN ('operational', 'degraded_performance', 'partial_outage', 'major_outage', 'under_maintenance')", name=op.f('ck_update_component_status_valid')),
    sa.ForeignKeyConstraint(['component_id'], ['component.id'], name=op.f('fk_update_component_component_id_component'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entry_id'], ['timeline_entry.id'], name=op.f('fk_update_component_entry_id_timeline_entry'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', 'component_id', name=op.f('pk_update_component'))
    )
    with op.batch_alter_table('update_component', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_update_component_component_id'), ['component_id'], unique=False)

    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_id', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('public_title', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('public_impact', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('published_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_incident_public_id'), ['public_id'])
        batch_op.create_check_constraint(
            'public_impact_valid', "public_impact IN ('none', 'minor', 'major', 'critical')")

    with op.batch_alter_table('timeline_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_status', sa.String(length=20), nullable=True))
        batch_op.create_check_constraint(
            'public_status_valid',
            "public_status IN ('investigating', 'identified', 'monitoring', 'resolved', 'postmortem')")



def downgrade():
    with op.batch_alter_table('timeline_entry', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_timeline_entry_public_status_valid'), type_='check')
        batch_op.drop_column('public_status')

    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_incident_public_impact_valid'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_incident_public_id'), type_='unique')
        batch_op.drop_column('published_at')
        batch_op.drop_column('public_impact')
        batch_op.drop_column('public_title')
        batch_op.drop_column('public_id')

    with op.batch_alter_table('update_component', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_update_component_component_id'))

    op.drop_table('update_component')
    with op.batch_alter_table('incident_component', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_component_component_id'))

    op.drop_table('incident_component')
    op.drop_table('component')
