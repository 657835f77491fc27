"""What the desk says in Slack, written as :class:`SlackPost` rows and sent by the worker.

:func:`collect` reads what happened since its cursors — new tickets (announced in the staff
channel, with a button to take them) and the public events of tickets that came by Slack
(agent replies, the ticket given to an agent, resolved with rating buttons, reopened) — and
adds one post per thing, keyed (``announce:<ticket id>``, ``event:<event id>``) so it is
never added twice. The cursors trail by :data:`SETTLE` seconds and the window is re-read,
so an event whose transaction committed after a newer one's is still seen.

:func:`deliver_due` sends pending posts in order. Each is claimed with a conditional UPDATE
(one worker per post), sent, and marked sent with the message's ``ts``. A 429 stops the pass
and reschedules the post after Slack's ``Retry-After``; other temporary failures back off.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..models import SlackCursor, SlackPost, Ticket, TicketEvent, utcnow
from .client import RateLimited, SlackClient, SlackError

log = logging.getLogger("escalation.slack.notify")

SETTLE = 60.0  # seconds the cursors trail behind, for transactions that commit out of order
BATCH = 200
LEASE = timedelta(seconds=120)
MAX_ATTEMPTS = 10
RATINGS = ((5, "Great"), (3, "OK"), (1, "Poor"))
TAKE_ACTION = "care_take"
RATE_ACTION = "care_rate"


def console_url(ticket: Ticket) -> str:
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/agent/tickets/{ticket.number}"


def announcement(ticket: Ticket) -> tuple[str, list[dict[str, Any]]]:
    """The staff channel's message for a new ticket: summary, link, and the take button."""
    who = ticket.customer.name or ticket.customer.email
    text = f"New ticket {ticket.number} ({ticket.priority}, {ticket.channel}) from {who}: {ticket.subject}"
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": (
            f"*<{console_url(ticket)}|{ticket.number}>* · {_escape(ticket.subject)}\n"
            f"{_escape(who)} via {ticket.channel} · {ticket.priority} priority · {ticket.category}")}},
        {"type": "actions", "block_id": f"take:{ticket.number}", "elements": [
            {"type": "button", "action_id": TAKE_ACTION, "style": "primary", "value": ticket.number,
             "text": {"type": "plain_text", "text": "Acknowledge and take it"}}]},
    ]
    return text, blocks


def taken(ticket: Ticket, agent_name: str) -> tuple[str, list[dict[str, Any]]]:
    """The announcement once someone took the ticket: no button any more."""
    text = f"{ticket.number} · {ticket.subject} — taken by {agent_name}"
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": (
        f"*<{console_url(ticket)}|{ticket.number}>* · {_escape(ticket.subject)}\n"
        f":white_check_mark: Acknowledged by {_escape(agent_name)}")}}]


def rating_blocks(ticket: Ticket, text: str) -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "plain_text", "text": text}},
        {"type": "actions", "block_id": f"rate:{ticket.number}", "elements": [
            {"type": "button", "action_id": f"{RATE_ACTION}_{rating}", "value": f"{ticket.number}:{rating}",
             "text": {"type": "plain_text", "text": label}} for rating, label in RATINGS]},
    ]


