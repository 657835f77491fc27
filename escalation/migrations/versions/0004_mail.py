"""e-mail: the outbox and the Message-IDs of each ticket's mail

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:40:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import escalation.models


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('to_addr', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('message_id', sa.String(length=250), nullable=False),
    sa.Column('in_reply_to', sa.String(length=250), nullable=False),
    sa.Column('thread_references', sa.Text(), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('auto_submitted', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', escalation.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_owner', sa.String(length=120), nullable=True),
    sa.Column('lease_until', escalation.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', escalation.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', escalation.models.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('acknowledgement', 'assigned', 'agent_reply', 'resolved')", name='ck_outbox_kind'),
    sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name='ck_outbox_status'),
    sa.CheckConstraint('attempts >= 0', name='ck_outbox_attempts'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('mail_message_ids',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=250), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('created_at', escalation.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("direction IN ('in', 'out')", name='ck_mail_message_ids_direction'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id')
    )
    with op.batch_alter_table('mail_message_ids', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_message_ids_ticket_id'), ['ticket_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('mail_message_ids', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_message_ids_ticket_id'))

    op.drop_table('mail_message_ids')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_status'))
        batch_op.drop_index(batch_op.f('ix_outbox_next_attempt_at'))

    op.drop_table('outbox')
