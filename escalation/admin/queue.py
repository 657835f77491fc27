"""The admin queue: filters that combine and stay in the URL, the next SLA deadline first,
and the agents' workload beside it."""
from __future__ import annotations

from typing import Any

from flask import render_template, request

from .. import dashboard as figures
from ..figure_snapshots import AGENT_FIGURES_DAYS, Snapshot, page_snapshot
from .. import problems
from .. import queue as ticket_queue
from ..auth import role_required
from ..db import db
from ..models import CHANNELS, PRIORITIES, STATUSES
from ..numbers import int_from
from ..queue import MAX_PAGE, QueueFilter
from ..triage import CATEGORIES
from . import bp

COMPLETED_DAYS = figures.COMPLETED_DAYS
AGENT_FIGURES = f"agents:{AGENT_FIGURES_DAYS}"  # the snapshot key of the agents' figures


def workload(agent_figures: Snapshot | None = None) -> list[dict[str, Any]]:
    """Per agent: ongoing, pending and completed tickets with their figures (see ``dashboard.workload``;
    the figures from ``agent_figures`` or the snapshot)."""
    agent_figures = agent_figures or page_snapshot(AGENT_FIGURES)
    return figures.workload(db.session, completed_days=COMPLETED_DAYS, figures=agent_figures.value)


@bp.get("/")
@role_required("admin")
def queue() -> Any:
    """Filters (status, priority, SLA state, category, assignee, channel, text) combine and stay
    in the URL; the default sort puts the next SLA deadline first. 200 a page (``?page=2``);
    one statement for the page whatever the filters (timed on 1M tickets by
    ``bench/bench_tickets_pg.py``)."""
    wanted = QueueFilter.from_args(request.args, page=int_from(request.args, "page", default=1, minimum=1,
                                                                     maximum=MAX_PAGE))
    rows, has_next = ticket_queue.page(db.session, wanted)
    agent_figures = page_snapshot(AGENT_FIGURES)
    return render_template("admin/queue.html", tickets=rows, f=wanted, statuses=STATUSES, priorities=PRIORITIES,
                           categories=CATEGORIES, channels=CHANNELS, sla_filters=ticket_queue.SLA_FILTERS,
                           sorts=ticket_queue.SORTS, agents=figures.agents(db.session),
                           workload=workload(agent_figures),
                           figures_as_of=agent_figures.as_of,
                           per_page=ticket_queue.PAGE_SIZE, has_next=has_next, completed_days=COMPLETED_DAYS,
                           linked=problems.linked_counts(db.session, [t.id for t in rows]))