def _escape(text: str) -> str:
    """Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def thread_post(ticket: Ticket, event: TicketEvent) -> tuple[str, list[dict[str, Any]]] | None:
    """What the person sees in their thread for one public event (None: nothing)."""
    payload = event.payload or {}
    if event.kind == "message" and payload.get("author") == "agent" and not payload.get("internal"):
        return f"{payload.get('author_name', 'Support')}: {payload.get('body', '')}", []
    if event.kind == "status":
        action = payload.get("action")
        if action == "assign":
            agent = ticket.assignee.name if ticket.assignee else "an agent"
            return f"Your ticket {ticket.number} is with {agent} from the IT desk; they will answer here.", []
        if action in {"resolve", "resolve_with_problem"}:
            text = f"Your ticket {ticket.number} is resolved: {ticket.resolution}"
            question = "How did we do? (optional)"
            return text + "\n" + question, rating_blocks(ticket, f"{text}\n\n{question}")
        if action == "reopen":
            return f"Your ticket {ticket.number} is open again; the desk will answer here.", []
    return None


def _cursor(session: Session, name: str, start: int) -> SlackCursor:
    cursor = session.get(SlackCursor, name)
    if cursor is None:  # first run: only what happens from now on
        cursor = SlackCursor(name=name, position=start)
        session.add(cursor)
        session.flush()
    return cursor


def _add(session: Session, existing: set[str], key: str, **fields: Any) -> bool:
    if key in existing:
        return False
    session.add(SlackPost(key=key, status="pending", attempts=0, next_attempt_at=utcnow(), last_error="",
                          **fields))
    existing.add(key)
    return True


def collect(session: Session) -> int:
    """Turn new tickets and events into posts; returns how many posts were added."""
    config = current_app.config
    settled = utcnow() - timedelta(seconds=SETTLE)
    added = 0
    staff_channel = config["SLACK_STAFF_CHANNEL"]

    tickets_cursor = _cursor(session, "tickets", session.scalar(select(func.max(Ticket.id))) or 0)
    new_tickets = list(session.scalars(select(Ticket).where(Ticket.id > tickets_cursor.position)
                                       .order_by(Ticket.id).limit(BATCH)).unique())
    keys = _existing(session, [f"announce:{t.id}" for t in new_tickets])
    for ticket in new_tickets:
        if staff_channel:
            text, blocks = announcement(ticket)
            added += _add(session, keys, f"announce:{ticket.id}", ticket_id=ticket.id, channel=staff_channel,
                          text=text, blocks=blocks)
    tickets_cursor.position = _advance(tickets_cursor.position, [(t.id, t.created_at) for t in new_tickets], settled)

    events_cursor = _cursor(session, "events", session.scalar(select(func.max(TicketEvent.id))) or 0)
    rows = session.execute(select(TicketEvent, Ticket).join(Ticket, Ticket.id == TicketEvent.ticket_id)
                           .where(TicketEvent.id > events_cursor.position, Ticket.channel == "slack",
                                  TicketEvent.public.is_(True))
                           .order_by(TicketEvent.id).limit(BATCH)).unique().all()
    keys = _existing(session, [f"event:{event.id}" for event, _ in rows])
    for event, ticket in rows:
        if not ticket.slack_channel:  # raised by staff as "slack", without a thread
            continue
        post = thread_post(ticket, event)
        if post is not None:
            added += _add(session, keys, f"event:{event.id}", ticket_id=ticket.id, channel=ticket.slack_channel,
                          thread_ts=ticket.slack_thread_ts, text=post[0], blocks=post[1])
    events_cursor.position = _advance(events_cursor.position, [(e.id, e.created_at) for e, _ in rows], settled)
    return added


def _existing(session: Session, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    return set(session.scalars(select(SlackPost.key).where(SlackPost.key.in_(keys))))


def _advance(position: int, seen: list[tuple[int, Any]], settled: Any) -> int:
    """The cursor moves past rows older than the settle time, up to the first newer one."""
    for row_id, created_at in seen:
        if created_at is None or created_at > settled:
            break
        position = row_id
    return position


@dataclass
class Delivery:
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    rate_limited: float | None = None


def deliver_due(session: Session, client: SlackClient) -> Delivery:
    """Send the due posts in order; a 429 stops here and reschedules after ``Retry-After``."""
    result = Delivery()
    now = utcnow()
    due = list(session.scalars(select(SlackPost.id).where(SlackPost.status == "pending",
                                                          SlackPost.next_attempt_at <= now)
                               .order_by(SlackPost.id).limit(BATCH)))
    for post_id in due:
        now = utcnow()
        claimed = session.execute(
            update(SlackPost).where(SlackPost.id == post_id, SlackPost.status == "pending",
                                    (SlackPost.claimed_until.is_(None)) | (SlackPost.claimed_until < now))
            .values(claimed_until=now + LEASE).execution_options(synchronize_session=False))
        session.commit()
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another worker has it
        post = session.get(SlackPost, post_id)
        assert post is not None
        post.attempts += 1
        try:
            post.ts = client.post_message(post.channel, post.text, thread_ts=post.thread_ts,
                                          blocks=post.blocks or None)
        except RateLimited as exc:
            post.claimed_until = None
            post.next_attempt_at = utcnow() + timedelta(seconds=exc.retry_after)
            post.last_error = str(exc)
            session.commit()
            result.rate_limited = exc.retry_after
            log.warning("Slack rate limit: waiting %gs before the next post", exc.retry_after)
            break
        except SlackError as exc:
            post.claimed_until = None
            post.last_error = str(exc)
            if exc.temporary and post.attempts < MAX_ATTEMPTS:
                post.next_attempt_at = utcnow() + timedelta(seconds=min(3600, 5 * 2 ** post.attempts))
            else:
                post.status = "failed"
                result.failed.append(post.id)
            session.commit()
            log.warning("Slack post %s: %s", post.key, exc)
            continue
        post.status = "sent"
        post.sent_at = utcnow()
        post.claimed_until = None
        session.commit()
        result.sent.append(post.id)
    return result


def run_pass(app: Flask, session: Session) -> Delivery:
    """The worker's step: nothing at all unless a bot token is configured."""
    client = SlackClient.from_config(app.config)
    if not client.configured:
        return Delivery()
    collect(session)
    session.commit()
    return deliver_due(session, client)
