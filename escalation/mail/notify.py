"""The mails a ticket change causes, written to the outbox in the change's own transaction
(and the admins' SLA notices, written with the worker's SLA state change).

:mod:`escalation.tickets` calls these at the end of its use cases, so the API, the consoles,
the worker and ``flask mail-in`` all notify the same way, and a change that is rolled back
sends nothing.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Message, OutboxMail, Ticket, User
from . import messageids
from .outbox import enqueue
from .render import render

if TYPE_CHECKING:
    from ..sla import Clock


def _base(ticket: Ticket) -> dict[str, Any]:
    config = current_app.config
    public_url = config["PUBLIC_URL"].rstrip("/")
    tracking_url = f"{public_url}/track?number={ticket.number}"
    return {"ticket": ticket, "customer_name": ticket.customer.name or "there", "public_url": public_url,
            "tracking_url": tracking_url, "survey_url": tracking_url,
            "support_name": messageids.support_address(config)[0] or "Customer Care", "show_marker": True}


def ticket_opened(session: Session, ticket: Ticket) -> OutboxMail:
    """The auto-acknowledgement: the ticket number and where to follow it."""
    return enqueue(session, kind="acknowledgement", ticket=ticket, to_addr=ticket.customer.email,
                   rendered=render("acknowledgement", **_base(ticket)))


def ticket_assigned(session: Session, ticket: Ticket, agent: User, assigned_by: str = "") -> OutboxMail:
    """Tell the agent a ticket is theirs now (not part of the customer's thread)."""
    context = {**_base(ticket), "agent": agent, "assigned_by": assigned_by if assigned_by != agent.username else "",
               "show_marker": False,
               "console_url": f"{current_app.config['PUBLIC_URL'].rstrip('/')}/agent/tickets/{ticket.number}"}
    return enqueue(session, kind="assigned", ticket=ticket, to_addr=agent.email, thread=False,
                   rendered=render("assigned", **context))


def agent_replied(session: Session, ticket: Ticket, message: Message) -> OutboxMail | None:
    """An agent's public reply on an e-mail ticket goes out as e-mail (chat customers see it live)."""
    if message.internal or ticket.channel != "email":
        return None
    return enqueue(session, kind="agent_reply", ticket=ticket, to_addr=ticket.customer.email, auto_submitted=False,
                   rendered=render("agent_reply", **_base(ticket), message=message))


def ticket_resolved(session: Session, ticket: Ticket) -> OutboxMail:
    """The resolved notice, with the satisfaction survey link."""
    return enqueue(session, kind="resolved", ticket=ticket, to_addr=ticket.customer.email,
                   rendered=render("resolved", **_base(ticket)))


SLA_STATE_LABELS = {"at_risk": "at risk", "breached": "breached", "ok": "on time", "met": "met"}


def sla_notice(session: Session, ticket: Ticket, before: str, after: str, clock: Clock) -> list[OutboxMail]:
    """Tell every active admin that ``ticket`` became at risk or breached (one mail each).

    :func:`escalation.sla.check_all` calls it only when the state changes, so a ticket is
    announced once per change, not on every worker pass.
    """
    admins = session.scalars(select(User).where(User.role == "admin", User.active.is_(True))
                             .order_by(User.id)).all()
    public_url = current_app.config["PUBLIC_URL"].rstrip("/")
    due = clock.due.strftime("%Y-%m-%d %H:%M UTC") if clock.due else "—"
    mails: list[OutboxMail] = []
    for admin in admins:
        if not admin.email:
            continue
        context = {**_base(ticket), "admin": admin, "show_marker": False,
                   "sla_state": SLA_STATE_LABELS.get(after, after),
                   "previous_state": SLA_STATE_LABELS.get(before, before),
                   "breached": after == "breached", "clock_label": clock.label,
                   "due": due, "assignee_name": ticket.assignee.name if ticket.assignee else "",
                   "console_url": f"{public_url}/admin/tickets/{ticket.number}"}
        mails.append(enqueue(session, kind="sla_notice", ticket=ticket, to_addr=admin.email, thread=False,
                             rendered=render("sla_notice", **context)))
    return mails
