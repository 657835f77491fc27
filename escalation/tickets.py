"""Ticket use cases: one function each, shared by the API, the consoles, the worker and the CLI.

Each function changes the ticket through :mod:`escalation.transitions` (the lifecycle table,
the SLA clock, one audit entry, the live event) in the caller's transaction, and leaves
committing to the caller (the request, the worker's pass or the CLI command).
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import attachments, audit, claims, events, lifecycle, sla, transitions
from .db import upsert_insert
from .errors import Conflict, Forbidden, NotFound, ValidationFailed
from .mail import notify as mail_notify
from .models import PRIORITIES, Customer, Message, Ticket, User, utcnow
from .triage import CATEGORIES, triage

NUMBER_PREFIX = "CR-"
NUMBER_BASE = 10000


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class OpenedTicket:
    ticket: Ticket
    token: str


def _audit(session: Session, ticket: Ticket | None, actor: str, action: str,
           from_status: str | None, to_status: str | None, **details: Any) -> None:
    audit.record(session, ticket, actor, action, from_status, to_status, **details)


def _transition(session: Session, ticket: Ticket, action: str, actor: str, **details: Any) -> None:
    transitions.apply(session, ticket, action, actor, **details)


def find_or_create_customer(session: Session, name: str, email: str) -> Customer:
    """The customer with this e-mail, created if new. Two first tickets from one new address
    at the same moment must not collide on the unique e-mail (a 500 before): the insert
    does nothing when the row exists, or waits for the other transaction and then does
    nothing, and the row is read back.

    An existing customer is never renamed: whoever types this address in a chat is not known
    to own it, so the name they give belongs to their ticket (``Ticket.requester_name``). Only
    a verified address may change the customer record (nothing verifies one yet)."""
    email = email.strip().lower()
    customer = session.scalar(select(Customer).where(Customer.email == email))
    if customer is None:
        session.execute(upsert_insert(session, Customer).values(name=name.strip(), email=email, created_at=utcnow())
                        .on_conflict_do_nothing(index_elements=["email"]))
        customer = session.scalar(select(Customer).where(Customer.email == email))
        assert customer is not None  # inserted here, or committed by the transaction waited for
    return customer


# What the bot's NLU calls a question (its KB intent, or a message it could not place); every
# other intent is conversation around it: greetings, thanks, yes/no, "talk to a person", a name.
QUESTION_INTENTS = frozenset({"ask_question", "nlu_fallback"})
NOT_A_QUESTION = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "request_human",
                            "check_ticket_status", "inform"})
NO_SUBJECT = "Conversation with the assistant"


def question_subject(transcript: list[dict[str, Any]]) -> str:
    """The question that led to the handoff: the customer's last question in the transcript (the
    one the bot could not answer), never a greeting. Lines without an intent (other channels)
    count unless they are a button's payload."""
    lines = [entry for entry in transcript if entry.get("sender") == "user"
             and str(entry.get("text", "")).strip() and not str(entry["text"]).startswith("/")]
    for wanted in (lambda e: e.get("intent") in QUESTION_INTENTS,
                   lambda e: e.get("intent") not in NOT_A_QUESTION):
        found = [entry for entry in lines if wanted(entry)]
        if found:
            return " ".join(str(found[-1]["text"]).split())
    return ""


