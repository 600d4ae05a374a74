"""warnings and messaging accounts

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 09:00:00

person.wecom_id, person.dingtalk_id: the person's user id in WeCom / DingTalk (企业微信账号 / 钉钉账号
on the ledger's 人员 sheet), where application messages and work notifications go.
reminder: one warning (预警) per node, threshold (days before) and planned date, sent before the
node falls due (engine/paperwork/reminders.py). Sealed into the audit chain.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wecom_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('dingtalk_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.create_table('reminder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('planned_date', sa.Date(), nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=False),
    sa.Column('remind_on', sa.Date(), nullable=False),
    sa.Column('person_pk', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['node_id'], ['node.id'], name=op.f('fk_reminder_node_id_node')),
    sa.ForeignKeyConstraint(['person_pk'], ['person.id'], name=op.f('fk_reminder_person_pk_person')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_reminder_project_id_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder')),
    sa.UniqueConstraint('node_id', 'threshold', 'planned_date', name=op.f('uq_reminder_node_id'))
    )
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.create_index('ix_reminder_remind_on', ['remind_on'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.drop_index('ix_reminder_remind_on')
    op.drop_table('reminder')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('dingtalk_id')
        batch_op.drop_column('wecom_id')
