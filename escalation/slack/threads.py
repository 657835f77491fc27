"""A message in the Slack thread of a ticket joins the ticket (the ownership rule).

Rasa's Slack channel asks here first for every message written in a thread: when the
thread belongs to a ticket that a person holds (owner ``queued`` or ``agent``) and the
writer is the ticket's person, the message is added to the ticket and the bot stays silent;
otherwise the bot answers it.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import tickets
from ..errors import NotFound
from ..models import Message, Ticket

PERSON_OWNERS = ("queued", "agent")


def ticket_of_thread(session: Session, channel: str, thread_ts: str) -> Ticket | None:
    return session.scalars(select(Ticket).where(Ticket.channel == "slack", Ticket.slack_channel == channel,
                                                Ticket.slack_thread_ts == thread_ts)
                           .order_by(Ticket.id.desc()).limit(1)).first()


def message_in_thread(session: Session, *, team: str, channel: str, thread_ts: str, user: str,
                      text: str) -> tuple[Ticket, Message]:
    ticket = ticket_of_thread(session, channel, thread_ts)
    if (ticket is None or ticket.owner not in PERSON_OWNERS or ticket.slack_user != user
            or (ticket.slack_team and team and ticket.slack_team != team)):
        raise NotFound("No ticket held by a person in this thread; the bot answers.", code="no_ticket_in_thread",
                       details={"channel": channel, "thread_ts": thread_ts})
    return ticket, tickets.customer_message(session, ticket, text)
