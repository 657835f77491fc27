"""The admin dashboard: the desk's figures over a period (``?days=``)."""
from __future__ import annotations

from typing import Any

from flask import render_template, request

from .. import dashboard as figures
from ..figure_snapshots import page_snapshot
from ..auth import role_required
from ..db import db
from ..numbers import int_from
from . import bp


@bp.get("/dashboard")
@role_required("admin")
def dashboard() -> Any:
    days = int_from(request.args, "days", default=14, minimum=1, maximum=figures.MAX_DAYS)
    snap = page_snapshot(f"dashboard:{days}")
    data = snap.value
    return render_template("admin/dashboard.html", d=data, as_of=snap.as_of, opened=figures.bars(data.opened_per_day),
                           resolved=figures.bars(data.resolved_per_day),
                           comments=figures.latest_comments(db.session))
