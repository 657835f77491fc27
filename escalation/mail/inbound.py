"""Incoming mail: a new ticket, a reply on one, or something not to answer.

:func:`receive` takes one raw RFC 822 message (from IMAP or ``flask mail-in``):

- auto-replies (``Auto-Submitted``, ``X-Autoreply``, ``Precedence: bulk/junk/list``),
  bounces (``MAILER-DAEMON``, ``multipart/report``, empty return path) and our own mail
  coming back (``X-Care-Loop``, one of our Message-IDs, our address as sender) are dropped:
  no ticket, no answer;
- a reply (one of our Message-IDs in In-Reply-To/References, or the ticket number in the
  subject, from the ticket's customer) joins that ticket's thread and reopens it if resolved;
- anything else opens a ticket (channel ``email``) for the sender; the acknowledgement goes
  out through the outbox like every other notice.

The body is the text/plain part when there is one, else the HTML part as text; quoted
history below our reply marker is cut from replies. The mail's files are kept with the
customer's message within the portal's limits; a refused one is named in the thread and to
the sender (:mod:`.files`).
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import tickets
from ..discard import is_blocked
from ..errors import Conflict, NotFound
from ..models import Customer, Ticket, utcnow
from . import files, messageids, notify
from .htmltext import html_to_text
from .outbound import LOOP_HEADER
from .outbox import rethread
from .render import REPLY_MARKER

log = logging.getLogger("escalation.mail.inbound")
MAX_BODY = 20_000
NUMBER_IN_SUBJECT = re.compile(r"\b(CR-\d{1,12})\b", re.IGNORECASE)
AUTO_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
ATTRIBUTION = re.compile(r"^(On .{0,300}wrote:|-{2,} ?Original Message ?-{2,}|From: .+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Received:
    outcome: str  # opened | appended | ignored
    reason: str
    number: str | None = None

    def __str__(self) -> str:
        return f"{self.outcome} {self.number}: {self.reason}" if self.number else f"{self.outcome}: {self.reason}"


def parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError):  # a header the parser cannot make sense of
        return ""
    return str(value or "").strip()


def why_not_answer(message: EmailMessage, session: Session) -> str | None:
    """The reason to drop ``message`` without a ticket or an answer, or None to process it."""
    our_address = messageids.support_address(current_app.config)[1]
    auto_submitted = _header(message, "Auto-Submitted").lower().split(";")[0].strip()
    if auto_submitted and auto_submitted != "no":
        return f"auto-reply (Auto-Submitted: {auto_submitted})"
    if _header(message, "X-Autoreply") or _header(message, "X-Autorespond"):
        return "auto-reply (X-Autoreply)"
    if _header(message, "Precedence").lower() in AUTO_PRECEDENCE:
        return f"auto-reply (Precedence: {_header(message, 'Precedence').lower()})"
    sender = parseaddr(_header(message, "From"))[1].lower()
    if sender.split("@")[0] in {"mailer-daemon", "postmaster"}:
        return "bounce (from MAILER-DAEMON)"
    if message.get_content_type() == "multipart/report":
        return "bounce (multipart/report)"
    if _header(message, "Return-Path") == "<>":
        return "bounce (empty return path)"
    loops = [v.strip().lower() for v in message.get_all(LOOP_HEADER, [])]
    if our_address in loops:
        return f"loop ({LOOP_HEADER})"
    message_id = messageids.normalise(_header(message, "Message-ID"))
    if message_id and messageids.is_ours(session, message_id):
        return "loop (our own Message-ID)"
    if sender == our_address:
        return "loop (sent from our own address)"
    if not sender or "@" not in sender:
        return "no sender address"
    if is_blocked(session, sender):
        return "blocked sender (a ticket of theirs was closed as spam)"
    return None


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):  # unknown or lying charset: keep what decodes
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_type() == "text/html":
        content = html_to_text(content)
    return content.replace("\r\n", "\n").strip()[:MAX_BODY]


def strip_quoted(text: str) -> str:
    """The new part of a reply: above our marker, without the quoted history and its attribution."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if REPLY_MARKER in line:
            lines = lines[:i]
            break
    while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith(">")):
        lines.pop()
    if lines and ATTRIBUTION.match(lines[-1].strip()):
        lines.pop()
    return "\n".join(lines).strip()


