"""figure snapshots: the dashboard's and the agents' figures computed by the worker (issue 15)

At 1,000,000 tickets the agents' CSAT and median times were ~55 ms of every queue request and
the 90-day dashboard 377 ms (``bench/bench_tickets_pg.py``). The worker now computes them every
``CARE_FIGURES_REFRESH_SECONDS`` into this table; the pages read one row and say "as of HH:MM"
(``figure_snapshots.snapshot``). A small desk still computes them in the request.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 03:10:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import escalation.models

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('figure_snapshots',
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('computed_at', escalation.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('took_ms', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('figure_snapshots')
