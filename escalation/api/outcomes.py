"""The bot reports how conversations end (self-served or not) and customers rate tickets."""
from __future__ import annotations

from typing import Any, Literal

from flask import jsonify
from pydantic import BaseModel, ConfigDict, Field

from .. import surveys, tickets
from ..auth import service_token_required
from ..db import db
from . import bp
from .schemas import parse


class OutcomeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conversation_id: str = Field(min_length=1, max_length=120)
    outcome: Literal["self_served", "escalated", "unanswered"]
    question: str = Field(default="", max_length=2000)
    article_id: str | None = Field(default=None, max_length=128)


class SurveyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)


@bp.post("/bot/outcomes")
@service_token_required
def bot_outcome() -> Any:
    body: OutcomeCreate = parse(OutcomeCreate)
    row = surveys.record_outcome(db.session, body.conversation_id, body.outcome, body.question, body.article_id)
    db.session.commit()
    return jsonify({"id": row.id, "outcome": row.outcome}), 201


@bp.post("/conversations/<token>/survey")
def conversation_survey(token: str) -> Any:
    body: SurveyCreate = parse(SurveyCreate)
    ticket = tickets.get_by_token(db.session, token)
    survey = surveys.rate(db.session, ticket, body.rating, body.comment)
    db.session.commit()
    return jsonify({"rating": survey.rating, "message": "Thank you for your feedback!"}), 201