def _subject(message: EmailMessage) -> str:
    return re.sub(r"\s+", " ", _header(message, "Subject")).strip()


def find_ticket(session: Session, message: EmailMessage, sender: str) -> Ticket | None:
    """The ticket ``message`` replies to, if its customer sent it."""
    ids = messageids.ids_in(_header(message, "In-Reply-To"), _header(message, "References"))
    ticket = messageids.ticket_for(session, ids) if ids else None
    if ticket is None:
        match = NUMBER_IN_SUBJECT.search(_subject(message))
        if match:
            try:
                ticket = tickets.get_by_number(session, match.group(1))
            except NotFound:
                return None
    # only the ticket's customer adds to its thread; anyone else starts a ticket of their own
    if ticket is not None and ticket.customer.email != sender:
        return None
    return ticket


def receive(session: Session, raw: bytes) -> Received:
    """Process one message in the caller's transaction (the caller commits)."""
    message = parse(raw)
    reason = why_not_answer(message, session)
    if reason:
        return Received("ignored", reason)
    message_id = inbound_id(message)
    if messageids.is_known(session, message_id):
        return Received("ignored", f"already received ({message_id})")
    name, sender = parseaddr(_header(message, "From"))
    sender = sender.strip().lower()
    text = body_text(message)
    kept = files.keep(message)
    empty = "(files only)" if kept.uploads else "(no text)"
    ticket = find_ticket(session, message, sender)
    _verified(session, sender)
    follow_up = ""
    if ticket is not None:
        try:
            tickets.customer_message(session, ticket, strip_quoted(text) or text or empty, uploads=kept.uploads)
        except Conflict:  # closed: the customer writes again, so a new ticket it is
            follow_up, ticket = ticket.number, None
        else:
            if files.note_refused(session, ticket, kept.refused):
                notify.attachments_refused(session, ticket, kept.refused)
            _record(session, ticket, message_id)
            return Received("appended", "reply added to the thread" + _refused_count(kept), ticket.number)
    subject = _subject(message) or f"E-mail from {name or sender}"
    description = f"(follow-up to {follow_up})\n\n{text}" if follow_up else text
    opened = tickets.open_ticket(session, name=name or sender.split("@")[0], email=sender, subject=subject[:200],
                                 description=description, channel="email", actor="email",
                                 refused_files=kept.refused)
    tickets.customer_message(session, opened.ticket, text or empty, uploads=kept.uploads)
    files.note_refused(session, opened.ticket, kept.refused)
    _verified(session, sender)
    _record(session, opened.ticket, message_id)
    return Received("opened", "new ticket" + _refused_count(kept), opened.ticket.number)


def _refused_count(kept: files.Kept) -> str:
    return f" ({len(kept.refused)} file(s) not accepted)" if kept.refused else ""


def _verified(session: Session, sender: str) -> None:
    """A customer who writes from an address has shown it is theirs: lift the unverified cap
    (:func:`.outbox.unverified_cap`). A new customer is marked when their ticket opens."""
    customer = session.scalar(select(Customer).where(Customer.email == sender))
    if customer is not None and customer.email_verified_at is None:
        customer.email_verified_at = utcnow()


def inbound_id(message: EmailMessage) -> str:
    """The message's Message-ID; without one, an id made from its content still catches a re-delivery."""
    return messageids.normalise(_header(message, "Message-ID")) or \
        f"<{hashlib.sha256(message.as_bytes()).hexdigest()}@no-message-id.invalid>"


def _record(session: Session, ticket: Ticket, message_id: str) -> None:
    messageids.record(session, ticket, message_id, "in")
    rethread(session, ticket)


def receive_and_commit(session: Session, raw: bytes) -> Received:
    """:func:`receive` in its own transaction; a message two workers took at once counts once."""
    for attempt in (1, 2):
        try:
            result = receive(session, raw)
            session.commit()
            break
        except IntegrityError:
            # another worker got this message (its id is recorded now), or the same new customer
            # at the same moment (the second try finds the customer)
            session.rollback()
            if messageids.is_known(session, inbound_id(parse(raw))):
                return Received("ignored", "already received (by another worker)")
            if attempt == 2:
                raise
    if result.outcome != "ignored":
        log.info("mail %s", result)
    else:
        log.info("mail not answered: %s", result.reason)
    return result

