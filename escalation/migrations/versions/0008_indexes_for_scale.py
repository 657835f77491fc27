"""indexes for a million tickets (issue 8)

Measured with ``bench/bench_tickets_pg.py`` on 1,000,000 tickets (EXPLAIN ANALYZE in
docs/benchmarks.md):

- ``tickets (status, created_at)`` replaces ``(status)``: the queue filtered by a status,
  newest first, any page, reads the index in order instead of walking ``created_at``
  backwards and discarding the other statuses;
- ``tickets (assignee_id, status)`` replaces ``(assignee_id)``: an agent's open load
  (assignment suggestions, auto-assign, once per agent) and the admin's workload table
  become index-only scans instead of bitmap-ANDs over ~50,000 rows per agent;
- ``tickets (resolved_at)``: "resolved per day" on the dashboard scanned the whole table;
- ``ticket_events (ticket_id, id)`` replaces ``(ticket_id)``: a live stream reads "events of
  this ticket after id N, in order" on every wake-up;
- ``surveys (created_at)``: CSAT of the period;
- PostgreSQL only: ``tickets (created_at)`` now INCLUDEs the columns the dashboard reads
  over a period (status, SLA state, channel, first response and resolution times), so its
  per-period figures are index-only scans instead of heap visits of every ticket of the
  period (~0.5 s each at 14 days when the rows are scattered);
- PostgreSQL only: trigram (``pg_trgm``, GIN) indexes on ticket number and subject and on
  customer e-mail and name, for the queue's substring search (``ILIKE '%…%'``), which was a
  sequential scan of both tables (~2.7 s at 1M tickets).

On PostgreSQL the indexes are built ``CONCURRENTLY`` (outside the migration's transaction),
so a live desk keeps taking tickets while they build; ``IF NOT EXISTS`` makes a re-run after
an interrupted build safe.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 14:00:00.000000
"""
from __future__ import annotations

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# (name, table, columns) — on every backend
PORTABLE = (
    ("ix_tickets_status_created_at", "tickets", ("status", "created_at")),
    ("ix_tickets_assignee_id_status", "tickets", ("assignee_id", "status")),
    ("ix_tickets_resolved_at", "tickets", ("resolved_at",)),
    ("ix_ticket_events_ticket_id_id", "ticket_events", ("ticket_id", "id")),
    ("ix_surveys_created_at", "surveys", ("created_at",)),
)
# replaced by the composite indexes above (same leading column)
REPLACED = (
    ("ix_tickets_status", "tickets", ("status",)),
    ("ix_tickets_assignee_id", "tickets", ("assignee_id",)),
    ("ix_ticket_events_ticket_id", "ticket_events", ("ticket_id",)),
)
# (name, table, column) — PostgreSQL only: GIN trigram indexes for ILIKE '%…%'
TRIGRAM = (
    ("ix_tickets_number_trgm", "tickets", "number"),
    ("ix_tickets_subject_trgm", "tickets", "subject"),
    ("ix_customers_email_trgm", "customers", "email"),
    ("ix_customers_name_trgm", "customers", "name"),
)


# PostgreSQL only: the period index covers what the dashboard reads (same name, same key)
COVERED = ("status", "sla_state", "channel", "first_response_at", "resolved_at")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgres():
        for name, table, cols in PORTABLE:
            op.create_index(name, table, list(cols), unique=False)
        for name, table, _ in REPLACED:
            op.drop_index(name, table_name=table)
        return
    with op.get_context().autocommit_block():
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, table, cols in PORTABLE:
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} ({', '.join(cols)})")
        for name, table, col in TRIGRAM:
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} USING gin ({col} gin_trgm_ops)")
        for name, _, _ in REPLACED:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        _rebuild_created_at(f" INCLUDE ({', '.join(COVERED)})")


def _rebuild_created_at(include: str) -> None:
    """Swap ``ix_tickets_created_at`` for a new build of it (built beside it, then renamed)."""
    op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_tickets_created_at_new")
    op.execute(f"CREATE INDEX CONCURRENTLY ix_tickets_created_at_new ON tickets (created_at){include}")
    op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_tickets_created_at")
    op.execute("ALTER INDEX ix_tickets_created_at_new RENAME TO ix_tickets_created_at")


def downgrade() -> None:
    if not _postgres():
        for name, table, cols in REPLACED:
            op.create_index(name, table, list(cols), unique=False)
        for name, table, _ in PORTABLE:
            op.drop_index(name, table_name=table)
        return
    with op.get_context().autocommit_block():
        for name, table, cols in REPLACED:
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} ({', '.join(cols)})")
        for name, _, _ in (*PORTABLE, *TRIGRAM):
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        _rebuild_created_at("")
        # the pg_trgm extension stays: other objects may use it, and it costs nothing unused
