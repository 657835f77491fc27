"""console session versions and the requester's name on each ticket (issue 12)

- ``users.session_version``: part of what a console session (and a remember-me cookie)
  names; logging out or changing the password raises it, so every copy of an older
  session cookie stops loading the user (findings 5).
- ``tickets.requester_name``: the name typed in the chat (or the e-mail's From name) that
  opened this ticket. It belongs to the ticket only: a name given in chat no longer
  overwrites ``customers.name``, which only a verified address may change (finding 6).
  Existing tickets keep showing the customer's stored name (empty means "use it").

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 18:30:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requester_name', sa.String(length=120), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('requester_name')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
