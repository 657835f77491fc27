"""The customer's side of a handed-over conversation; the secret token is the credential."""
from __future__ import annotations

from typing import Any

from flask import jsonify

from .. import tickets
from ..db import db
from ..models import Message, Ticket
from . import bp
from .schemas import MessageCreate, parse


def message_json(message: Message) -> dict[str, Any]:
    return {"id": message.id, "author": message.author_type, "author_name": message.author_name,
            "body": message.body, "created_at": message.created_at.isoformat()}


def conversation_json(ticket: Ticket) -> dict[str, Any]:
    return {"number": ticket.number, "status": ticket.status, "owner": ticket.owner,
            "agent": ticket.assignee.name if ticket.assignee and ticket.owner == "agent" else None,
            "messages": [message_json(m) for m in tickets.public_messages(ticket)]}


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
