"""job heartbeats and periodic runs: requeue jobs whose worker died; run periodic work once

Revision ID: b9c3d5e7f1a2
Revises: a8b2c4d6e0f1
Create Date: 2026-11-29 08:10:00

A running job's worker now writes `background_job.heartbeat_at`; a job silent for longer than
JOBS_STALE_SECONDS is put back on the queue (incidents/jobs/sweeper.py). Existing rows keep NULL:
a job still running from before counts as silent since it started. `periodic_run` holds, per
periodic function, the period it last ran for and the lease of the worker running it
(incidents/jobs/periodic.py).
"""
import sqlalchemy as sa
from alembic import op

revision = 'b9c3d5e7f1a2'
down_revision = 'a8b2c4d6e0f1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('background_job') as batch_op:
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_background_job_state_heartbeat_at', ['state', 'heartbeat_at'], unique=False)
    op.create_table(
        'periodic_run',
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('period_start', sa.DateTime(timezone=True), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('lease_token', sa.String(length=32), nullable=True),
        sa.Column('holder', sa.String(length=200), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_periodic_run')),
    )


def downgrade():
    op.drop_table('periodic_run')
    with op.batch_alter_table('background_job') as batch_op:
        batch_op.drop_index('ix_background_job_state_heartbeat_at')
        batch_op.drop_column('heartbeat_at')
