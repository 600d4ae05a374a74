"""hotline work orders

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 18:00:00

complaint: the mayor's-hotline work orders (12345 工单), keyed by their number, tied to a project
when one is found (by code, community name or address) or by a clerk. What is fixed at intake is
sealed into the audit chain; later changes go to the change log.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel



revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('complaint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_no', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('content', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('place', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('satisfaction', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('link', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('link_note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_complaint_project_id_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint')),
    sa.UniqueConstraint('order_no', name=op.f('uq_complaint_order_no'))
    )
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.create_index('ix_complaint_project', ['project_id'], unique=False)
        batch_op.create_index('ix_complaint_due', ['due_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_index('ix_complaint_due')
        batch_op.drop_index('ix_complaint_project')
    op.drop_table('complaint')
