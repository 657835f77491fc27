"""A ticket's status change and what always follows it: the SLA clock, the audit entry and the
live event. Every change goes through here, whether a use case sets the status itself
(:func:`apply`) or a claim wins it with a conditional UPDATE (:func:`followed`), so no path
skips the clock or writes its own audit rows.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from . import audit, events, lifecycle, sla
from .models import Ticket, utcnow


def apply(session: Session, ticket: Ticket, action: str, actor: str, **details: Any) -> None:
    """Move ``ticket`` along the lifecycle table (TransitionRefused when ``action`` is not allowed now)."""
    target, owner = lifecycle.check(action, ticket.status)
    before = ticket.status
    ticket.status = target
    if owner is not None:
        ticket.owner = owner
    ticket.updated_at = utcnow()
    followed(session, ticket, before, action, actor, **details)


def followed(session: Session, ticket: Ticket, before: str, action: str, actor: str, *,
             audit_action: str | None = None, **details: Any) -> None:
    """What follows a change from ``before`` to the ticket's current status: the SLA clock, one
    audit entry (``audit_action`` names it when it differs from the lifecycle action, e.g. a
    claim is an ``assign``) and the event the live views follow."""
    sla.on_status(ticket, before, ticket.status, ticket.updated_at or utcnow())
    audit.record(session, ticket, actor, audit_action or action, before, ticket.status, **details)
    events.record(session, ticket, "status", {"status": ticket.status, "owner": ticket.owner, "action": action})
