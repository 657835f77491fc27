"""SLA clocks: targets per priority, pausing while we wait on the customer, at-risk and breach.

Each ticket carries its due times; waiting on the customer pauses the clock (the due time
moves by the paused duration when the customer answers). The worker re-evaluates open
tickets and records each change of state in the audit log and the ticket's events, and
e-mails the admins when a ticket becomes at risk or breached.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, events
from .lifecycle import DONE_STATUSES, OPEN_STATUSES
from .mail import notify as mail_notify
from .models import Ticket, utcnow
from .sla_targets import DEFAULT_POLICIES, policy  # noqa: F401  (DEFAULT_POLICIES: part of this module's API)

AT_RISK_SHARE = 0.25  # at risk when less than a quarter of the target time is left
NOTIFY_STATES = frozenset({"at_risk", "breached"})  # each admin gets one e-mail per change into these


def start(session: Session, ticket: Ticket) -> None:
    first, resolution = policy(session, ticket.priority)
    opened = ticket.created_at or utcnow()
    ticket.first_response_due = opened + timedelta(minutes=first)
    ticket.resolution_due = opened + timedelta(minutes=resolution)
    ticket.sla_state = "ok"


def retarget(session: Session, ticket: Ticket, previous_priority: str) -> None:
    """Move the due times to the targets of the ticket's (new) priority, counted from when it
    was opened; time already paused (waiting on the customer) stays added to the resolution."""
    _, old_resolution = policy(session, previous_priority)
    first, resolution = policy(session, ticket.priority)
    opened = ticket.created_at or utcnow()
    paused = timedelta(0)
    if ticket.resolution_due is not None:
        paused = max(ticket.resolution_due - (opened + timedelta(minutes=old_resolution)), timedelta(0))
    ticket.first_response_due = opened + timedelta(minutes=first)
    ticket.resolution_due = opened + timedelta(minutes=resolution) + paused


def on_status(ticket: Ticket, before: str, after: str, now: datetime | None = None) -> None:
    """Pause while waiting on the customer; stop when resolved."""
    now = now or utcnow()
    if after == "waiting_on_customer" and ticket.sla_paused_at is None:
        ticket.sla_paused_at = now
    elif before == "waiting_on_customer" and after != "waiting_on_customer" and ticket.sla_paused_at:
        paused = now - ticket.sla_paused_at
        if ticket.resolution_due:
            ticket.resolution_due += paused
        ticket.sla_paused_at = None
    if after in DONE_STATUSES and ticket.sla_state != "breached":
        ticket.sla_state = "met"
    elif before == "resolved" and after in OPEN_STATUSES:
        ticket.sla_state = "ok"


@dataclass(frozen=True)
class Clock:
    label: str
    due: datetime | None
    remaining: timedelta | None
    paused: bool


def clock(ticket: Ticket, now: datetime | None = None) -> Clock:
    now = now or utcnow()
    paused = ticket.sla_paused_at is not None
    if ticket.status in DONE_STATUSES:
        return Clock("resolved", None, None, False)
    if ticket.first_response_at is None and ticket.first_response_due:
        due, label = ticket.first_response_due, "first response"
    else:
        due, label = ticket.resolution_due, "resolution"
    if due is None:
        return Clock(label, None, None, paused)
    remaining = due - (ticket.sla_paused_at if paused else now)
    return Clock(label, due, remaining, paused)


def evaluate(ticket: Ticket, session: Session, now: datetime | None = None) -> str:
    now = now or utcnow()
    current = clock(ticket, now)
    if current.remaining is None or current.paused:
        return ticket.sla_state
    first, resolution = policy(session, ticket.priority)
    target = timedelta(minutes=first if current.label == "first response" else resolution)
    if current.remaining <= timedelta(0):
        return "breached"
    if current.remaining < target * AT_RISK_SHARE:
        return "at_risk"
    return "ok" if ticket.sla_state != "breached" else "breached"


def check_all(session: Session, now: datetime | None = None, limit: int = 1000) -> list[tuple[Ticket, str, str]]:
    """Update the SLA state of open tickets; returns the (ticket, before, after) changes.

    A change into at risk or breached queues one e-mail to each admin (in this transaction),
    so a ticket is announced once per change of state, never on every pass.
    """
    now = now or utcnow()
    changes = []
    rows = session.scalars(select(Ticket).where(Ticket.status.in_(OPEN_STATUSES),
                                                Ticket.sla_state.in_(("ok", "at_risk")))
                           .order_by(Ticket.resolution_due).limit(limit)).unique()
    for ticket in rows:
        after = evaluate(ticket, session, now)
        if after != ticket.sla_state:
            before, ticket.sla_state = ticket.sla_state, after
            audit.record(session, ticket, "worker", f"sla_{after}", ticket.status, ticket.status,
                         **{"from": before, "to": after, "clock": clock(ticket, now).label})
            events.record(session, ticket, "status", {"status": ticket.status, "owner": ticket.owner,
                                                      "sla": after}, public=False)
            if after in NOTIFY_STATES:
                mail_notify.sla_notice(session, ticket, before, after, clock(ticket, now))
            changes.append((ticket, before, after))
    return changes
