"""GDPR: export everything about one customer, or erase their personal data.

Erasure keeps the tickets (numbers, statuses, timestamps, category, priority, SLA, ratings:
the statistics) and erases what identifies or was said by the person: name → "Deleted
customer", e-mail → a unique ``@erased.invalid`` placeholder, subjects and descriptions, every
message body on their tickets, the bot transcripts (text; sender and intent stay), resolution
notes, survey comments, the bot's recorded questions for those conversations, the e-mails we
queued to them (unsent ones are cancelled), and any copy of their name or address in event
payloads and audit details. The conversation tokens are rotated, so old links stop working.

Both actions are written to the audit log (by customer id, never by address) and are used by
the admin console (``/admin/privacy``) and the API (``/api/v1/privacy/…``).
"""
from __future__ import annotations

import logging
import secrets
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from . import audit
from .attachments import discard
from .errors import NotFound
from .models import (Attachment, AuditEntry, BotOutcome, Customer, CustomerAccount, Message, OutboxMail, Survey,
                     Ticket, TicketEvent, utcnow)
from .tickets import hash_token

log = logging.getLogger(__name__)

DELETED_NAME = "Deleted customer"
ERASED = "[erased]"
ERASED_DOMAIN = "erased.invalid"  # .invalid never resolves: nothing can be mailed there
TRANSCRIPT_KEEP = ("sender", "timestamp", "intent", "confidence")
ACCOUNT_MAIL_BODY = "[a one-time link to the customer portal; not exported]"


class CustomerRef(BaseModel):
    """Which customer: by the e-mail they gave us (a POST body, so it stays out of URLs and logs)."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=254)


def placeholder_email(customer_id: int) -> str:
    return f"deleted-customer-{customer_id}@{ERASED_DOMAIN}"


def is_erased(customer: Customer) -> bool:
    return customer.email.endswith("@" + ERASED_DOMAIN)


def find_customer(session: Session, email: str) -> Customer:
    customer = session.scalar(select(Customer).where(Customer.email == email.strip().lower()))
    if customer is None:
        raise NotFound("No customer with that e-mail address. Check the spelling; it is the address "
                       "they gave the assistant or wrote to us from.", code="customer_not_found")
    return customer


def tickets_of(session: Session, customer: Customer) -> list[Ticket]:
    """The customer's tickets, oldest first."""
    return list(session.scalars(select(Ticket).where(Ticket.customer_id == customer.id)
                                .order_by(Ticket.id)).unique())


def _mails(session: Session, customer: Customer, ticket_ids: list[int]) -> list[OutboxMail]:
    where = [OutboxMail.to_addr == customer.email]
    if ticket_ids:
        where.append(OutboxMail.ticket_id.in_(ticket_ids))
    return list(session.scalars(select(OutboxMail).where(or_(*where)).order_by(OutboxMail.id)))


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export_customer(session: Session, customer: Customer, actor: str) -> dict[str, Any]:
    """Everything stored about ``customer``, as JSON-ready data; audit-logged."""
    rows = tickets_of(session, customer)
    ids = [t.id for t in rows]
    surveys = {s.ticket_id: s for s in session.scalars(select(Survey).where(Survey.ticket_id.in_(ids)))} if ids else {}
    audits: dict[int | None, list[AuditEntry]] = {}
    if ids:
        for entry in session.scalars(select(AuditEntry).where(AuditEntry.ticket_id.in_(ids)).order_by(AuditEntry.id)):
            audits.setdefault(entry.ticket_id, []).append(entry)
    conversations = [t.conversation_id for t in rows if t.conversation_id]
    outcomes = list(session.scalars(select(BotOutcome).where(BotOutcome.conversation_id.in_(conversations))
                                    .order_by(BotOutcome.id))) if conversations else []
    data = {
        "customer": {"id": customer.id, "name": customer.name, "email": customer.email,
                     "created_at": _iso(customer.created_at), "erased": is_erased(customer)},
        "portal_account": _account(session, customer),
        "tickets": [{
            "number": t.number, "requester_name": t.requester_name, "subject": t.subject, "description": t.description, "channel": t.channel,
            "category": t.category, "priority": t.priority, "status": t.status, "owner": t.owner,
            "assignee": t.assignee.name if t.assignee else None, "conversation_id": t.conversation_id,
            "created_at": _iso(t.created_at), "updated_at": _iso(t.updated_at),
            "resolved_at": _iso(t.resolved_at), "resolution": t.resolution,
            "transcript": t.transcript, "suggested_articles": t.suggested_articles, "nlu": t.nlu,
            "messages": [{"id": m.id, "author": m.author_type, "author_name": m.author_name, "body": m.body,
                          "internal": m.internal, "created_at": _iso(m.created_at)} for m in t.messages],
            "survey": ({"rating": surveys[t.id].rating, "comment": surveys[t.id].comment,
                        "created_at": _iso(surveys[t.id].created_at)} if t.id in surveys else None),
            "audit": [{"actor": a.actor, "action": a.action, "from_status": a.from_status,
                       "to_status": a.to_status, "details": a.details, "created_at": _iso(a.created_at)}
                      for a in audits.get(t.id, [])],
        } for t in rows],
        "bot_outcomes": [{"conversation_id": o.conversation_id, "outcome": o.outcome, "question": o.question,
                          "article_id": o.article_id, "created_at": _iso(o.created_at)} for o in outcomes],
        # an account mail's body is a one-time sign-in/reset link: never handed to anyone else
        "emails": [{"kind": m.kind, "to": m.to_addr, "subject": m.subject,
                    "body_text": ACCOUNT_MAIL_BODY if m.kind == "account" else m.body_text,
                    "status": m.status, "created_at": _iso(m.created_at), "sent_at": _iso(m.sent_at)}
                   for m in _mails(session, customer, ids)],
    }
    audit.record(session, None, actor, "gdpr_export", customer_id=customer.id, tickets=[t.number for t in rows])
    log.info("GDPR export of customer %s by %s", customer.id, actor)
    return data


