"""customer notifications: preferences, seen-live and mailed marks, deduplicated outbox rows

- ``customers.notify_pref`` (all / important / none) and ``customers.email_verified_at``;
- ``tickets.customer_seen_event_id`` / ``reply_mailed_event_id`` (a chat reply is e-mailed
  only when the customer's live stream did not deliver it) and ``tickets.close_warned_at``;
- ``outbox.dedupe_key`` (unique: a mail two workers decide at once is written once) and
  ``outbox.unsubscribe_url`` (List-Unsubscribe);
- new outbox kinds for the customer's notices and the admins' new-ticket alerts;
- ``users.new_ticket_alerts`` (off / each / digest), ``alert_digest_minutes`` and
  ``alert_digest_through`` (an admin's new-ticket alerts).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 18:30:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import escalation.models


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('acknowledgement', 'assigned', 'agent_reply', 'resolved', 'sla_notice')"
NEW_KINDS = ("kind IN ('acknowledgement', 'assigned', 'agent_reply', 'resolved', 'sla_notice', 'allocated', "
             "'reopened', 'close_warning', 'closed', 'new_ticket', 'ticket_digest')")


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('new_ticket_alerts', sa.String(length=8), nullable=False, server_default='off'))
        batch_op.add_column(sa.Column('alert_digest_minutes', sa.Integer(), nullable=False, server_default='15'))
        batch_op.add_column(sa.Column('alert_digest_through', escalation.models.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.create_check_constraint('ck_users_new_ticket_alerts', "new_ticket_alerts IN ('off', 'each', 'digest')")
        batch_op.create_check_constraint('ck_users_alert_digest_minutes', "alert_digest_minutes > 0")
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_pref', sa.String(length=12), nullable=False, server_default='all'))
        batch_op.add_column(sa.Column('email_verified_at', escalation.models.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.create_check_constraint('ck_customers_notify_pref', "notify_pref IN ('all', 'important', 'none')")
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('customer_seen_event_id', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('reply_mailed_event_id', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('close_warned_at', escalation.models.UTCDateTime(timezone=True),
                                      nullable=True))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dedupe_key', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('unsubscribe_url', sa.Text(), nullable=False, server_default=''))
        batch_op.create_unique_constraint('uq_outbox_dedupe_key', ['dedupe_key'])
        batch_op.drop_constraint('ck_outbox_kind', type_='check')
        batch_op.create_check_constraint('ck_outbox_kind', NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE kind NOT IN ('acknowledgement', 'assigned', 'agent_reply', 'resolved', "
               "'sla_notice')")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint('ck_outbox_kind', type_='check')
        batch_op.create_check_constraint('ck_outbox_kind', OLD_KINDS)
        batch_op.drop_constraint('uq_outbox_dedupe_key', type_='unique')
        batch_op.drop_column('unsubscribe_url')
        batch_op.drop_column('dedupe_key')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('close_warned_at')
        batch_op.drop_column('reply_mailed_event_id')
        batch_op.drop_column('customer_seen_event_id')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_constraint('ck_customers_notify_pref', type_='check')
        batch_op.drop_column('email_verified_at')
        batch_op.drop_column('notify_pref')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('ck_users_alert_digest_minutes', type_='check')
        batch_op.drop_constraint('ck_users_new_ticket_alerts', type_='check')
        batch_op.drop_column('alert_digest_through')
        batch_op.drop_column('alert_digest_minutes')
        batch_op.drop_column('new_ticket_alerts')
