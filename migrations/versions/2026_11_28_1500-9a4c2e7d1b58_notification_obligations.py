"""notification obligations

Revision ID: 9a4c2e7d1b58
Revises: 3d7a9e51c0b4
Create Date: 2026-11-28 15:00:00

Notification obligations (issue #13): the regimes chosen for an incident, the moments their clocks
count from that the incident does not record (classified major, materiality determined, ...), and
one obligation per applicable rule with its due time and how it was met.
"""
import sqlalchemy as sa
from alembic import op

revision = '9a4c2e7d1b58'
down_revision = '3d7a9e51c0b4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('incident_regime',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('regime', sa.String(length=60), nullable=False),
    sa.Column('residents', sa.Integer(), nullable=True),
    sa.Column('chosen_by_id', sa.Integer(), nullable=True),
    sa.Column('chosen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['chosen_by_id'], ['user.id'], name=op.f('fk_incident_regime_chosen_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_incident_regime_incident_id_incident'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_regime')),
    sa.UniqueConstraint('incident_id', 'regime', name='uq_incident_regime_incident_regime')
    )
    with op.batch_alter_table('incident_regime', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_regime_incident_id'), ['incident_id'], unique=False)

    op.create_table('obligation_anchor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('set_by_id', sa.Integer(), nullable=True),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_obligation_anchor_incident_id_incident'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['set_by_id'], ['user.id'], name=op.f('fk_obligation_anchor_set_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_obligation_anchor')),
    sa.UniqueConstraint('incident_id', 'kind', name='uq_obligation_anchor_incident_kind')
    )
    with op.batch_alter_table('obligation_anchor', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_obligation_anchor_incident_id'), ['incident_id'], unique=False)

    op.create_table('obligation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.String(length=60), nullable=False),
    sa.Column('regime', sa.String(length=60), nullable=False),
    sa.Column('status', sa.Enum('pending', 'filed', 'not_required', 'late', name='obligation_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('anchor_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('triggered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('filed_by_id', sa.Integer(), nullable=True),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('notice_version_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['filed_by_id'], ['user.id'], name=op.f('fk_obligation_filed_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_obligation_incident_id_incident'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['notice_version_id'], ['notice_version.id'], name=op.f('fk_obligation_notice_version_id_notice_version'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_obligation')),
    sa.UniqueConstraint('incident_id', 'rule_id', name='uq_obligation_incident_rule')
    )
    with op.batch_alter_table('obligation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_obligation_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index('ix_obligation_status_due', ['status', 'due_at'], unique=False)



def downgrade():
    with op.batch_alter_table('obligation', schema=None) as batch_op:
        batch_op.drop_index('ix_obligation_status_due')
        batch_op.drop_index(batch_op.f('ix_obligation_incident_id'))

    op.drop_table('obligation')
    with op.batch_alter_table('obligation_anchor', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_obligation_anchor_incident_id'))

    op.drop_table('obligation_anchor')
    with op.batch_alter_table('incident_regime', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_regime_incident_id'))

    op.drop_table('incident_regime')
