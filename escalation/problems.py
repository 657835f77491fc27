"""Many people, one cause: tickets linked to one problem ticket, resolved together.

When a change locks many employees out, an agent links their tickets to one *problem*
ticket (any ticket becomes a problem once another is linked to it). Resolving the problem
resolves every linked ticket that is still open, with the problem's resolution as one
message to each person in their own channel: the live chat shows it (a public message
event), the Slack thread gets it (the worker posts the ``resolve`` event, with the rating
buttons), and e-mail tickets get it by mail (as an agent's reply). Each linked ticket is resolved
once, in the problem's transaction, so nobody hears it twice.
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import events, lifecycle, tickets
from .errors import Conflict, Forbidden, ValidationFailed
from .mail import notify as mail_notify
from .models import Message, Ticket, User, utcnow


def problem_of(session: Session, ticket: Ticket) -> Ticket | None:
    """The problem ticket this one is linked to, if any."""
    return session.get(Ticket, ticket.problem_id) if ticket.problem_id else None


def link(session: Session, ticket: Ticket, problem: Ticket, actor: User) -> None:
    """Link ``ticket`` to ``problem`` (staff only; one level: a problem is not linked itself)."""
    if actor.role not in {"agent", "admin"}:
        raise Forbidden("Only staff link tickets to a problem.")
    if ticket.id == problem.id:
        raise ValidationFailed("A ticket cannot be its own problem.", code="problem_is_ticket")
    if problem.problem_id is not None:
        raise ValidationFailed(f"{problem.number} is itself linked to a problem; link to that one.",
                               code="problem_is_linked")
    if linked_count(session, ticket.id):
        raise ValidationFailed(f"{ticket.number} is a problem with linked tickets; it cannot be linked.",
                               code="ticket_is_problem")
    if ticket.status not in lifecycle.OPEN_STATUSES or problem.status not in lifecycle.OPEN_STATUSES:
        raise Conflict("Only open tickets are linked to an open problem.", code="not_open")
    before = ticket.problem_id
    ticket.problem_id = problem.id
    ticket.updated_at = utcnow()
    tickets._audit(session, ticket, actor.username, "link_problem", ticket.status, ticket.status,
                   problem=problem.number, previous=before)


def linked_count(session: Session, problem_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Ticket).where(Ticket.problem_id == problem_id)) or 0


def linked_counts(session: Session, ticket_ids: list[int]) -> dict[int, int]:
    """{problem id: number of linked tickets} for those of ``ticket_ids`` that are problems."""
    if not ticket_ids:
        return {}
    rows = session.execute(select(Ticket.problem_id, func.count()).where(Ticket.problem_id.in_(ticket_ids))
                           .group_by(Ticket.problem_id))
    return {int(problem_id): int(count) for problem_id, count in rows}


def resolve(session: Session, problem: Ticket, agent: User, resolution: str) -> list[Ticket]:
    """Resolve the problem, then each open linked ticket with one message; returns those."""
    tickets.resolve(session, problem, agent, resolution)
    resolved: list[Ticket] = []
    linked = session.scalars(select(Ticket).where(Ticket.problem_id == problem.id,
                                                  Ticket.status.in_(lifecycle.OPEN_STATUSES))
                             .order_by(Ticket.id).with_for_update(of=Ticket)).unique().all()
    # "of": only the tickets are locked (PostgreSQL refuses FOR UPDATE on the outer-joined assignee)
    for ticket in linked:
        message = Message(ticket=ticket, author_type="agent", author_user_id=agent.id, author_name=agent.name,
                          body=problem.resolution, internal=False)
        session.add(message)
        session.flush()
        if ticket.channel != "slack":  # Slack: the resolution goes with the rating buttons, once
            events.record(session, ticket, "message", events.message_payload(message))
        tickets._transition(session, ticket, "resolve_with_problem", agent.username, problem=problem.number)
        ticket.resolution = problem.resolution
        ticket.resolved_at = utcnow()
        mail_notify.agent_replied(session, ticket, message)  # e-mail tickets only: the fix, by mail
        resolved.append(ticket)
    return resolved
