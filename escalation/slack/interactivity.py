"""``POST /slack/interactivity``: the buttons of the desk's Slack messages.

- *Acknowledge and take it* (staff channel): the Slack user is mapped to a staff user by the
  e-mail of their Slack profile; the ticket is claimed with the console's rule
  (:func:`escalation.claims.claim`: one conditional UPDATE, so of two people clicking at once
  exactly one gets it) and acknowledged. The announcement then says who has it; the other
  clicker is told privately who was first.
- *Great / OK / Poor* (the person's thread after resolution): the rating, once, by the
  ticket's own Slack user only.

Every request must carry a valid Slack signature (``CARE_SLACK_SIGNING_SECRET``); without a
configured secret the endpoint refuses everything.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy import func, select

from .. import claims, surveys, tickets
from ..db import db
from ..errors import Conflict, Forbidden, NotFound, ServiceError, Unauthorized, ValidationFailed
from ..http import csrf
from ..models import User
from . import signing
from .client import SlackClient, SlackError
from .notify import RATE_ACTION, TAKE_ACTION, taken

log = logging.getLogger("escalation.slack.interactivity")

bp = Blueprint("slack", __name__, url_prefix="/slack")
csrf.exempt(bp)


def verified_payload() -> dict[str, Any]:
    body = request.get_data(cache=True)
    if not signing.verify(current_app.config["SLACK_SIGNING_SECRET"],
                          request.headers.get("X-Slack-Request-Timestamp"), body,
                          request.headers.get("X-Slack-Signature")):
        raise Unauthorized("The request is not signed with this app's Slack signing secret.",
                           code="bad_slack_signature")
    try:
        payload = json.loads(request.form.get("payload", ""))
    except ValueError:
        raise ValidationFailed("Expected Slack's form field 'payload' with JSON.", code="invalid_payload") from None
    if not isinstance(payload, dict):
        raise ValidationFailed("Expected Slack's form field 'payload' with JSON.", code="invalid_payload")
    return payload


@bp.post("/interactivity")
def interactivity() -> Any:
    payload = verified_payload()
    actions = payload.get("actions") or []
    if payload.get("type") != "block_actions" or not actions:
        return Response(status=200)
    action = actions[0]
    action_id = str(action.get("action_id", ""))
    client = SlackClient.from_config(current_app.config)
    user_id = str((payload.get("user") or {}).get("id", ""))
    channel = str((payload.get("channel") or {}).get("id", ""))
    message_ts = str((payload.get("container") or {}).get("message_ts")
                     or (payload.get("message") or {}).get("ts") or "")
    try:
        if action_id == TAKE_ACTION:
            take(client, str(action.get("value", "")), user_id, channel, message_ts)
        elif action_id.startswith(RATE_ACTION):
            rate(client, str(action.get("value", "")), user_id, channel, message_ts)
    except ServiceError as exc:
        db.session.rollback()
        _tell(client, channel, user_id, exc.message)
    return Response(status=200)


def _tell(client: SlackClient, channel: str, user_id: str, text: str) -> None:
    """A private note to the clicker (only they see it)."""
    try:
        client.post_ephemeral(channel, user_id, text)
    except SlackError as exc:
        log.warning("could not tell %s: %s (%s)", user_id, text, exc)


def staff_user(client: SlackClient, user_id: str) -> User:
    """The active agent whose e-mail is the Slack user's profile e-mail."""
    try:
        profile = client.profile(user_id)
    except SlackError as exc:
        raise Conflict("Slack did not give your profile; try again in a moment.", code="slack_unavailable") from exc
    agent = db.session.scalar(select(User).where(func.lower(User.email) == profile.email, User.active.is_(True)))
    if not profile.email or agent is None:
        raise Forbidden("Your Slack e-mail is not a desk account; ask the admin to add you.",
                        code="not_staff", details={"email": profile.email})
    return agent


def take(client: SlackClient, number: str, user_id: str, channel: str, message_ts: str) -> None:
    agent = staff_user(client, user_id)
    ticket = tickets.get_by_number(db.session, number)
    if ticket.assignee_id is None and ticket.status == "new":
        ticket = claims.claim(db.session, ticket.id, agent)  # Conflict for the second clicker
    elif ticket.assignee_id != agent.id:
        taker = ticket.assignee.name if ticket.assignee else "someone else"
        raise Conflict(f"{ticket.number} is already with {taker}.", code="already_claimed")
    if ticket.status == "assigned":
        tickets.acknowledge(db.session, ticket, agent)
    db.session.commit()
    log.info("%s took %s from Slack", agent.username, ticket.number)
    if channel and message_ts:
        text, blocks = taken(ticket, agent.name)
        try:
            client.update_message(channel, message_ts, text, blocks)
        except SlackError as exc:
            log.warning("could not update the announcement of %s: %s", ticket.number, exc)


def rate(client: SlackClient, value: str, user_id: str, channel: str, message_ts: str) -> None:
    number, _, raw = value.partition(":")
    ticket = tickets.get_by_number(db.session, number)
    if ticket.channel != "slack" or ticket.slack_user != user_id:
        raise NotFound("Only the person who asked can rate this ticket.", code="ticket_not_found")
    try:
        rating = int(raw)
    except ValueError:
        raise ValidationFailed("The rating is a whole number from 1 to 5.") from None
    surveys.rate(db.session, ticket, rating)
    db.session.commit()
    if channel and message_ts:
        try:
            client.update_message(channel, message_ts, f"Your ticket {ticket.number} is resolved. "
                                  f"Thanks for your rating ({rating}/5)!")
        except SlackError as exc:
            log.warning("could not update the rating message of %s: %s", ticket.number, exc)
