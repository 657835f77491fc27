"""The admin queue: filters that combine and stay in the URL, the next SLA deadline first,
and the agents' workload beside it."""
from __future__ import annotations

from typing import Any

from flask import render_template, request

from .. import dashboard as figures
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


def workload() -> list[dict[str, Any]]:
    """Per agent: ongoing, pending and completed tickets with their figures (see ``dashboard.workload``)."""
    return figures.workload(db.session, completed_days=COMPLETED_DAYS)


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
    return render_template("admin/queue.html", tickets=rows, f=wanted, statuses=STATUSES, priorities=PRIORITIES,
                           categories=CATEGORIES, channels=CHANNELS, sla_filters=ticket_queue.SLA_FILTERS,
                           sorts=ticket_queue.SORTS, agents=figures.agents(db.session), workload=workload(),
                           per_page=ticket_queue.PAGE_SIZE, has_next=has_next, completed_days=COMPLETED_DAYS,
                           linked=problems.linked_counts(db.session, [t.id for t in rows]))
