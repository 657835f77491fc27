"""The customer's side of a handed-over conversation; the secret token is the credential."""
from __future__ import annotations

import hmac
from typing import Any

from flask import Response, jsonify
from sqlalchemy import select

from .. import ratelimit, tickets
from ..db import db
from ..event_streams import event_stream
from ..models import Message, Ticket
from . import bp
from .schemas import ConversationLookup, MessageCreate, parse


def message_json(message: Message) -> dict[str, Any]:
    return {"id": message.id, "author": message.author_type, "author_name": message.author_name,
            "body": message.body, "created_at": message.created_at.isoformat()}


def conversation_json(ticket: Ticket) -> dict[str, Any]:
    return {"number": ticket.number, "status": ticket.status, "owner": ticket.owner,
            "agent": ticket.assignee.name if ticket.assignee and ticket.owner == "agent" else None,
            "messages": [message_json(m) for m in tickets.public_messages(ticket)]}


def summary_json(ticket: Ticket, token: str) -> dict[str, Any]:
    return {"token": token, "number": ticket.number, "subject": ticket.subject, "status": ticket.status,
            "owner": ticket.owner,
            "agent": ticket.assignee.name if ticket.assignee and ticket.owner == "agent" else None,
            "created_at": ticket.created_at.isoformat(), "updated_at": ticket.updated_at.isoformat()}


@bp.post("/conversations/lookup")
def conversations_lookup() -> Any:
    """The tickets a browser's tokens unlock (the widget's "My tickets"); others are left out.

    Rate limited like the routes that take one token (``escalation.ratelimit``): while the
    client is blocked every lookup gets 429, and each unknown token counts as one failed guess.
    """
    body: ConversationLookup = parse(ConversationLookup)
    wanted = {tickets.hash_token(token): token for token in dict.fromkeys(body.tokens)}
    found = {ticket.token_hash: ticket for ticket in db.session.scalars(
        select(Ticket).where(Ticket.token_hash.in_(list(wanted))))} if wanted else {}
    result = []
    for digest, token in wanted.items():
        ticket = found.get(digest)
        # looked up by the token's SHA-256 (the database never compares the secret itself);
        # the digests are compared once more here in constant time
        if ticket is not None and hmac.compare_digest(ticket.token_hash, digest):
            result.append(summary_json(ticket, token))
        else:
            ratelimit.count_failure(ratelimit.GUARD_LOOKUP)
    return jsonify({"tickets": result})


@bp.get("/conversations/<token>")
def conversation(token: str) -> Any:
    return jsonify(conversation_json(tickets.get_by_token(db.session, token)))


@bp.post("/conversations/<token>/messages")
def post_message(token: str) -> Any:
    body: MessageCreate = parse(MessageCreate)
    ticket = tickets.get_by_token(db.session, token)
    message = tickets.customer_message(db.session, ticket, body.body)
    db.session.commit()
    return jsonify(message_json(message)), 201


@bp.get("/conversations/<token>/events")
def conversation_events(token: str) -> Response:
    """Server-Sent Events: agent messages and status changes; resume with Last-Event-ID."""
    ticket = tickets.get_by_token(db.session, token)
    return event_stream(ticket.id, include_internal=False, customer=True)
