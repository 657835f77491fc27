"""The admin dashboard: the desk's figures over a period (``?days=``)."""
from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request

from .. import dashboard as figures
from ..auth import role_required
from ..db import db
from ..numbers import int_from
from . import bp


def snapshot(key: str) -> figures.Snapshot:
    """The figures of ``key`` for a page: live on a small desk, else the worker's snapshot
    (``dashboard.snapshot``; the page shows ``as_of``)."""
    return figures.snapshot(db.session, key, live_tickets=current_app.config["FIGURES_LIVE_TICKETS"],
                            refresh_seconds=current_app.config["FIGURES_REFRESH_SECONDS"])


@bp.get("/dashboard")
@role_required("admin")
def dashboard() -> Any:
    days = int_from(request.args, "days", default=14, minimum=1, maximum=figures.MAX_DAYS)
    snap = snapshot(f"dashboard:{days}")
    data = snap.value
    return render_template("admin/dashboard.html", d=data, as_of=snap.as_of, opened=figures.bars(data.opened_per_day),
                           resolved=figures.bars(data.resolved_per_day),
                           comments=figures.latest_comments(db.session))