def open_ticket(session: Session, *, name: str, email: str, subject: str = "", description: str = "",
                channel: str = "web_chat", conversation_id: str | None = None,
                transcript: list[dict[str, Any]] | None = None,
                suggested_articles: list[str] | None = None,
                nlu: dict[str, Any] | None = None, actor: str = "bot",
                slack: dict[str, str] | None = None,
                refused_files: Sequence[attachments.Refusal] = ()) -> OpenedTicket:
    """Create a ticket for a customer; returns it with its secret conversation token.

    ``slack`` ({team, channel, thread_ts, user}) is where a ticket from Slack lives: agent
    replies and status changes are posted to that thread (:mod:`escalation.slack.notify`).
    ``refused_files``: files of the customer's e-mail that were not accepted; the
    acknowledgement names them (:mod:`escalation.mail.files`)."""
    transcript = transcript or []
    subject = subject.strip() or question_subject(transcript)[:200] or NO_SUBJECT
    suggestion = triage(" ".join([subject, description, *(str(t.get("text", "")) for t in transcript
                                                           if t.get("sender") == "user")]))
    token = secrets.token_urlsafe(24)
    customer = find_or_create_customer(session, name, email)
    ticket = Ticket(
        number=f"pending-{secrets.token_hex(6)}", subject=subject[:200], description=description,
        customer=customer, requester_name=name.strip()[:120], channel=channel, category=suggestion.category, priority=suggestion.priority,
        status="new", owner="queued", conversation_id=conversation_id, token_hash=hash_token(token),
        transcript=transcript, suggested_articles=suggested_articles or [], nlu=nlu or {},
    )
    if slack:
        ticket.slack_team, ticket.slack_channel = slack.get("team") or None, slack["channel"]
        ticket.slack_thread_ts, ticket.slack_user = slack["thread_ts"], slack["user"]
    session.add(ticket)
    session.flush()
    ticket.number = f"{NUMBER_PREFIX}{NUMBER_BASE + ticket.id}"
    sla.start(session, ticket)
    _audit(session, ticket, actor, "open", None, "new", channel=channel, triage=list(suggestion.reasons))
    mail_notify.ticket_opened(session, ticket, refused_files)
    claims.auto_assign(session, ticket)  # only when the admin switched automatic assignment on
    return OpenedTicket(ticket, token)


def get_by_number(session: Session, number: str) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.number == number.strip().upper()))
    if ticket is None:
        raise NotFound(f"No ticket {number!r}. Check the number (it looks like CR-10042).",
                       code="ticket_not_found", details={"number": number})
    return ticket


def get_by_token(session: Session, token: str) -> Ticket:
    # looked up by the token's SHA-256, so the database never compares the secret itself
    ticket = session.scalar(select(Ticket).where(Ticket.token_hash == hash_token(token)))
    if ticket is None:
        raise NotFound("This conversation link is not valid. Look the ticket up by its number and e-mail.",
                       code="conversation_not_found")
    return ticket


def assign(session: Session, ticket: Ticket, agent: User, actor: User | str) -> None:
    if agent.role != "agent" or not agent.active:
        raise ValidationFailed(f"{agent.name} is not an active agent.", details={"agent": agent.username})
    actor_name = actor if isinstance(actor, str) else actor.username
    previous = ticket.assignee.username if ticket.assignee else None
    _transition(session, ticket, "assign", actor_name, agent=agent.username, previous=previous)
    ticket.assignee = agent
    ticket.assignee_id = agent.id
    mail_notify.ticket_assigned(session, ticket, agent, actor_name)


def override_triage(session: Session, ticket: Ticket, actor: User | str, *, category: str,
                    priority: str) -> dict[str, dict[str, str]]:
    """The admin corrects the triage: category and/or priority.

    Audited from → to; a new priority moves the SLA due times to its targets (time already
    paused is kept) and the worker re-evaluates the SLA state on its next pass. Returns the
    changes, ``{}`` when nothing changed.
    """
    category, priority = (category or "").strip(), (priority or "").strip()
    if category not in CATEGORIES:
        raise ValidationFailed(f"Unknown category {category!r}; choose one of {', '.join(CATEGORIES)}.",
                               details={"field": "category", "allowed": list(CATEGORIES)})
    if priority not in PRIORITIES:
        raise ValidationFailed(f"Unknown priority {priority!r}; choose one of {', '.join(PRIORITIES)}.",
                               details={"field": "priority", "allowed": list(PRIORITIES)})
    changes = {field: {"from": before, "to": after}
               for field, before, after in (("category", ticket.category, category),
                                            ("priority", ticket.priority, priority)) if before != after}
    if not changes:
        return {}
    actor_name = actor if isinstance(actor, str) else actor.username
    previous_priority = ticket.priority
    ticket.category, ticket.priority = category, priority
    ticket.updated_at = utcnow()
    if "priority" in changes and ticket.status in lifecycle.OPEN_STATUSES:
        sla.retarget(session, ticket, previous_priority)
        changes["sla"] = {"first_response_due": ticket.first_response_due.isoformat()
                          if ticket.first_response_due else "",
                          "resolution_due": ticket.resolution_due.isoformat() if ticket.resolution_due else ""}
    _audit(session, ticket, actor_name, "triage_override", ticket.status, ticket.status, **changes)
    events.record(session, ticket, "status", {"status": ticket.status, "owner": ticket.owner,
                                              "action": "triage_override", "category": ticket.category,
                                              "priority": ticket.priority}, public=False)
    return changes


