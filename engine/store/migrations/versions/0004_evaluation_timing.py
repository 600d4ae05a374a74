"""evaluation timing; drop a redundant node index

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 08:00:00

* evaluation_day.started_at: how long each evaluated day took (benchmarks, operations).
* ix_node_project_id duplicated the leading column of uq_node_project_id; every node insert
  paid for it.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('evaluation_day', schema=None) as batch_op:
        batch_op.add_column(sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('node', schema=None) as batch_op:
        batch_op.drop_index('ix_node_project_id')


def downgrade() -> None:
    with op.batch_alter_table('node', schema=None) as batch_op:
        batch_op.create_index('ix_node_project_id', ['project_id'], unique=False)
    with op.batch_alter_table('evaluation_day', schema=None) as batch_op:
        batch_op.drop_column('started_at')
