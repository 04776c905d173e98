"""status page subscribers: e-mail addresses and webhooks, what is announced, and each delivery

Revision ID: c1d2e3f4a5b6
Revises: b9c3d5e7f1a2
Create Date: 2026-11-29 08:13:00

Issue #16. Addresses and URLs stay on the private side: nothing public reads these tables.
"""
import sqlalchemy as sa
from alembic import op

revision = 'c1d2e3f4a5b6'
down_revision = 'b9c3d5e7f1a2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('announcement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('about', sa.String(length=12), nullable=False),
    sa.Column('public_id', sa.String(length=20), nullable=False),
    sa.Column('update_id', sa.String(length=20), nullable=False),
    sa.Column('announced_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("about IN ('incident', 'maintenance')", name=op.f('ck_announcement_about_valid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_announcement')),
    sa.UniqueConstraint('about', 'public_id', 'update_id', name='uq_announcement_once')
    )
    op.create_table('subscriber',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=True),
    sa.Column('signing_secret', sa.String(length=100), nullable=True),
    sa.Column('all_components', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmation_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('unsubscribed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('bounces', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('quarantined_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(kind = 'webhook') = (url IS NOT NULL)", name=op.f('ck_subscriber_url_for_webhooks_only')),
    sa.CheckConstraint("kind IN ('email', 'webhook')", name=op.f('ck_subscriber_kind_valid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriber')),
    sa.UniqueConstraint('token_id', name=op.f('uq_subscriber_token_id'))
    )
    with op.batch_alter_table('subscriber', schema=None) as batch_op:
        batch_op.create_index('uq_subscriber_email', ['email'], unique=True, postgresql_where=sa.text("kind = 'email'"), sqlite_where=sa.text("kind = 'email'"))
        batch_op.create_index('uq_subscriber_url', ['url'], unique=True, postgresql_where=sa.text("kind = 'webhook'"), sqlite_where=sa.text("kind = 'webhook'"))

    op.create_table('subscriber_component',
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('component_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['component_id'], ['component.id'], name=op.f('fk_subscriber_component_component_id_component'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscriber.id'], name=op.f('fk_subscriber_component_subscriber_id_subscriber'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('subscriber_id', 'component_id', name=op.f('pk_subscriber_component'))
    )
    with op.batch_alter_table('subscriber_component', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscriber_component_component_id'), ['component_id'], unique=False)

    op.create_table('subscriber_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('announcement_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response_ms', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'sent', 'failed')", name=op.f('ck_subscriber_delivery_state_valid')),
    sa.ForeignKeyConstraint(['announcement_id'], ['announcement.id'], name=op.f('fk_subscriber_delivery_announcement_id_announcement'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscriber.id'], name=op.f('fk_subscriber_delivery_subscriber_id_subscriber'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriber_delivery')),
    sa.UniqueConstraint('subscriber_id', 'announcement_id', name='uq_subscriber_delivery_once')
    )
    with op.batch_alter_table('subscriber_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_subscriber_delivery_announcement', ['announcement_id', 'state'], unique=False)
        batch_op.create_index('ix_subscriber_delivery_subscriber', ['subscriber_id', 'id'], unique=False)



def downgrade():
    with op.batch_alter_table('subscriber_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriber_delivery_subscriber')
        batch_op.drop_index('ix_subscriber_delivery_announcement')

    op.drop_table('subscriber_delivery')
    with op.batch_alter_table('subscriber_component', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscriber_component_component_id'))

    op.drop_table('subscriber_component')
    with op.batch_alter_table('subscriber', schema=None) as batch_op:
        batch_op.drop_index('uq_subscriber_url', postgresql_where=sa.text("kind = 'webhook'"), sqlite_where=sa.text("kind = 'webhook'"))
        batch_op.drop_index('uq_subscriber_email', postgresql_where=sa.text("kind = 'email'"), sqlite_where=sa.text("kind = 'email'"))

    op.drop_table('subscriber')
    op.drop_table('announcement')
