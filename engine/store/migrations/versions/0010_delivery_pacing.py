"""delivery pacing

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 09:00:00

outbox.last_attempt_at (indexed with the channel): a robot takes about 20 messages a minute, so
the outbox counts the channel's attempts of the last 60 seconds before each one, in the database,
so every process sharing it keeps to the same window. channel_block: a robot that answered "too
fast" refuses everything for about 10 minutes; every process waits until blocked_until. Neither
is history: not sealed, like the outbox.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_outbox_channel_attempt', ['channel', 'last_attempt_at'], unique=False)
    op.create_table('channel_block',
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('blocked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('channel', name=op.f('pk_channel_block'))
    )


def downgrade() -> None:
    op.drop_table('channel_block')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_channel_attempt')
        batch_op.drop_column('last_attempt_at')
