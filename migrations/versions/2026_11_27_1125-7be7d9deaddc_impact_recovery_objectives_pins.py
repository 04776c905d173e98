"""impact recovery objectives pins

Revision ID: 7be7d9deaddc
Revises: 6c5e7c2e2eb7
Create Date: 2026-11-27 11:25:52.791315

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '7be7d9deaddc'
down_revision = '6c5e7c2e2eb7'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('impact_update',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('based_on_id', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('customers_affected', sa.BigInteger(), nullable=False),
    sa.Column('customers_notified', sa.BigInteger(), nullable=False),
    sa.Column('customers_restored', sa.BigInteger(), nullable=False),
    sa.Column('customers_lost', sa.BigInteger(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.CheckConstraint('customers_affected >= 0 AND customers_notified >= 0 AND customers_restored >= 0 AND customers_lost >= 0', name=op.f('ck_impact_update_counts_not_negative')),
    sa.CheckConstraint('customers_notified <= customers_affected', name=op.f('ck_impact_update_notified_within_affected')),
    sa.CheckConstraint('customers_restored + customers_lost <= customers_affected', name=op.f('ck_impact_update_restored_and_lost_within_affected')),
    sa.ForeignKeyConstraint(['author_id'], ['user.id'], name=op.f('fk_impact_update_author_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['based_on_id'], ['impact_update.id'], name=op.f('fk_impact_update_based_on_id_impact_update')),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_impact_update_incident_id_incident'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_impact_update'))
    )
    with op.batch_alter_table('impact_update', schema=None) as batch_op:
        batch_op.create_index('ix_impact_update_incident_as_of', ['incident_id', 'as_of', 'id'], unique=False)

    op.create_table('workstream',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('target', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.Enum('planned', 'in_progress', 'blocked', 'done', 'abandoned', name='workstream_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('eta', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('done', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('done >= 0', name=op.f('ck_workstream_done_not_negative')),
    sa.CheckConstraint('target > 0', name=op.f('ck_workstream_target_positive')),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_workstream_incident_id_incident'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['user.id'], name=op.f('fk_workstream_owner_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workstream'))
    )
    with op.batch_alter_table('workstream', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workstream_incident_id'), ['incident_id'], unique=False)

    op.create_table('category_impact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('update_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('records_affected', sa.BigInteger(), nullable=False),
    sa.Column('records_recovered', sa.BigInteger(), nullable=False),
    sa.Column('records_unrecoverable', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('records_affected >= 0 AND records_recovered >= 0 AND records_unrecoverable >= 0', name=op.f('ck_category_impact_records_not_negative')),
    sa.CheckConstraint('records_recovered + records_unrecoverable <= records_affected', name=op.f('ck_category_impact_recovered_and_lost_within_affected')),
    sa.ForeignKeyConstraint(['update_id'], ['impact_update.id'], name=op.f('fk_category_impact_update_id_impact_update'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_category_impact')),
    sa.UniqueConstraint('update_id', 'category', name='uq_category_impact_update_category')
    )
    op.create_table('timeline_pin',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('pinned_by_id', sa.Integer(), nullable=True),
    sa.Column('pinned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['timeline_entry.id'], name=op.f('fk_timeline_pin_entry_id_timeline_entry')),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_timeline_pin_incident_id_incident'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pinned_by_id'], ['user.id'], name=op.f('fk_timeline_pin_pinned_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timeline_pin')),
    sa.UniqueConstraint('entry_id', name=op.f('uq_timeline_pin_entry_id'))
    )
    with op.batch_alter_table('timeline_pin', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_timeline_pin_incident_id'), ['incident_id'], unique=False)

    op.create_table('workstream_progress',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workstream_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done', sa.BigInteger(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.CheckConstraint('done >= 0', name=op.f('ck_workstream_progress_done_not_negative')),
    sa.ForeignKeyConstraint(['author_id'], ['user.id'], name=op.f('fk_workstream_progress_author_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workstream_id'], ['workstream.id'], name=op.f('fk_workstream_progress_workstream_id_workstream'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workstream_progress'))
    )
    with op.batch_alter_table('workstream_progress', schema=None) as batch_op:
        batch_op.create_index('ix_workstream_progress_workstream_as_of', ['workstream_id', 'as_of', 'id'], unique=False)

    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_good_backup_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('restore_verified_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('rpo_target_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rto_target_minutes', sa.Integer(), nullable=True))

    with op.batch_alter_table('timeline_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body_html', sa.Text(), nullable=True))




def downgrade():

    with op.batch_alter_table('timeline_entry', schema=None) as batch_op:
        batch_op.drop_column('body_html')

    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.drop_column('rto_target_minutes')
        batch_op.drop_column('rpo_target_minutes')
        batch_op.drop_column('restore_verified_at')
        batch_op.drop_column('last_good_backup_at')

    with op.batch_alter_table('workstream_progress', schema=None) as batch_op:
        batch_op.drop_index('ix_workstream_progress_workstream_as_of')

    op.drop_table('workstream_progress')
    with op.batch_alter_table('timeline_pin', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_timeline_pin_incident_id'))

    op.drop_table('timeline_pin')
    op.drop_table('category_impact')
    with op.batch_alter_table('workstream', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workstream_incident_id'))

    op.drop_table('workstream')
    with op.batch_alter_table('impact_update', schema=None) as batch_op:
        batch_op.drop_index('ix_impact_update_incident_as_of')

    op.drop_table('impact_update')

