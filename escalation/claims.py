"""Agents take tickets themselves: claim one, or pick the next from the queue.

The claim is one conditional UPDATE (``… WHERE status = 'new' AND assignee_id IS NULL``):
the database decides, so when two agents claim the same ticket at the same moment exactly
one row is updated and the other agent is told who got it. Works the same on SQLite and
PostgreSQL.
"""
from __future__ import annotations

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from . import events, lifecycle
from .errors import Conflict, ValidationFailed
from .models import AuditEntry, Ticket, User, utcnow
from .tickets import open_load

PRIORITY_ORDER = case({"urgent": 0, "high": 1, "normal": 2, "low": 3}, value=Ticket.priority, else_=4)


def claim(session: Session, ticket_id: int, agent: User) -> Ticket:
    if agent.role != "agent" or not agent.active:
        raise ValidationFailed("Only active agents can take tickets.")
    target, owner = lifecycle.check("assign", "new")
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.status == "new", Ticket.assignee_id.is_(None))
        .values(assignee_id=agent.id, status=target, owner=owner, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise Conflict("That ticket no longer exists.", code="ticket_not_found", status=404)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        ticket = session.get(Ticket, ticket_id)
        taker = ticket.assignee.name if ticket and ticket.assignee else "someone else"
        raise Conflict(f"{ticket.number if ticket else 'This ticket'} was just taken by {taker}. "
                       "Pick another one.", code="already_claimed", details={"assignee": taker})
    session.refresh(ticket)
    session.add(AuditEntry(ticket_id=ticket.id, actor=agent.username, action="claim",
                           from_status="new", to_status=target, details={"agent": agent.username}))
    events.record(session, ticket, "status", {"status": target, "owner": owner, "action": "assign"})
    return ticket


def next_candidates(session: Session, agent: User, limit: int = 5) -> list[Ticket]:
    """Unassigned new tickets, the agent's skills first, then by priority and age."""
    skills = agent.skills or []
    skill_first = case((Ticket.category.in_(skills), 0), else_=1) if skills else 0
    query = (select(Ticket).where(Ticket.status == "new", Ticket.assignee_id.is_(None))
             .order_by(skill_first, PRIORITY_ORDER, Ticket.created_at).limit(limit))
    return list(session.scalars(query).unique())


def pick_next(session: Session, agent: User) -> Ticket | None:
    """Claim the best waiting ticket for ``agent``; None when the queue is empty."""
    if open_load(session, agent.id) >= agent.capacity:
        raise Conflict(f"You already have {agent.capacity} open tickets, your capacity. "
                       "Resolve one before taking another.", code="at_capacity")
    for candidate in next_candidates(session, agent):
        try:
            return claim(session, candidate.id, agent)
        except Conflict as exc:
            if exc.code != "already_claimed":
                raise
    return None
