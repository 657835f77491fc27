"""Rasa's Slack channel hands a thread message to the ticket that owns the thread."""
from __future__ import annotations

from typing import Any

from flask import jsonify
from pydantic import BaseModel, ConfigDict, Field

from ..auth import service_token_required
from ..db import db
from ..events import message_payload
from ..slack.threads import message_in_thread
from . import bp
from .schemas import parse


class SlackThreadMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    team: str = Field(default="", max_length=40)
    channel: str = Field(min_length=1, max_length=40)
    thread_ts: str = Field(min_length=1, max_length=40)
    user: str = Field(min_length=1, max_length=40)
    text: str = Field(min_length=1, max_length=5_000)


@bp.post("/slack/thread-messages")
@service_token_required
def slack_thread_message() -> Any:
    body: SlackThreadMessage = parse(SlackThreadMessage)
    ticket, message = message_in_thread(db.session, **body.model_dump())
    db.session.commit()
    return jsonify({"ticket": ticket.number, "message": message_payload(message)}), 201
