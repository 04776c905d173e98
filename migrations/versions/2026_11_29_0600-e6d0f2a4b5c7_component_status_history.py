"""each component's public status over time, recorded as it changes

Revision ID: e6d0f2a4b5c7
Revises: d5c9e0f1a3b4
Create Date: 2026-11-29 06:00:00

The 90-day uptime of the status page (issue #16) needs what each component showed on each past day.
From here on the session records every change (incidents/status/history.py); the history starts
with each shown component's status at the moment of the upgrade.
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = 'e6d0f2a4b5c7'
down_revision = 'd5c9e0f1a3b4'
branch_labels = None
depends_on = None

# As incidents/status/models.py has them (copied: a migration stays as it was written).
STATUSES = "'operational', 'degraded_performance', 'partial_outage', 'major_outage', 'under_maintenance'"
SEVERITY = {"operational": 0, "under_maintenance": 1, "degraded_performance": 2, "partial_outage": 3,
            "major_outage": 4}


def upgrade():
    table = op.create_table(
        'component_status_change',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('component_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=30), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f('ck_component_status_change_status_valid')),
        sa.ForeignKeyConstraint(['component_id'], ['component.id'], ondelete='CASCADE',
                                name=op.f('fk_component_status_change_component_id_component')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_component_status_change')),
    )
    op.create_index('ix_component_status_change_component_changed', 'component_status_change',
                    ['component_id', 'changed_at', 'id'], unique=False)
    bind = op.get_bind()
    worst: dict[int, str] = {}
    for component_id, status in bind.execute(sa.text(
            "SELECT link.component_id, link.status FROM incident_component AS link "
            "JOIN incident ON incident.id = link.incident_id WHERE incident.published_at IS NOT NULL "
            "AND incident.public_status IN ('investigating', 'identified', 'monitoring')")):
        if SEVERITY[status] > SEVERITY[worst.get(component_id, "operational")]:
            worst[component_id] = status
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored as naive UTC on SQLite, as the model's UTCDateTime does
    rows = [{"component_id": component_id, "status": override or worst.get(component_id, "operational"),
             "changed_at": now}
            for component_id, override in bind.execute(sa.text(
                "SELECT id, status_override FROM component WHERE archived_at IS NULL"))]
    if rows:
        op.bulk_insert(table, rows)


def downgrade():
    op.drop_index('ix_component_status_change_component_changed', table_name='component_status_change')
    op.drop_table('component_status_change')
