"""What the desk knows of a customer beyond one ticket: their earlier tickets, how each ended
and how they rated it (shown beside the ticket in both consoles)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Survey, Ticket

HISTORY_LIMIT = 10  # the most recent other tickets shown


@dataclass(frozen=True)
class PastTicket:
    number: str
    subject: str
    status: str
    created_at: object
    resolution: str
    rating: int | None
    comment: str


def customer_history(session: Session, ticket: Ticket, limit: int = HISTORY_LIMIT) -> list[PastTicket]:
    """The customer's other tickets, newest first, with their outcome and rating (one query)."""
    rows = session.execute(
        select(Ticket.number, Ticket.subject, Ticket.status, Ticket.created_at, Ticket.resolution,
               Survey.rating, Survey.comment)
        .outerjoin(Survey, Survey.ticket_id == Ticket.id)
        .where(Ticket.customer_id == ticket.customer_id, Ticket.id != ticket.id)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit)).all()
    return [PastTicket(number=r.number, subject=r.subject, status=r.status, created_at=r.created_at,
                       resolution=r.resolution or "", rating=r.rating, comment=r.comment or "") for r in rows]
