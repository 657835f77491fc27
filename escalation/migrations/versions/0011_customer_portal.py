"""customer portal: accounts, the web-form channel, account mails, "My tickets" index (issue 14)

- ``customer_accounts``: one per customer row (so per e-mail address), with the password
  hash, when the address was verified, the session version (signing out ends every older
  session) and the one-time-link nonce.
- Existing tickets are linked to accounts by the verified e-mail address through their
  customer row: ``customers.email`` is unique and lower-cased, and every ticket has a
  ``customer_id``. An account belongs to that row, so when the address is verified every
  ticket of it — chat, e-mail, any browser, opened before or after this migration — is the
  account's, with nothing copied. This migration only makes sure the rule holds on old
  data: addresses stored with capitals before ``_customer`` lower-cased them are lower-cased
  here (when no lower-case twin exists; a twin is left for an admin to merge and logged).
- ``tickets (customer_id, updated_at)`` replaces ``tickets (customer_id)``: "My tickets",
  latest first, reads one customer's rows in order (``bench/bench_portal_pg.py``). Built
  ``CONCURRENTLY`` on PostgreSQL like 0008.
- ``attachments``: files sent with messages (kept in ``ATTACHMENTS_DIR``, only the key here).
- ``tickets.channel`` may be ``web_form``; ``outbox.kind`` may be ``account`` (verification,
  sign-in link, password reset, erasure confirmation).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 18:30:00.000000
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

import escalation.models

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

OLD_CHANNELS = "channel IN ('web_chat', 'email')"
NEW_CHANNELS = "channel IN ('web_chat', 'email', 'web_form')"
# after 0010 (the customer notifications' kinds)
OLD_KINDS = ("kind IN ('acknowledgement', 'assigned', 'agent_reply', 'resolved', 'sla_notice', 'allocated', "
             "'reopened', 'close_warning', 'closed', 'new_ticket', 'ticket_digest')")
NEW_KINDS = ("kind IN ('acknowledgement', 'assigned', 'agent_reply', 'resolved', 'sla_notice', 'allocated', "
             "'reopened', 'close_warning', 'closed', 'new_ticket', 'ticket_digest', 'account')")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _lower_case_emails() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, email FROM customers WHERE email <> lower(email)")).all()
    for customer_id, email in rows:
        twin = bind.execute(sa.text("SELECT id FROM customers WHERE email = :e"), {"e": email.lower()}).first()
        if twin is not None:
            log.warning("customers %s and %s differ only in the case of their e-mail; merge them by hand",
                        customer_id, twin[0])
            continue
        bind.execute(sa.text("UPDATE customers SET email = :e WHERE id = :i"), {"e": email.lower(), "i": customer_id})


def upgrade() -> None:
    op.create_table('customer_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('verified_at', escalation.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('session_version', sa.Integer(), nullable=False),
    sa.Column('link_nonce', sa.String(length=32), nullable=False),
    sa.Column('created_at', escalation.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_sign_in_at', escalation.models.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('session_version >= 1', name='ck_customer_accounts_session_version'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('customer_id')
    )
    op.create_table('attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=100), nullable=False),
    sa.Column('uploaded_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', escalation.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('size >= 0', name='ck_attachments_size'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('storage_key')
    )
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.create_index('ix_attachments_ticket_id', ['ticket_id'], unique=False)
        batch_op.create_index('ix_attachments_message_id', ['message_id'], unique=False)
    _lower_case_emails()
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_constraint('ck_tickets_channel', type_='check')
        batch_op.create_check_constraint('ck_tickets_channel', NEW_CHANNELS)
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint('ck_outbox_kind', type_='check')
        batch_op.create_check_constraint('ck_outbox_kind', NEW_KINDS)
    if not _postgres():
        op.create_index('ix_tickets_customer_id_updated_at', 'tickets', ['customer_id', 'updated_at'])
        op.drop_index('ix_tickets_customer_id', table_name='tickets')
        return
    with op.get_context().autocommit_block():
        op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_tickets_customer_id_updated_at "
                   "ON tickets (customer_id, updated_at)")
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_tickets_customer_id")


def downgrade() -> None:
    if not _postgres():
        op.create_index('ix_tickets_customer_id', 'tickets', ['customer_id'])
        op.drop_index('ix_tickets_customer_id_updated_at', table_name='tickets')
    else:
        with op.get_context().autocommit_block():
            op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_tickets_customer_id ON tickets (customer_id)")
            op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_tickets_customer_id_updated_at")
    op.execute("DELETE FROM outbox WHERE kind = 'account'")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint('ck_outbox_kind', type_='check')
        batch_op.create_check_constraint('ck_outbox_kind', OLD_KINDS)
    # a web-form ticket stays a ticket: it becomes an e-mail ticket (we answer it by e-mail)
    op.execute("UPDATE tickets SET channel = 'email' WHERE channel = 'web_form'")
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_constraint('ck_tickets_channel', type_='check')
        batch_op.create_check_constraint('ck_tickets_channel', OLD_CHANNELS)
    op.drop_table('attachments')  # the files stay in the folder: remove it by hand if wanted
    op.drop_table('customer_accounts')
