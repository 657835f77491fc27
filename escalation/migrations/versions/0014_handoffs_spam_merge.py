"""hand-offs, spam and merge: blocked senders, and which ticket a duplicate was merged into

Revision ID: 0014
Revises: 0012
Create Date: 2026-11-30 19:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import escalation.models


revision = '0014'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('blocked_senders',
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('ticket_number', sa.String(length=20), nullable=True),
    sa.Column('blocked_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', escalation.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('email')
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_tickets_merged_into_id', 'tickets', ['merged_into_id'], ['id'],
                                    ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_constraint('fk_tickets_merged_into_id', type_='foreignkey')
        batch_op.drop_column('merged_into_id')
    op.drop_table('blocked_senders')
