"""stored HTML of user Markdown

Revision ID: 3d7a9e51c0b4
Revises: 827b3011d92d
Create Date: 2026-11-28 13:00:00

The incident summary, workstream evidence, impact and progress notes and the postmortem's sections
get their rendered, sanitised HTML stored beside the text when it is written, so page views do not
re-render Markdown. Rows written before have NULL: the models render those when shown.
"""
import sqlalchemy as sa
from alembic import op

revision = '3d7a9e51c0b4'
down_revision = '827b3011d92d'
branch_labels = None
depends_on = None

COLUMNS = [
    ('incident', sa.Column('summary_html', sa.Text(), nullable=True)),
    ('workstream', sa.Column('evidence_html', sa.Text(), nullable=True)),
    ('impact_update', sa.Column('note_html', sa.Text(), nullable=True)),
    ('workstream_progress', sa.Column('note_html', sa.Text(), nullable=True)),
    ('postmortem', sa.Column('sections_html', sa.JSON(), nullable=True)),
]


def upgrade():
    # A plain ADD COLUMN (no batch copy on SQLite): the append-only tables keep their triggers.
    for table, column in COLUMNS:
        op.add_column(table, column)


def downgrade():
    for table, column in reversed(COLUMNS):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column(column.name)