def acknowledge(session: Session, ticket: Ticket, agent: User) -> None:
    if ticket.assignee_id != agent.id:
        raise Forbidden("Only the assigned agent can acknowledge this ticket.")
    _transition(session, ticket, "acknowledge", agent.username)
    events.record(session, ticket, "agent_joined", {"agent": agent.name})


def reply(session: Session, ticket: Ticket, agent: User, body: str, *, internal: bool = False,
          uploads: Sequence[attachments.Upload] = ()) -> Message:
    body = body.strip()
    if not body:
        raise ValidationFailed("The reply is empty. Write something before sending.", details={"field": "body"})
    if ticket.assignee_id != agent.id and agent.role != "admin":
        raise Forbidden("Only the assigned agent or an admin can reply on this ticket.")
    if not internal:
        if ticket.status == "assigned" and ticket.assignee_id == agent.id:
            acknowledge(session, ticket, agent)
        _transition(session, ticket, "reply", agent.username)
        if ticket.first_response_at is None:
            ticket.first_response_at = utcnow()
    message = Message(ticket=ticket, author_type="agent", author_user_id=agent.id,
                      author_name=agent.name, body=body, internal=internal)
    session.add(message)
    attachments.store(session, ticket, uploads, agent.username, message)
    session.flush()
    events.record(session, ticket, "message", events.message_payload(message), public=not internal)
    mail_notify.agent_replied(session, ticket, message)
    return message


def customer_message(session: Session, ticket: Ticket, body: str,
                     uploads: Sequence[attachments.Upload] = ()) -> Message:
    body = body.strip()
    if not body:
        raise ValidationFailed("The message is empty.", details={"field": "body"})
    if ticket.status == "closed" and ticket.merged_into_id:
        survivor = session.get(Ticket, ticket.merged_into_id)
        raise Conflict(f"This ticket was merged into {survivor.number}: write there (look it up by its number).",
                       code="ticket_merged", details={"number": survivor.number})
    if ticket.status == "closed":
        raise Conflict("This ticket is closed. Start a new conversation to reach us again.",
                       code="ticket_closed")
    reopened = ticket.status == "resolved"
    if reopened:
        _transition(session, ticket, _reopen_action(ticket), "customer")
    elif ticket.status in {"waiting_on_customer"}:
        _transition(session, ticket, "customer_reply", "customer")
    message = Message(ticket=ticket, author_type="customer", author_name=ticket.customer_name, body=body)
    session.add(message)
    attachments.store(session, ticket, uploads, f"customer:{ticket.customer_id}", message)
    ticket.updated_at = utcnow()
    session.flush()
    events.record(session, ticket, "message", events.message_payload(message))
    if reopened:
        mail_notify.ticket_reopened(session, ticket)
    return message


def resolve(session: Session, ticket: Ticket, agent: User, resolution: str) -> None:
    resolution = resolution.strip()
    if not resolution:
        raise ValidationFailed("Write a resolution note: it is what the next agent and the KB learn from.",
                               details={"field": "resolution"})
    if ticket.assignee_id != agent.id and agent.role != "admin":
        raise Forbidden("Only the assigned agent or an admin can resolve this ticket.")
    _transition(session, ticket, "resolve", agent.username)
    ticket.resolution = resolution
    ticket.resolved_at = utcnow()
    mail_notify.ticket_resolved(session, ticket)


def _reopen_action(ticket: Ticket) -> str:
    return "reopen" if ticket.assignee_id is not None else "requeue"


def customer_resolve(session: Session, ticket: Ticket, actor: str = "customer") -> None:
    """The customer says "this is solved" (the portal); the SLA clocks stop as on any resolve."""
    _transition(session, ticket, "customer_resolve", actor)
    ticket.resolution = ticket.resolution or "Solved, says the customer."
    ticket.resolved_at = utcnow()


def customer_reopen(session: Session, ticket: Ticket, actor: str = "customer") -> None:
    """The customer says it is not solved after all: back to its agent, or to the queue."""
    if ticket.status == "closed":
        raise Conflict("This ticket is closed. Raise a new ticket to reach us again.", code="ticket_closed")
    _transition(session, ticket, _reopen_action(ticket), actor)
    ticket.resolved_at = None


def close(session: Session, ticket: Ticket, actor: str) -> None:
    _transition(session, ticket, "close", actor)


def public_messages(ticket: Ticket) -> list[Message]:
    return [m for m in ticket.messages if not m.internal]
