"""node completion index

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 13:20:00

ix_node_completion (completed_on, planned_date, project_id): the nodes not done by a day are one
index-only range, so the board's traffic lights and the progress figures (start and completion
rates, overdue nodes) read those nodes only, not the whole ledger.
"""
from __future__ import annotations

from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('node', schema=None) as batch_op:
        batch_op.create_index('ix_node_completion', ['completed_on', 'planned_date', 'project_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('node', schema=None) as batch_op:
        batch_op.drop_index('ix_node_completion')
