"""Message-IDs: ours are made here, and every ticket's are kept to thread replies to it.

A reply names the mail it answers in In-Reply-To / References; if one of those ids is on
record, the reply belongs to that ticket. Inbound ids are recorded too, so a message that is
fetched twice (a worker stopped before flagging it) is recognised by the unique constraint.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from email.utils import parseaddr
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ..models import MailMessageId, OutboxMail, Ticket

MAX_LENGTH = 250
MAX_REFERENCES = 10
_ID = re.compile(r"<[^<>\s]+>")


def support_address(config: Any) -> tuple[str, str]:
    """(display name, address) of the ``MAIL_FROM`` setting; the address is lower-case."""
    name, address = parseaddr(config["MAIL_FROM"])
    return name, address.lower()


def domain(config: Any) -> str:
    return support_address(config)[1].rpartition("@")[2] or "care.invalid"


def new_id(config: Any, number: str) -> str:
    """A fresh id, short enough that the header is not folded with an ordinary domain."""
    return f"<{secrets.token_hex(8)}.{number.lower()}@{domain(config)}>"


def normalise(raw: str | None) -> str | None:
    """``<id>`` as recorded: angle brackets, no spaces; over-long ids are replaced by their hash."""
    if not raw:
        return None
    found = _ID.findall(raw)
    value = found[0] if found else f"<{raw.strip().strip('<>')}>" if raw.strip().strip("<>") else None
    if value is None or " " in value:
        return None
    if len(value) > MAX_LENGTH:
        value = f"<{hashlib.sha256(value.encode()).hexdigest()}@long-id.invalid>"
    return value


def ids_in(*headers: str | None) -> list[str]:
    """Every ``<id>`` named in the given header values, in order, without repeats."""
    seen: list[str] = []
    for header in headers:
        for found in _ID.findall(str(header or "")):
            value = normalise(found)
            if value and value not in seen:
                seen.append(value)
    return seen


def record(session: Session, ticket: Ticket, message_id: str, direction: str) -> None:
    session.add(MailMessageId(message_id=message_id, ticket_id=ticket.id, direction=direction))


def is_known(session: Session, message_id: str) -> bool:
    return bool(session.scalar(select(exists().where(MailMessageId.message_id == message_id))))


def is_ours(session: Session, message_id: str) -> bool:
    """True for a Message-ID this service sent (or queued), agent notices included."""
    return bool(session.scalar(select(exists().where(OutboxMail.message_id == message_id))))


def ticket_for(session: Session, ids: list[str]) -> Ticket | None:
    """The ticket one of ``ids`` belongs to (the most recent id that matches wins)."""
    for message_id in reversed(ids):
        ticket_id = session.scalar(select(MailMessageId.ticket_id).where(MailMessageId.message_id == message_id))
        if ticket_id is not None:
            return session.get(Ticket, ticket_id)
    return None


def thread_headers(session: Session, ticket: Ticket, *, exclude: str | None = None) -> tuple[str, str]:
    """(In-Reply-To, References) for the next mail to the customer on ``ticket``.

    It answers the customer's latest mail if there is one, otherwise our first mail on the
    ticket; References starts with the thread's first mail (the customer's, on an e-mail
    ticket) and keeps the most recent ones.
    """
    rows = session.execute(select(MailMessageId.message_id, MailMessageId.direction)
                           .where(MailMessageId.ticket_id == ticket.id).order_by(MailMessageId.id)).all()
    rows = [(mid, direction) for mid, direction in rows if mid != exclude]
    if not rows:
        return "", ""
    inbound = [mid for mid, direction in rows if direction == "in"]
    in_reply_to = inbound[-1] if inbound else rows[0][0]
    ids = [mid for mid, _ in rows]
    if ticket.channel == "email" and inbound:  # the customer's first mail started the thread
        ids = [inbound[0], *(mid for mid in ids if mid != inbound[0])]
    references = ids if len(ids) <= MAX_REFERENCES else [ids[0], *ids[-(MAX_REFERENCES - 1):]]
    return in_reply_to, " ".join(references)
