"""Tickets over the API: the bot opens them (idempotently) and asks for their status."""
from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request

from .. import expected_wait, tickets
from ..auth import service_token_required
from ..db import db
from ..idempotency import run_once
from ..models import Ticket
from . import bp
from .schemas import TicketCreate, parse


def ticket_summary(ticket: Ticket) -> dict[str, Any]:
    # conversation_id (the Rasa sender id that opened the ticket; null for e-mail tickets) lets
    # the bot tell a ticket's status only inside the conversation that opened it.
    return {
        "number": ticket.number, "status": ticket.status, "owner": ticket.owner,
        "subject": ticket.subject, "priority": ticket.priority, "category": ticket.category,
        "created_at": ticket.created_at.isoformat(),
        "assignee": ticket.assignee.name if ticket.assignee else None,
        "conversation_id": ticket.conversation_id,
    }


@bp.post("/tickets")
@service_token_required
def create_ticket() -> Any:
    body: TicketCreate = parse(TicketCreate)
    session = db.session

    def create() -> tuple[int, dict[str, Any]]:
        opened = tickets.open_ticket(session, **body.model_dump(exclude={"transcript"}),
                                     transcript=[t.model_dump(exclude_none=True) for t in body.transcript])
        base = current_app.config["PUBLIC_URL"].rstrip("/")
        return 201, {"number": opened.ticket.number, "token": opened.token, "status": opened.ticket.status,
                     "owner": opened.ticket.owner,
                     "tracking_url": f"{base}/track?number={opened.ticket.number}",
                     "expected_wait": expected_wait.for_ticket(session, opened.ticket).as_json()}

    status, response = run_once(session, request.headers.get("Idempotency-Key"),
                                body.model_dump(mode="json"), create)
    return jsonify(response), status


@bp.get("/tickets/<number>")
@service_token_required
def ticket_status(number: str) -> Any:
    return jsonify(ticket_summary(tickets.get_by_number(db.session, number)))
