"""indexes for the queue sorted by what is due, its filters, and the workload table (issue 15)

Measured with ``bench/bench_tickets_pg.py`` on 1,000,000 tickets (EXPLAIN ANALYZE in
docs/benchmarks.md). PostgreSQL only (a desk on SQLite is small; its queries are the same):

- ``ix_tickets_open_due``: the open tickets (~33,000 of a million) in the queue's default order,
  the next SLA deadline first (``queue.next_due()``: first-response due until there is a first
  response, then resolution due). The page was a sort of every open ticket (bitmap heap scan,
  ~125 ms); now it reads the first 201 entries in order. The filters' columns are INCLUDEd, so
  a filtered view (SLA state, priority, category, channel, assignee) is an index-only scan
  that skips non-matching entries without visiting the table;
- ``ix_tickets_due``: the same order over every ticket (``status=all``, a closed status);
- ``ix_tickets_open_priority_due``, ``ix_tickets_priority_due``: the same for "priority, then
  due" (``queue.priority_rank()``; a top-N sort of every ticket before, ~580 ms over all);
- ``ix_tickets_open_assignee``: open tickets per agent and status (the workload table's
  "ongoing/pending", an agent's open load), a few thousand entries instead of a scan of the
  million-entry ``(assignee_id, status)`` index filtered by status (~80-130 ms);
- ``ix_tickets_resolved_at`` INCLUDEs ``assignee_id`` and ``status``: the workload table's
  "completed in 30 days" becomes an index-only scan (~90,000 heap visits before, ~190 ms);
- ``ix_tickets_created_at`` INCLUDEs ``assignee_id`` too: the agents' median first reply and
  resolution over the period's tickets (``dashboard.agent_figures``) read only the index;
- ``ix_tickets_id_assignee`` (id INCLUDE assignee_id): CSAT per agent looks up each rated
  ticket's agent without visiting the table (13,000 random heap reads a month of ratings).

Built ``CONCURRENTLY`` (the desk keeps taking tickets meanwhile), ``IF NOT EXISTS`` so a re-run
after an interrupted build is safe.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 00:20:00.000000
"""
from __future__ import annotations

from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

# the SQL of queue.next_due(), exactly as SQLAlchemy renders it (the planner matches it textually)
DUE = "(CASE WHEN (first_response_at IS NULL) THEN first_response_due ELSE resolution_due END)"
# queue.priority_rank(), likewise
RANK = ("(CASE WHEN (priority = 'urgent') THEN 0 WHEN (priority = 'high') THEN 1 "
        "WHEN (priority = 'normal') THEN 2 WHEN (priority = 'low') THEN 3 END)")
OPEN = "status IN ('new', 'assigned', 'acknowledged', 'in_progress', 'waiting_on_customer')"
FILTERS = ("status", "sla_state", "priority", "category", "channel", "assignee_id",
           "first_response_at", "first_response_due", "resolution_due")

INDEXES = (
    ("ix_tickets_open_due", f"(({DUE} IS NULL), {DUE}, id) INCLUDE ({', '.join(FILTERS)}) WHERE {OPEN}"),
    ("ix_tickets_due", f"(({DUE} IS NULL), {DUE}, id)"),
    ("ix_tickets_open_priority_due",
     f"({RANK}, ({DUE} IS NULL), {DUE}, id) INCLUDE ({', '.join(FILTERS)}) WHERE {OPEN}"),
    ("ix_tickets_priority_due", f"({RANK}, ({DUE} IS NULL), {DUE}, id)"),
    ("ix_tickets_open_assignee", f"(assignee_id, status) WHERE {OPEN}"),
    ("ix_tickets_id_assignee", "(id) INCLUDE (assignee_id)"),
)
# 0008's period index, and what it INCLUDEs after this migration
PERIOD_BEFORE = ("status", "sla_state", "channel", "first_response_at", "resolved_at")
PERIOD_AFTER = (*PERIOD_BEFORE, "assignee_id")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _rebuild(name: str, column: str, include: tuple[str, ...]) -> None:
    """Swap index ``name`` on ``tickets (column)`` for a new build of it (built beside it, then renamed)."""
    covering = f" INCLUDE ({', '.join(include)})" if include else ""
    op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}_new")
    op.execute(f"CREATE INDEX CONCURRENTLY {name}_new ON tickets ({column}){covering}")
    op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    op.execute(f"ALTER INDEX {name}_new RENAME TO {name}")


def upgrade() -> None:
    if not _postgres():
        return
    with op.get_context().autocommit_block():
        for name, definition in INDEXES:
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON tickets {definition}")
        _rebuild("ix_tickets_resolved_at", "resolved_at", ("assignee_id", "status"))
        _rebuild("ix_tickets_created_at", "created_at", PERIOD_AFTER)
        op.execute("ANALYZE tickets")  # statistics of the new expression indexes


def downgrade() -> None:
    if not _postgres():
        return
    with op.get_context().autocommit_block():
        for name, _ in INDEXES:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        _rebuild("ix_tickets_resolved_at", "resolved_at", ())
        _rebuild("ix_tickets_created_at", "created_at", PERIOD_BEFORE)
