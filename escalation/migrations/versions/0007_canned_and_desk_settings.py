"""canned responses, run-time desk settings (auto-assign) and the SLA notice mail kind

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 13:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import escalation.models


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('acknowledgement', 'assigned', 'agent_reply', 'resolved')"
NEW_KINDS = "kind IN ('acknowledgement', 'assigned', 'agent_reply', 'resolved', 'sla_notice')"


def upgrade() -> None:
    op.create_table('canned_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=True),
    sa.Column('updated_at', escalation.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('title')
    )
    op.create_table('desk_settings',
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_at', escalation.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint('ck_outbox_kind', type_='check')
        batch_op.create_check_constraint('ck_outbox_kind', NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE kind = 'sla_notice'")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint('ck_outbox_kind', type_='check')
        batch_op.create_check_constraint('ck_outbox_kind', OLD_KINDS)
    op.drop_table('desk_settings')
    op.drop_table('canned_responses')
