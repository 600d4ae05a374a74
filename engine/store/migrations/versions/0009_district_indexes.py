"""district indexes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 19:00:00

ix_project_district and ix_strike_project: a district's agenda, daily report and board read the
district's own projects and strikes, so an edition costs what the district holds, not the
whole ledger (issue 12).
"""
from __future__ import annotations

from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.create_index('ix_project_district', ['district'], unique=False)
    with op.batch_alter_table('strike', schema=None) as batch_op:
        batch_op.create_index('ix_strike_project', ['project_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('strike', schema=None) as batch_op:
        batch_op.drop_index('ix_strike_project')
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_index('ix_project_district')
