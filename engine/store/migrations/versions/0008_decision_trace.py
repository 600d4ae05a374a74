"""decision trace

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 16:00:00

decision_trace: every decision about a strike (opened, joined, reranked), typed and versioned,
append-only and sealed. Strikes recorded before this revision get their traces rebuilt from what
was recorded (engine/evaluation/rebuild.py, a data step `duban init` runs right after the upgrade
inside a sealed transaction, so the audit chain stays intact and covers them).
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('decision_trace',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('strike_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('decided_on', sa.Date(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rebuilt', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['strike_id'], ['strike.id'], name=op.f('fk_decision_trace_strike_id_strike')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decision_trace'))
    )
    with op.batch_alter_table('decision_trace', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decision_trace_strike_id'), ['strike_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('decision_trace', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decision_trace_strike_id'))
    op.drop_table('decision_trace')
