"""document numbers

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 10:00:00

doc_number: a document's number (文号), given once when it is issued, one series per document
kind as configured, numbered from 1 each year by the document's own date. Before this revision a
notice printed its global id and the year of the machine's clock; `duban init` numbers the
notices issued before it (engine/record/numbers.py, a data step: it needs the settings' series
and time zone). Sealed into the audit chain.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('doc_number',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('serial', sa.Integer(), nullable=False),
    sa.Column('doc_key', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=True),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['notice_id'], ['notice.id'], name=op.f('fk_doc_number_notice_id_notice')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_doc_number')),
    sa.UniqueConstraint('doc_key', name=op.f('uq_doc_number_doc_key')),
    sa.UniqueConstraint('series', 'year', 'serial', name=op.f('uq_doc_number_series'))
    )


def downgrade() -> None:
    op.drop_table('doc_number')
