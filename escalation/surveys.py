"""The one-question satisfaction survey after resolution, and the bot's outcomes."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import audit
from .errors import Conflict, ValidationFailed
from .lifecycle import DONE_STATUSES
from .models import BotOutcome, Survey, Ticket


def rate(session: Session, ticket: Ticket, rating: int, comment: str = "") -> Survey:
    if ticket.status not in DONE_STATUSES:
        raise Conflict("You can rate the service once your ticket is resolved.", code="not_resolved")
    if not 1 <= rating <= 5:
        raise ValidationFailed("The rating is a whole number from 1 (poor) to 5 (excellent).",
                               details={"field": "rating"})
    already = Conflict("Thanks — you already rated this ticket.", code="already_rated")
    if session.scalar(select(Survey).where(Survey.ticket_id == ticket.id)) is not None:
        raise already
    survey = Survey(ticket_id=ticket.id, rating=rating, comment=comment.strip()[:2000])
    try:
        # two ratings at the same moment both pass the check above; the unique ticket_id decides,
        # and the loser gets the same 409 instead of a 500
        with session.begin_nested():
            session.add(survey)
    except IntegrityError:
        raise already from None
    audit.record(session, ticket, "customer", "rate", ticket.status, ticket.status, rating=rating)
    return survey


def record_outcome(session: Session, conversation_id: str, outcome: str, question: str = "",
                   article_id: str | None = None) -> BotOutcome:
    row = BotOutcome(conversation_id=conversation_id, outcome=outcome, question=question[:2000],
                     article_id=article_id)
    session.add(row)
    return row


def rate_from_mail(session: Session, ticket: Ticket, rating: int, comment: str | None = None) -> Survey:
    """The resolved mail's one-click rating: records it, or changes it when already given.

    A second click (another rating link, or the comment page) is the customer changing their
    mind, not an error; ``comment=None`` keeps the comment there is.
    """
    if ticket.status not in {"resolved", "closed"}:
        raise Conflict("You can rate the service once your ticket is resolved.", code="not_resolved")
    if not 1 <= rating <= 5:
        raise ValidationFailed("The rating is a whole number from 1 (poor) to 5 (excellent).",
                               details={"field": "rating"})
    survey = session.scalar(select(Survey).where(Survey.ticket_id == ticket.id))
    before = survey.rating if survey is not None else None
    if survey is None:
        survey = Survey(ticket_id=ticket.id, rating=rating, comment="")
        session.add(survey)
    survey.rating = rating
    if comment is not None:
        survey.comment = comment.strip()[:2000]
    if before != rating:
        audit.record(session, ticket, "customer", "rate", ticket.status, ticket.status,
                     **{"rating": rating, "previous": before, "from": "e-mail link"})
    session.flush()
    return survey
