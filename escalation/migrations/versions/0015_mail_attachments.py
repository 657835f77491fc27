"""attachments by e-mail: which files an outgoing mail carries, and the "file not accepted" notice

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 00:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# after 0011 (the portal's account mails)
OLD_KINDS = ("kind IN ('acknowledgement', 'assigned', 'agent_reply', 'resolved', 'sla_notice', 'allocated', "
             "'reopened', 'close_warning', 'closed', 'new_ticket', 'ticket_digest', 'account')")
NEW_KINDS = ("kind IN ('acknowledgement', 'assigned', 'agent_reply', 'resolved', 'sla_notice', 'allocated', "
             "'reopened', 'close_warning', 'closed', 'new_ticket', 'ticket_digest', 'account', "
             "'attachment_refused')")


def upgrade() -> None:
    op.create_table('outbox_attachments',
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('attachment_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['attachment_id'], ['attachments.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('outbox_id', 'attachment_id')
    )
    op.create_index('ix_outbox_attachments_attachment_id', 'outbox_attachments', ['attachment_id'])
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint('ck_outbox_kind', type_='check')
        batch_op.create_check_constraint('ck_outbox_kind', NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE kind = 'attachment_refused'")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint('ck_outbox_kind', type_='check')
        batch_op.create_check_constraint('ck_outbox_kind', OLD_KINDS)
    op.drop_index('ix_outbox_attachments_attachment_id', table_name='outbox_attachments')
    op.drop_table('outbox_attachments')
