"""Slack: tickets that came by Slack keep their thread; the Slack outbox and its cursor;
articles published for employees; tickets linked to a problem ticket; tickets staff raise
on someone's behalf (channels phone, meeting, walk-in)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 18:30:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import escalation.models

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

OLD_CHANNELS = "channel IN ('web_chat', 'email', 'web_form')"  # after 0011 (the portal's web form)
NEW_CHANNELS = "channel IN ('web_chat', 'email', 'web_form', 'slack', 'phone', 'meeting', 'walk_in')"


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slack_team', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('slack_channel', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('slack_thread_ts', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('slack_user', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('problem_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_tickets_problem_id_tickets', 'tickets', ['problem_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index('ix_tickets_problem_id', ['problem_id'], unique=False)
        batch_op.drop_constraint('ck_tickets_channel', type_='check')
        batch_op.create_check_constraint('ck_tickets_channel', NEW_CHANNELS)
        batch_op.create_index('ix_tickets_slack_thread', ['slack_channel', 'slack_thread_ts'], unique=False)
    op.create_table('slack_posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=40), nullable=False),
    sa.Column('thread_ts', sa.String(length=40), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('blocks', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', escalation.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', escalation.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('ts', sa.String(length=40), nullable=True),
    sa.Column('created_at', escalation.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', escalation.models.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name='ck_slack_posts_status'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('slack_posts', schema=None) as batch_op:
        batch_op.create_index('ix_slack_posts_ticket_id', ['ticket_id'], unique=False)
        batch_op.create_index('ix_slack_posts_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)
    with op.batch_alter_table('published_articles', schema=None) as batch_op:
        batch_op.drop_constraint('ck_published_articles_audience', type_='check')
        batch_op.create_check_constraint('ck_published_articles_audience',
                                         "audience IN ('public', 'employee', 'internal')")
    op.create_table('slack_cursors',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('slack_cursors')
    op.drop_table('slack_posts')
    op.execute("UPDATE published_articles SET audience = 'internal' WHERE audience = 'employee'")
    with op.batch_alter_table('published_articles', schema=None) as batch_op:
        batch_op.drop_constraint('ck_published_articles_audience', type_='check')
        batch_op.create_check_constraint('ck_published_articles_audience', "audience IN ('public', 'internal')")
    op.execute("DELETE FROM tickets WHERE channel IN ('slack', 'phone', 'meeting', 'walk_in')")
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_slack_thread')
        batch_op.drop_index('ix_tickets_problem_id')
        batch_op.drop_constraint('fk_tickets_problem_id_tickets', type_='foreignkey')
        batch_op.drop_column('problem_id')
        batch_op.drop_constraint('ck_tickets_channel', type_='check')
        batch_op.create_check_constraint('ck_tickets_channel', OLD_CHANNELS)
        batch_op.drop_column('slack_user')
        batch_op.drop_column('slack_thread_ts')
        batch_op.drop_column('slack_channel')
        batch_op.drop_column('slack_team')
