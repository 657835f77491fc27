"""One ticket in the admin console: its page, assignment, triage correction and problem link."""
from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import dashboard as figures
from .. import problems, tickets
from ..assignment import rank_agents
from ..auth import role_required
from ..consoles import act
from ..customers import customer_history
from ..db import db
from ..models import PRIORITIES, User
from ..numbers import int_from
from ..triage import CATEGORIES
from . import bp


@bp.get("/tickets/<number>")
@role_required("admin")
def ticket(number: str) -> Any:
    item = tickets.get_by_number(db.session, number)
    return render_template("admin/ticket.html", ticket=item, suggestions=rank_agents(db.session, item),
                           categories=CATEGORIES, priorities=PRIORITIES,
                           agents=figures.agents(db.session, active_only=True),
                           history=customer_history(db.session, item), problem=problems.problem_of(db.session, item),
                           linked=problems.linked_counts(db.session, [item.id]).get(item.id, 0))


@bp.post("/tickets/<number>/problem")
@role_required("admin")
def link_problem(number: str) -> Any:
    """Link this ticket to a problem ticket: resolving the problem resolves this one too."""
    item = tickets.get_by_number(db.session, number)

    def run() -> str:
        problem = tickets.get_by_number(db.session, request.form.get("problem", ""))
        problems.link(db.session, item, problem, current_user)
        return f"{item.number} is linked to problem {problem.number}: resolving it resolves this one."
    return act(run, url_for("admin.ticket", number=number), code=302)


@bp.post("/tickets/<number>/triage")
@role_required("admin")
def override_triage(number: str) -> Any:
    """The admin corrects category and priority (audited; a new priority moves the SLA targets)."""
    item = tickets.get_by_number(db.session, number)

    def run() -> tuple[str, str]:
        changes = tickets.override_triage(db.session, item, current_user, category=request.form.get("category", ""),
                                          priority=request.form.get("priority", ""))
        if not changes:
            return "Nothing changed: that already is the ticket's category and priority.", "info"
        said = [f"{field} {change['from']} → {change['to']}" for field, change in changes.items() if field != "sla"]
        return (f"{item.number}: {', '.join(said)}."
                + (" The SLA targets follow the new priority." if "priority" in changes else ""), "success")
    return act(run, url_for("admin.ticket", number=number), code=302)


@bp.post("/tickets/<number>/assign")
@role_required("admin")
def assign(number: str) -> Any:
    item = tickets.get_by_number(db.session, number)
    agent = db.session.get(User, int_from(request.form, "agent_id", default=0))
    if agent is None:
        flash("Choose an agent to assign the ticket to.", "error")
        return redirect(url_for("admin.ticket", number=number))

    def run() -> str:
        tickets.assign(db.session, item, agent, current_user)
        return f"{item.number} assigned to {agent.name}."
    return act(run, url_for("admin.ticket", number=number), code=302)
