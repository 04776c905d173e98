"""notice versions remember who could approve them

Revision ID: bc9634593da8
Revises: 6d3a8c4f1e92
Create Date: 2026-11-28 09:00:00

A notice version stores who was communications lead and incident commander when it was saved:
only they (and not its author) may approve it. Existing versions take the incident's current
holders, the closest thing to what was true when they were written.
"""
import sqlalchemy as sa
from alembic import op

revision = 'bc9634593da8'
down_revision = '6d3a8c4f1e92'
branch_labels = None
depends_on = None

ROLES = ("comms_lead_id", "commander_id")


def upgrade():
    with op.batch_alter_table('notice_version', schema=None) as batch_op:
        for column in ROLES:
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=True))
            batch_op.create_foreign_key(op.f(f'fk_notice_version_{column}_user'), 'user', [column], ['id'],
                                        ondelete='SET NULL')
    for column in ROLES:
        op.execute(f"UPDATE notice_version SET {column} = (SELECT incident.{column} FROM notice "
                   f"JOIN incident ON incident.id = notice.incident_id WHERE notice.id = notice_version.notice_id)")


def downgrade():
    with op.batch_alter_table('notice_version', schema=None) as batch_op:
        for column in ROLES:
            batch_op.drop_constraint(op.f(f'fk_notice_version_{column}_user'), type_='foreignkey')
            batch_op.drop_column(column)
