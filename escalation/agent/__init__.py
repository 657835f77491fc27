"""The agent console: my tickets, the conversation with its transcript, reply and resolve."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import tickets
from ..auth import role_required
from ..db import db
from ..errors import ServiceError
from ..lifecycle import OPEN_STATUSES, allowed_actions
from ..models import Ticket

bp = Blueprint("agent", __name__, url_prefix="/agent")


@bp.get("/")
@role_required("agent", "admin")
def my_tickets() -> Any:
    rows = db.session.scalars(
        select(Ticket).where(Ticket.assignee_id == current_user.id)
        .order_by(Ticket.status.in_(OPEN_STATUSES).desc(), Ticket.updated_at.desc())
    ).unique().all()
    return render_template("agent/my_tickets.html", tickets=rows, open_statuses=OPEN_STATUSES)


@bp.get("/tickets/<number>")
@role_required("agent", "admin")
def ticket(number: str) -> Any:
    item = tickets.get_by_number(db.session, number)
    return render_template("agent/ticket.html", ticket=item, actions=allowed_actions(item.status))


def _act(number: str, action: Callable[[Ticket], str]) -> Any:
    item = tickets.get_by_number(db.session, number)
    try:
        message = action(item)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(message, "success")
    return redirect(url_for("agent.ticket", number=number))


@bp.post("/tickets/<number>/acknowledge")
@role_required("agent", "admin")
def acknowledge(number: str) -> Any:
    def run(item: Ticket) -> str:
        tickets.acknowledge(db.session, item, current_user)
        return "Acknowledged: the customer now sees that you have the conversation."
    return _act(number, run)


@bp.post("/tickets/<number>/reply")
@role_required("agent", "admin")
def reply(number: str) -> Any:
    internal = request.form.get("internal") == "1"

    def run(item: Ticket) -> str:
        tickets.reply(db.session, item, current_user, request.form.get("body", ""), internal=internal)
        return "Internal note saved." if internal else "Reply sent to the customer."
    return _act(number, run)


@bp.post("/tickets/<number>/resolve")
@role_required("agent", "admin")
def resolve(number: str) -> Any:
    def run(item: Ticket) -> str:
        tickets.resolve(db.session, item, current_user, request.form.get("resolution", ""))
        return f"{item.number} resolved."
    return _act(number, run)


@bp.get("/tickets/<number>/events")
@role_required("agent", "admin")
def ticket_events(number: str) -> Any:
    """The console's live stream: every event of the ticket, internal notes included."""
    from ..api.conversations import event_stream

    item = tickets.get_by_number(db.session, number)
    return event_stream(item.id, include_internal=True)
