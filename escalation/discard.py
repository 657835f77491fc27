"""Discarding a ticket: closed as spam (no word to the sender, whose next mails can be
dropped), or merged into another ticket of the same customer (one thread, one number).
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import events, tickets
from .db import upsert_insert
from .errors import ValidationFailed
from .lifecycle import DONE_STATUSES
from .models import Attachment, BlockedSender, Message, Ticket, User, utcnow


def close_as_spam(session: Session, ticket: Ticket, actor: User, *, block: bool = False) -> None:
    """Close without any mail to the sender (``close`` after resolve would send none either, but
    resolving does); ``block`` drops the address's next mails on arrival."""
    tickets._transition(session, ticket, "close_spam", actor.username, blocked=block)
    if block:
        block_sender(session, ticket.customer.email, actor.username, ticket.number)


def block_sender(session: Session, email: str, actor: str, ticket_number: str | None = None) -> None:
    session.execute(upsert_insert(session, BlockedSender).values(email=email.strip().lower(), ticket_number=ticket_number,
                                                 blocked_by=actor, created_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["email"]))


def is_blocked(session: Session, email: str) -> bool:
    return session.scalar(select(BlockedSender.email).where(BlockedSender.email == email.strip().lower())) is not None


def merge(session: Session, source: Ticket, target: Ticket, actor: User) -> None:
    """Merge ``source`` into ``target``: its transcript and thread join the target's (marked as
    merged, in order), ``source`` is closed pointing at ``target``, and the customer is told the
    surviving number in both threads. Its attachments move to the target, each with its copied
    message (the files stay where they are in the storage; only their rows change)."""
    if source.id == target.id:
        raise ValidationFailed("A ticket cannot be merged into itself.", code="merge_same")
    if target.status in DONE_STATUSES:
        raise ValidationFailed(f"{target.number} is {target.status}; merge into an open ticket.",
                               code="merge_target_done", details={"target": target.number})
    if source.customer_id != target.customer_id:
        raise ValidationFailed(f"{source.number} and {target.number} belong to different customers; only one "
                               "customer's tickets can be merged.", code="merge_other_customer")
    tickets._transition(session, source, "merge", actor.username, into=target.number)
    source.merged_into_id = target.id
    if source.transcript:
        target.transcript = [*(target.transcript or []),
                             *({**line, "merged_from": source.number} for line in source.transcript)]
    for message in list(source.messages):
        copy = Message(ticket=target, author_type=message.author_type, author_user_id=message.author_user_id,
                       author_name=message.author_name, body=f"[from {source.number}] {message.body}",
                       internal=message.internal, created_at=message.created_at)
        session.add(copy)
        for attachment in list(message.attachments):  # a message's files move with it
            attachment.message = copy
    session.flush()
    # every file of the merged ticket now belongs to the surviving one (its form's files too)
    for attachment in session.scalars(select(Attachment).where(Attachment.ticket_id == source.id)):
        attachment.ticket_id = target.id
    told = f"{source.number} was merged into {target.number}: we continue there, with everything you wrote."
    for ticket in (source, target):
        notice = Message(ticket=ticket, author_type="system", author_name="Customer Care", body=told)
        session.add(notice)
        session.flush()
        events.record(session, ticket, "message", events.message_payload(notice))
    target.updated_at = utcnow()
    tickets._audit(session, target, actor.username, "merged_in", target.status, target.status,
                   source=source.number)