def _account(session: Session, customer: Customer) -> dict[str, Any] | None:
    account = session.scalar(select(CustomerAccount).where(CustomerAccount.customer_id == customer.id))
    if account is None:
        return None  # the password hash is never exported
    return {"registered_at": _iso(account.created_at), "verified_at": _iso(account.verified_at),
            "last_sign_in_at": _iso(account.last_sign_in_at)}


def _scrub(value: Any, needles: list[str]) -> Any:
    """``value`` (JSON) with every string that contains one of ``needles`` replaced by ERASED."""
    if isinstance(value, str):
        low = value.lower()
        return ERASED if any(n in low for n in needles) else value
    if isinstance(value, list):
        return [_scrub(v, needles) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, needles) for k, v in value.items()}
    return value


def erase_customer(session: Session, customer: Customer, actor: str) -> dict[str, Any]:
    """Erase ``customer``'s personal data, keeping anonymous ticket statistics; audit-logged."""
    rows = tickets_of(session, customer)
    needles = [] if is_erased(customer) else \
        [n for n in {customer.email.strip().lower(), customer.name.strip().lower(),
                     *(t.requester_name.strip().lower() for t in rows)} if len(n) >= 3]
    ids = [t.id for t in rows]
    for ticket in rows:
        ticket.requester_name = ""  # the ticket then shows the customer's name: DELETED_NAME
        ticket.subject = ERASED
        ticket.description = ""
        ticket.resolution = ""
        ticket.transcript = [{k: e[k] for k in TRANSCRIPT_KEEP if k in e} | {"text": ERASED}
                             for e in (ticket.transcript or []) if isinstance(e, dict)]
        kept = {k: v for k, v in (ticket.nlu or {}).items()
                if ("intent" in k and isinstance(v, str)) or (k == "confidence" and isinstance(v, (int, float)))}
        ticket.nlu = _scrub(kept, needles)
        ticket.token_hash = hash_token(secrets.token_urlsafe(24))  # old conversation links stop working
    if ids:
        for message in session.scalars(select(Message).where(Message.ticket_id.in_(ids))):
            message.body = ERASED
            if message.author_type == "customer":
                message.author_name = DELETED_NAME
        for event in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id.in_(ids))):
            payload = dict(event.payload or {})
            if "body" in payload:
                payload["body"] = ERASED
            if payload.get("author") == "customer":
                payload["author_name"] = DELETED_NAME
            event.payload = _scrub(payload, needles)
        for survey in session.scalars(select(Survey).where(Survey.ticket_id.in_(ids))):
            survey.comment = ""
        files = list(session.scalars(select(Attachment).where(Attachment.ticket_id.in_(ids))))
        for row in files:  # the files of their tickets (theirs and the agents' replies to them)
            session.delete(row)
        discard([row.storage_key for row in files])
        for entry in session.scalars(select(AuditEntry).where(AuditEntry.ticket_id.in_(ids))):
            entry.details = _scrub(dict(entry.details or {}), needles)
    conversations = [t.conversation_id for t in rows if t.conversation_id]
    if conversations:
        for outcome in session.scalars(select(BotOutcome).where(BotOutcome.conversation_id.in_(conversations))):
            outcome.question = ""
    placeholder = placeholder_email(customer.id)
    for mail in _mails(session, customer, ids):  # to them, or about their tickets (e.g. to the agent)
        if mail.to_addr.strip().lower() == customer.email.strip().lower():
            mail.to_addr = placeholder
        mail.subject = ERASED
        mail.body_text = ERASED
        mail.body_html = ERASED
        if mail.status == "pending":
            mail.status = "failed"
            mail.last_error = "Not sent: the customer's personal data was erased (GDPR)."
            mail.lease_owner, mail.lease_until = None, None
    customer.name = DELETED_NAME
    customer.email = placeholder
    # the portal account goes too: no password hash, no sign-in for an erased person
    session.execute(delete(CustomerAccount).where(CustomerAccount.customer_id == customer.id))
    now = utcnow()
    numbers = [t.number for t in rows]
    for ticket in rows:
        ticket.updated_at = now
        audit.record(session, ticket, actor, "gdpr_erase", ticket.status, ticket.status, customer_id=customer.id)
    audit.record(session, None, actor, "gdpr_erase", customer_id=customer.id, tickets=numbers)
    session.flush()
    log.info("GDPR erasure of customer %s (%d tickets) by %s", customer.id, len(rows), actor)
    return {"customer_id": customer.id, "erased": True, "tickets": numbers}
