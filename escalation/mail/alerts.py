"""Admins hear about new tickets: each one as it opens, or a digest every N minutes.

Each admin chooses at ``/admin/notifications`` (``users.new_ticket_alerts``: off, each,
digest; ``alert_digest_minutes``). "Each" is written to the outbox with the ticket, in the
same transaction. Digests are a worker pass (:func:`digests_due`): an admin's window is
claimed with a conditional UPDATE of ``alert_digest_through`` and the mail has a unique key,
so two workers send one digest per window.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..models import OutboxMail, Ticket, User
from .outbox import enqueue, enqueue_once
from .render import render

DIGEST_LIMIT = 100  # tickets listed in one digest (the count says how many there were)


def _admins(session: Session, pref: str) -> list[User]:
    return list(session.scalars(select(User).where(User.role == "admin", User.active.is_(True),
                                                   User.new_ticket_alerts == pref).order_by(User.id)))


def _context(admin: User) -> dict[str, object]:
    public_url = str(current_app.config["PUBLIC_URL"]).rstrip("/")
    return {"admin": admin, "public_url": public_url, "support_name": "Customer Care", "show_marker": False,
            "queue_url": f"{public_url}/admin/", "settings_url": f"{public_url}/admin/notifications"}


def new_ticket(session: Session, ticket: Ticket) -> list[OutboxMail]:
    """One mail per admin who wants each new ticket."""
    mails = []
    for admin in _admins(session, "each"):
        if admin.email:
            context = {**_context(admin), "ticket": ticket,
                       "console_url": f"{_context(admin)['public_url']}/admin/tickets/{ticket.number}"}
            mails.append(enqueue(session, kind="new_ticket", ticket=ticket, to_addr=admin.email, thread=False,
                                 rendered=render("new_ticket", **context)))
    return mails


def digests_due(session: Session, *, now: datetime) -> int:
    """Send each digest admin the tickets opened since their last digest, once their N minutes
    are up; returns how many digests were written (none when nothing new was opened)."""
    written = 0
    for admin in _admins(session, "digest"):
        if admin.alert_digest_through is None:  # just switched on: count from now
            admin.alert_digest_through = now
            continue
        since, every = admin.alert_digest_through, timedelta(minutes=admin.alert_digest_minutes)
        if now - since < every:
            continue
        claimed = session.execute(update(User).where(User.id == admin.id, User.alert_digest_through <= now - every)
                                  .values(alert_digest_through=now).execution_options(synchronize_session=False))
        if (claimed.rowcount or 0) != 1:  # type: ignore[attr-defined]
            continue  # another worker sent this window
        admin.alert_digest_through = now
        opened = list(session.scalars(select(Ticket).where(Ticket.created_at > since, Ticket.created_at <= now)
                                      .order_by(Ticket.created_at).limit(DIGEST_LIMIT + 1)).unique())
        if not opened or not admin.email:
            continue
        count = len(opened) if len(opened) <= DIGEST_LIMIT else session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.created_at > since, Ticket.created_at <= now))
        context = {**_context(admin), "tickets": opened[:DIGEST_LIMIT], "count": count,
                   "since": since.strftime("%H:%M"), "until": now.strftime("%H:%M UTC"),
                   "minutes": admin.alert_digest_minutes}
        if enqueue_once(session, dedupe_key=f"digest:{admin.id}:{since.isoformat()}", kind="ticket_digest",
                        ticket=None, to_addr=admin.email, rendered=render("ticket_digest", **context)) is not None:
            written += 1
    return written
