"""background jobs: the record of each job the worker runs, for pages to follow

Revision ID: a8b2c4d6e0f1
Revises: f7a1b3c5d8e9
Create Date: 2026-11-29 08:00:00

Long work (ledger imports, exports, e-mails, webhooks, big PDFs) runs in a worker through Huey
(incidents/jobs). Huey's own storage (SQLite file or Redis) only carries the job's public id; its
kind, parameters, progress and outcome are this row, so pages poll the app's database.
"""
import sqlalchemy as sa
from alembic import op

revision = 'a8b2c4d6e0f1'
down_revision = 'f7a1b3c5d8e9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'background_job',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=100), nullable=False),
        sa.Column('state', sa.Enum('queued', 'running', 'succeeded', 'failed', 'cancelled', name='background_job_state', native_enum=False, create_constraint=True, length=20), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('done', sa.Integer(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=True),
        sa.Column('message', sa.String(length=500), nullable=False),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('incident_id', sa.Integer(), nullable=True),
        sa.CheckConstraint('done >= 0 AND (total IS NULL OR total >= 0)', name=op.f('ck_background_job_progress_not_negative')),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_background_job_created_by_id_user'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_background_job_incident_id_incident'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_background_job')),
        sa.UniqueConstraint('public_id', name=op.f('uq_background_job_public_id')),
    )
    with op.batch_alter_table('background_job') as batch_op:
        batch_op.create_index(batch_op.f('ix_background_job_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_background_job_incident_id'), ['incident_id'], unique=False)


def downgrade():
    with op.batch_alter_table('background_job') as batch_op:
        batch_op.drop_index(batch_op.f('ix_background_job_incident_id'))
        batch_op.drop_index(batch_op.f('ix_background_job_created_by_id'))
    op.drop_table('background_job')
