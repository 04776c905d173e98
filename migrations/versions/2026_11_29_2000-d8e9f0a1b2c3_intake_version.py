"""alert intakes: a version, so an admin's change of an intake's settings never overwrites another's

Revision ID: d8e9f0a1b2c3
Revises: c7d8e9f0a1b2
Create Date: 2026-11-29 20:00:00.000000

Issue #17. An intake's settings (its name, the account it declares as, how it reads severity,
title and description, Grafana's signature) can now be changed after it is made; the version
refuses an edit drawn from an older form, as everywhere else.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd8e9f0a1b2c3'
down_revision = 'c7d8e9f0a1b2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('intake', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))


def downgrade():
    with op.batch_alter_table('intake', schema=None) as batch_op:
        batch_op.drop_column('version')
