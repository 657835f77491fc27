"""The customer's side of a handed-over conversation; the secret token is the credential."""
from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request, stream_with_context

from .. import events, tickets
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


def last_event_id() -> int:
    raw = request.headers.get("Last-Event-ID") or request.args.get("after") or "0"
    return int(raw) if raw.isdigit() else 0


def event_stream(ticket_id: int, *, include_internal: bool) -> Response:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stream = events.sse_stream(app, ticket_id, last_event_id(), include_internal=include_internal,
                               heartbeat=app.config["SSE_HEARTBEAT"])
    response = Response(stream_with_context(stream), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response


@bp.get("/conversations/<token>/events")
def conversation_events(token: str) -> Response:
    """Server-Sent Events: agent messages and status changes; resume with Last-Event-ID."""
    ticket = tickets.get_by_token(db.session, token)
    return event_stream(ticket.id, include_internal=False)
