"""The admin's desk actions on tickets that are already in someone's hands: hand-offs, spam,
merges, and moving an absent agent's tickets in one go (routes of the admin blueprint)."""
from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_login import current_user

from .. import discard, handoffs, tickets
from ..auth import role_required
from ..consoles import act, chosen_agent
from ..db import db
from ..errors import ServiceError
from ..models import Ticket, User
from . import bp


@bp.post("/tickets/<number>/hand-off")
@role_required("admin")
def hand_off(number: str) -> Any:
    item = tickets.get_by_number(db.session, number)
    to = chosen_agent()

    def run() -> str:
        handoffs.hand_off(db.session, item, current_user, to=to, note=request.form.get("note", ""))
        return f"{item.number} handed off to {to.name if to else 'the queue'}."
    return act(run, url_for("admin.ticket", number=item.number))


@bp.post("/tickets/<number>/spam")
@role_required("admin")
def close_as_spam(number: str) -> Any:
    item = tickets.get_by_number(db.session, number)
    block = request.form.get("block") == "on"

    def run() -> str:
        discard.close_as_spam(db.session, item, current_user, block=block)
        return (f"{item.number} closed as spam; nothing was sent to the sender."
                + (f" Mail from {item.customer.email} is dropped from now on." if block else ""))
    return act(run, url_for("admin.queue"))


@bp.post("/tickets/<number>/merge")
@role_required("admin")
def merge(number: str) -> Any:
    source = tickets.get_by_number(db.session, number)
    target_number = (request.form.get("into") or "").strip()
    try:
        target: Ticket = tickets.get_by_number(db.session, target_number)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.ticket", number=source.number), code=303)

    def run() -> str:
        discard.merge(db.session, source, target, current_user)
        return f"{source.number} is merged into {target.number}; the customer was told the surviving number."
    return act(run, url_for("admin.ticket", number=target.number))


@bp.post("/agents/<int:agent_id>/move-tickets")
@role_required("admin")
def move_tickets(agent_id: int) -> Any:
    agent = db.session.get(User, agent_id)
    if agent is None or agent.role != "agent":
        flash("No such agent.", "error")
        return redirect(url_for("admin.queue"), code=303)
    to = chosen_agent("to")

    def run() -> str:
        moved = handoffs.move_all(db.session, agent, current_user, to=to, note=request.form.get("note", ""))
        if not moved:
            return f"{agent.name} has no open tickets."
        return f"{len(moved)} ticket(s) of {agent.name} moved to {to.name if to else 'the queue'}: {', '.join(moved)}."
    return act(run, url_for("admin.queue"))
