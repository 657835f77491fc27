"""The background worker: periodic passes over the database.

Each pass records a heartbeat (so `make status` and `/healthz` can tell a stalled worker),
closes resolved tickets that stayed silent for ``AUTO_CLOSE_DAYS``, re-evaluates the SLA
clocks (e-mailing the admins about tickets at risk or breached), assigns waiting tickets
when automatic assignment is on, polls and sends e-mail, posts to Slack, and recomputes the
dashboard's and the agents' figures on a large desk: the steps of :func:`run_pass`.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from datetime import datetime, timedelta
from types import FrameType

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import lazyload
from sqlalchemy.exc import SQLAlchemyError

from . import tickets
from .db import db
from .mail import imap, outbox
from .mail import notify as mail_notify
from .models import Ticket, WorkerHeartbeat, utcnow
from .slack import notify as slack_notify

log = logging.getLogger("escalation.worker")


def auto_close(app: Flask, *, now: datetime | None = None) -> int:
    """Close resolved tickets silent for ``AUTO_CLOSE_DAYS`` (telling the customer), and warn
    those that close within ``AUTO_CLOSE_NOTICE_DAYS``."""
    now = now or utcnow()
    days = app.config["AUTO_CLOSE_DAYS"]
    cutoff = now - timedelta(days=days)
    stale = db.session.scalars(select(Ticket).where(Ticket.status == "resolved", Ticket.updated_at < cutoff)
                               .options(lazyload("*")).limit(500)
                               .with_for_update(skip_locked=True)).unique().all()
    for ticket in stale:
        tickets.close(db.session, ticket, "worker")
        mail_notify.ticket_closed(db.session, ticket)
    mail_notify.close_warnings_due(db.session, now=now, close_days=days,
                                   notice_days=app.config["AUTO_CLOSE_NOTICE_DAYS"])
    db.session.commit()
    return len(stale)


def digest_pass() -> int:
    """The admins' new-ticket digests that are due (see ``mail.alerts.digests_due``)."""
    from .mail.alerts import digests_due

    written = digests_due(db.session, now=utcnow())
    db.session.commit()
    return written


def chat_reply_pass() -> int:
    """E-mail the chat replies customers did not see live (see ``mail.notify.chat_replies_due``)."""
    written = mail_notify.chat_replies_due(db.session)
    db.session.commit()
    return written


def heartbeat(worker_id: str) -> None:
    beat = db.session.get(WorkerHeartbeat, worker_id)
    if beat is None:
        beat = WorkerHeartbeat(worker_id=worker_id, passes=0)
        db.session.add(beat)
    beat.seen_at = utcnow()
    beat.passes += 1
    db.session.commit()


def sla_pass() -> int:
    from . import sla

    changes = sla.check_all(db.session)
    db.session.commit()
    for ticket, before, after in changes:
        log.warning("SLA %s → %s on %s (%s priority)", before, after, ticket.number, ticket.priority)
    return len(changes)


def assign_pass() -> int:
    """Automatic assignment of tickets still waiting (when the admin switched it on)."""
    from .claims import assign_waiting

    assigned = assign_waiting(db.session)
    db.session.commit()
    if assigned:
        log.info("auto-assigned %d waiting ticket(s)", assigned)
    return assigned


def figures_pass(app: Flask) -> int:
    """Recompute the figure snapshots that are due (``figure_snapshots.refresh_due``) on a desk large
    enough for the pages to read them; on a small one the pages compute them themselves."""
    from . import figure_snapshots

    if not figure_snapshots.is_large(db.session, app.config["FIGURES_LIVE_TICKETS"]):
        return 0
    refreshed = figure_snapshots.refresh_due(db.session, refresh_seconds=app.config["FIGURES_REFRESH_SECONDS"])
    db.session.commit()
    return len(refreshed)


def run_pass(app: Flask, worker_id: str) -> dict[str, int]:
    with app.app_context():
        closed = auto_close(app)
        sla_changes = sla_pass()
        auto_assigned = assign_pass()
        chat_replies = chat_reply_pass()
        digest_pass()
        mail_received = imap.poll(app)
        mail_sent = len(outbox.deliver_due(app, worker_id).sent)
        slack_sent = len(slack_notify.run_pass(app, db.session).sent)
        figures = figures_pass(app)
        heartbeat(worker_id)
    if closed:
        log.info("auto-closed %d resolved ticket(s)", closed)
    return {"closed": closed, "sla_changes": sla_changes, "auto_assigned": auto_assigned, "chat_replies": chat_replies,
            "mail_received": mail_received, "mail_sent": mail_sent, "slack_sent": slack_sent,
            "figures": figures}


def run(app: Flask, *, once: bool = False) -> None:
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: finishing the current pass and stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info("worker %s started (every %.1fs)", worker_id, app.config["WORKER_INTERVAL"])
    while not stop.is_set():
        try:
            run_pass(app, worker_id)
        except SQLAlchemyError as exc:  # database away: say so, keep going, retry next pass
            log.error("pass failed, retrying: %s", exc.__class__.__name__)
        if once:
            break
        stop.wait(app.config["WORKER_INTERVAL"])
