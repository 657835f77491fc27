"""Agents take tickets themselves (claim one, or pick the next from the queue), and automatic
assignment gives new tickets to the best available agent when the admin switched it on.

Both are one conditional UPDATE (``… WHERE status = 'new' AND assignee_id IS NULL``): the
database decides, so when two agents — or an agent and automatic assignment — take the same
ticket at the same moment exactly one row is updated and the other side is told who got it
(or moves on). Works the same on SQLite and PostgreSQL.
"""
from __future__ import annotations

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session, aliased

from . import assignment, desk_settings, lifecycle, transitions
from .assignment import open_load
from .errors import Conflict, NotFound, ValidationFailed
from .mail import notify as mail_notify
from .models import Ticket, User, utcnow

AUTO_ACTOR = "auto-assign"

PRIORITY_ORDER = case({"urgent": 0, "high": 1, "normal": 2, "low": 3}, value=Ticket.priority, else_=4)


def _take(session: Session, ticket_id: int, agent: User, *, within_capacity: bool = False) -> bool:
    """The conditional UPDATE: True when this call gave the unassigned new ticket to ``agent``.

    ``within_capacity`` adds the agent's open load to the condition, so automatic assignment
    does not act on a stale ranking: an agent who filled up since is skipped. (Two assignments
    to the same agent committing at the same instant may still both pass on PostgreSQL, whose
    READ COMMITTED snapshot does not see the other's row; capacity is a soft limit.)
    """
    target, owner = lifecycle.check("assign", "new")
    conditions = [Ticket.id == ticket_id, Ticket.status == "new", Ticket.assignee_id.is_(None)]
    if within_capacity:
        other = aliased(Ticket)
        load = (select(func.count(other.id))
                .where(other.assignee_id == agent.id, other.status.in_(lifecycle.OPEN_STATUSES))
                .scalar_subquery())
        conditions.append(load < agent.capacity)
    result = session.execute(
        update(Ticket).where(*conditions)
        .values(assignee_id=agent.id, status=target, owner=owner, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def claim(session: Session, ticket_id: int, agent: User) -> Ticket:
    if agent.role != "agent" or not agent.active:
        raise ValidationFailed("Only active agents can take tickets.")
    taken = _take(session, ticket_id, agent)
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound("That ticket no longer exists.", code="ticket_not_found")
    if not taken:
        session.rollback()
        ticket = session.get(Ticket, ticket_id)
        taker = ticket.assignee.name if ticket and ticket.assignee else "someone else"
        raise Conflict(f"{ticket.number if ticket else 'This ticket'} was just taken by {taker}. "
                       "Pick another one.", code="already_claimed", details={"assignee": taker})
    session.refresh(ticket)
    transitions.followed(session, ticket, "new", "assign", agent.username, audit_action="claim",
                         agent=agent.username)
    mail_notify.agent_allocated(session, ticket, agent)
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


def auto_assign(session: Session, ticket: Ticket) -> User | None:
    """Give an unassigned new ticket to the best available agent, when automatic assignment is on.

    Candidates are :func:`escalation.assignment.available`: online, below capacity, the
    ticket's skill first, then the least loaded. Returns the agent, or None when it is off,
    nobody is available, or someone took the ticket first (never an error: the ticket simply
    waits in the queue, and the worker tries again).
    """
    if not desk_settings.auto_assign(session) or ticket.status != "new" or ticket.assignee_id is not None:
        return None
    for suggestion in assignment.available(session, ticket):
        agent = suggestion.agent
        if _take(session, ticket.id, agent, within_capacity=True):
            session.refresh(ticket)
            transitions.followed(session, ticket, "new", "assign", AUTO_ACTOR, audit_action="auto_assign",
                                 agent=agent.username, automatic=True, reasons=list(suggestion.reasons))
            mail_notify.ticket_assigned(session, ticket, agent, "automatic assignment")
            return agent
        status, assignee_id = session.execute(
            select(Ticket.status, Ticket.assignee_id).where(Ticket.id == ticket.id)).one()
        if status != "new" or assignee_id is not None:  # someone took it meanwhile: nothing to do
            session.refresh(ticket)
            return None
        # else this agent filled up meanwhile: try the next one
    return None


def assign_waiting(session: Session, limit: int = 100) -> int:
    """The worker's pass: auto-assign new tickets still unassigned (e.g. nobody was online).

    Highest priority and oldest first; stops as soon as nobody is available. Returns how many
    were assigned.
    """
    if not desk_settings.auto_assign(session):
        return 0
    waiting = session.scalars(select(Ticket).where(Ticket.status == "new", Ticket.assignee_id.is_(None))
                              .order_by(PRIORITY_ORDER, Ticket.created_at).limit(limit)).unique().all()
    assigned = 0
    for ticket in waiting:
        if auto_assign(session, ticket) is not None:
            assigned += 1
        elif ticket.status == "new" and ticket.assignee_id is None and not assignment.available(session, ticket):
            break  # nobody online with room: the rest wait for the next pass
    return assigned
