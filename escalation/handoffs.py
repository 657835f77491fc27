"""Hand-offs: an agent's ticket goes to another agent or back to the queue, with a note.

Tim is ill: his acknowledged tickets must not wait for him. An admin (or Tim himself) hands a
ticket to Terrence, who acknowledges it anew, or back to the queue; the note for the next
agent is an internal message on the ticket, the change is audited, and the customer's live
view follows (the status event). When an agent is away or offline, the admin moves all their
open tickets in one action.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import events, tickets
from .errors import Forbidden, ValidationFailed
from .lifecycle import OPEN_STATUSES
from .mail import notify as mail_notify
from .models import Message, Ticket, User

HANDOFF_STATUSES = frozenset({"assigned", "acknowledged", "in_progress", "waiting_on_customer"})


def hand_off(session: Session, ticket: Ticket, actor: User, *, to: User | None, note: str = "") -> None:
    """Give ``ticket`` to agent ``to`` (None: back to the queue). Admins hand off any ticket,
    agents only their own."""
    if actor.role != "admin" and ticket.assignee_id != actor.id:
        raise Forbidden("Only the assigned agent or an admin can hand this ticket off.")
    note = note.strip()
    previous = ticket.assignee
    if to is not None:
        if to.role != "agent" or not to.active:
            raise ValidationFailed(f"{to.name} is not an active agent.", details={"agent": to.username})
        if previous is not None and previous.id == to.id:
            raise ValidationFailed(f"{to.name} already has {ticket.number}.", code="already_assigned")
        tickets._transition(session, ticket, "hand_off", actor.username, agent=to.username,
                            previous=previous.username if previous else None, note=note)
        ticket.assignee, ticket.assignee_id = to, to.id
        mail_notify.ticket_assigned(session, ticket, to, actor.username)
    else:
        tickets._transition(session, ticket, "unassign", actor.username,
                            previous=previous.username if previous else None, note=note)
        ticket.assignee, ticket.assignee_id = None, None
    who = to.name if to else "the queue"
    body = f"Handed off by {actor.name} to {who}." + (f"\n\n{note}" if note else "")
    message = Message(ticket=ticket, author_type="system", author_name=actor.name, body=body, internal=True)
    session.add(message)
    session.flush()
    events.record(session, ticket, "message", events.message_payload(message), public=False)


def open_tickets_of(session: Session, agent: User) -> list[Ticket]:
    """The agent's tickets that are still open, oldest first."""
    return list(session.scalars(select(Ticket).where(Ticket.assignee_id == agent.id,
                                                     Ticket.status.in_(OPEN_STATUSES))
                                .order_by(Ticket.created_at, Ticket.id)).unique())


def move_all(session: Session, agent: User, actor: User, *, to: User | None, note: str = "") -> list[str]:
    """Hand every open ticket of ``agent`` to ``to`` (or the queue); returns their numbers."""
    if to is not None and to.id == agent.id:
        raise ValidationFailed("Choose another agent, or the queue.", code="same_agent")
    moved = []
    for ticket in open_tickets_of(session, agent):
        hand_off(session, ticket, actor, to=to, note=note or f"{agent.name} is {agent.presence}.")
        moved.append(ticket.number)
    return moved
