"""The outbox: every outgoing mail is a row first, written with the change that caused it.

Delivery (the worker's :func:`deliver_due`) sends each mail at most once:

1. **Claim** due ``pending`` rows with a lease: ``SELECT … FOR UPDATE SKIP LOCKED`` then an
   UPDATE on PostgreSQL; one atomic ``UPDATE … WHERE lease expired`` on SQLite. A worker that
   dies holding a lease only delays those rows until the lease runs out.
2. Open the SMTP session and give the envelope (MAIL FROM, RCPT TO). Nothing is sent yet:
   any failure here puts the row back to ``pending`` with exponential backoff.
3. **Mark it ``sending``**, conditional on still holding the lease, and commit. Only one
   worker can do this for a row; a worker whose lease ran out skips the row.
4. DATA. The server's 250 marks the row ``sent`` (same step, committed at once); a refusal
   puts it back to ``pending`` (temporary, 4xx) or ``failed`` (permanent, 5xx).

A row left in ``sending`` (the worker died, or the connection broke, between steps 3 and 4)
may or may not have reached the server, so it is never resent by itself: it becomes
``failed`` with that explanation, and an admin can send it again from ``/admin/outbox``.
An SMTP outage only delays mail: attempts back off (``MAIL_RETRY_SECONDS``, doubling, at most
an hour) for ``MAIL_MAX_ATTEMPTS`` attempts.
"""
from __future__ import annotations

import logging
import secrets
import smtplib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import db
from ..errors import Conflict, NotFound
from ..models import Customer, OutboxMail, Ticket, utcnow
from . import messageids
from .outbound import Envelope, SendRefused, SmtpSender, build_message
from .render import Rendered

log = logging.getLogger("escalation.mail.outbox")
MAX_BACKOFF = 3600.0
UNCERTAIN = ("The connection ended while the SMTP server was receiving this mail, so it may or may not "
             "have arrived. It is not resent automatically; send it again if the recipient did not get it.")


def enqueue(session: Session, *, kind: str, to_addr: str, rendered: Rendered, ticket: Ticket | None,
            auto_submitted: bool = True, thread: bool = True, unsubscribe_url: str = "",
            dedupe_key: str | None = None, not_before: datetime | None = None) -> OutboxMail:
    """Add a mail to the outbox in the caller's transaction (it is sent after the commit).

    ``unsubscribe_url`` adds the one-click ``List-Unsubscribe`` headers; ``dedupe_key`` makes
    the row unique (see :func:`enqueue_once`); ``not_before`` delays it.
    """
    config = _config()
    message_id = messageids.new_id(config, ticket.number if ticket else "care")
    in_reply_to, references = messageids.thread_headers(session, ticket) if ticket and thread else ("", "")
    mail = OutboxMail(kind=kind, ticket_id=ticket.id if ticket else None, to_addr=to_addr,
                      subject=rendered.subject, message_id=message_id, in_reply_to=in_reply_to,
                      thread_references=references, body_text=rendered.text, body_html=rendered.html,
                      auto_submitted=auto_submitted, status="pending", attempts=0,
                      next_attempt_at=not_before or utcnow(), last_error="", unsubscribe_url=unsubscribe_url,
                      dedupe_key=dedupe_key)
    session.add(mail)
    if ticket is not None and thread:
        messageids.record(session, ticket, message_id, "out")
    return mail


def enqueue_once(session: Session, *, dedupe_key: str, **mail: Any) -> OutboxMail | None:
    """:func:`enqueue` unless a mail with ``dedupe_key`` exists; None then.

    For mail the worker decides to send (digests, auto-close notices): when two workers decide
    the same mail at once, the unique key lets one row in and the other's insert is undone in
    its savepoint, leaving the rest of its transaction alone.
    """
    if session.scalar(select(OutboxMail.id).where(OutboxMail.dedupe_key == dedupe_key)) is not None:
        return None
    try:
        with session.begin_nested():
            mail_row = enqueue(session, dedupe_key=dedupe_key, **mail)
            session.flush()
    except IntegrityError:
        return None
    return mail_row


def rethread(session: Session, ticket: Ticket) -> None:
    """Recompute the threading headers of ``ticket``'s unsent mail (after recording an inbound id)."""
    session.flush()
    for mail in session.scalars(select(OutboxMail).where(OutboxMail.ticket_id == ticket.id,
                                                         OutboxMail.status == "pending",
                                                         OutboxMail.kind.not_in(("assigned", "sla_notice")))):
        mail.in_reply_to, mail.thread_references = messageids.thread_headers(session, ticket,
                                                                             exclude=mail.message_id)


@dataclass
class Delivery:
    """What one call of :func:`deliver_due` did, by row id."""

    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.sent or self.retrying or self.failed or self.skipped or self.held)


Connect = Callable[[Any], SmtpSender]


def deliver_due(app: Flask, worker_id: str, *, now: datetime | None = None, limit: int = 50,
                connect: Connect | None = None) -> Delivery:
    """Send the due mail. Needs an app context; commits as it goes."""
    config = app.config
    report = Delivery()
    if not config["SMTP_HOST"] and connect is None:
        return report
    now = now or utcnow()
    session = db.session
    session.expire_all()  # rows this session wrote earlier in the pass are read afresh
    give_up_uncertain(session, now)
    claimed, owner = claim(session, worker_id, now=now, limit=limit,
                           lease=timedelta(seconds=config["MAIL_LEASE_SECONDS"]))
    if not claimed:
        return report
    try:
        sender = (connect or SmtpSender.from_config)(config)
    except (OSError, smtplib.SMTPException, ValueError) as exc:  # ValueError: a setting to fix
        log.warning("SMTP server unavailable (%s); %d mail(s) wait for the next attempt", _describe(exc),
                    len(claimed))
        for mail_id in claimed:
            _retry_later(session, mail_id, owner, _describe(exc), now, report)
        session.commit()
        return report
    with sender:
        for position, mail_id in enumerate(claimed):
            if not _deliver_one(session, sender, mail_id, owner, now, report):
                # the connection is gone: the rest wait for the next pass, without an attempt counted
                _release(session, claimed[position + 1:], owner)
                session.commit()
                break
    if report.sent or report.failed:
        log.info("outbox: %d sent, %d retrying, %d failed", len(report.sent), len(report.retrying),
                 len(report.failed))
    return report


def claim(session: Session, worker_id: str, *, now: datetime, limit: int,
          lease: timedelta) -> tuple[list[int], str]:
    """Lease up to ``limit`` due pending rows to this worker; returns their ids and the lease owner."""
    owner = f"{worker_id[:100]}/{secrets.token_hex(6)}"
    until = now + lease
    due = (OutboxMail.status == "pending", OutboxMail.next_attempt_at <= now,
           or_(OutboxMail.lease_until.is_(None), OutboxMail.lease_until < now))
    if session.get_bind().dialect.name == "postgresql":
        ids = list(session.scalars(select(OutboxMail.id).where(*due).order_by(OutboxMail.id).limit(limit)
                                   .with_for_update(skip_locked=True)))
        if ids:
            session.execute(update(OutboxMail).where(OutboxMail.id.in_(ids))
                            .values(lease_owner=owner, lease_until=until)
                            .execution_options(synchronize_session=False))
    else:
        # one statement, so SQLite's write lock makes it atomic: a second worker's UPDATE waits,
        # then finds the rows leased and takes others
        candidates = select(OutboxMail.id).where(*due).order_by(OutboxMail.id).limit(limit).scalar_subquery()
        session.execute(update(OutboxMail).where(OutboxMail.id.in_(candidates), *due)
                        .values(lease_owner=owner, lease_until=until)
                        .execution_options(synchronize_session=False))
        ids = list(session.scalars(select(OutboxMail.id).where(OutboxMail.lease_owner == owner,
                                                               OutboxMail.status == "pending")
                                   .order_by(OutboxMail.id)))
    session.commit()
    return ids, owner


def give_up_uncertain(session: Session, now: datetime) -> int:
    """Rows stuck in ``sending`` past their lease: their worker died mid-send. Never resent by itself."""
    result = session.execute(update(OutboxMail)
                             .where(OutboxMail.status == "sending", OutboxMail.lease_until < now)
                             .values(status="failed", last_error=UNCERTAIN, lease_until=None)
                             .execution_options(synchronize_session=False))
    session.commit()
    count = result.rowcount or 0  # type: ignore[attr-defined]
    if count:
        log.error("outbox: %d mail(s) were being sent when their worker stopped; marked failed", count)
    return count


def _deliver_one(session: Session, sender: SmtpSender, mail_id: int, owner: str, now: datetime,
                 report: Delivery) -> bool:
    """Send one claimed row; False when the SMTP connection can no longer be used."""
    mail = session.get(OutboxMail, mail_id, populate_existing=True)
    if mail is None:
        return True
    config = _config()
    held_until = unverified_cap(session, mail, now)
    if held_until is not None:
        _mark(session, mail_id, owner, lease_until=None, next_attempt_at=held_until,
              last_error=f"held until {held_until:%Y-%m-%d %H:%M} UTC: {config['MAIL_UNVERIFIED_PER_HOUR']} mails "
                         "went to this unverified address in the last hour (CARE_MAIL_UNVERIFIED_PER_HOUR)")
        session.commit()
        report.held.append(mail_id)
        return True
    message = build_message(mail, config)
    envelope = Envelope(sender=messageids.support_address(config)[1], recipient=mail.to_addr)
    try:
        sender.envelope(envelope)
    except SendRefused as exc:
        _refused(session, mail_id, owner, exc, now, report)
        sender.reset()
        session.commit()
        return True
    except (OSError, smtplib.SMTPException) as exc:
        _retry_later(session, mail_id, owner, _describe(exc), now, report)
        session.commit()
        return False
    if not _mark(session, mail_id, owner, status="sending"):
        session.rollback()
        report.skipped.append(mail_id)  # the lease ran out and another worker has it
        sender.reset()
        return True
    session.commit()  # the point after which this row is never sent again by itself
    try:
        sender.data(message)
    except SendRefused as exc:  # the server answered "no": certainly not delivered
        _refused(session, mail_id, owner, exc, now, report)
        session.commit()
        return True
    except (OSError, smtplib.SMTPException) as exc:
        _mark(session, mail_id, owner, status="failed", last_error=f"{UNCERTAIN} ({_describe(exc)})",
              lease_until=None)
        report.failed.append(mail_id)
        session.commit()
        return False
    _mark(session, mail_id, owner, status="sent", sent_at=utcnow(), lease_until=None, last_error="")
    session.commit()
    report.sent.append(mail_id)
    return True


CUSTOMER_KINDS = frozenset({"acknowledgement", "agent_reply", "resolved", "allocated", "reopened",
                            "close_warning", "closed"})


def unverified_cap(session: Session, mail: OutboxMail, now: datetime) -> datetime | None:
    """When a customer mail must wait: its address is unverified and already got
    ``MAIL_UNVERIFIED_PER_HOUR`` mails in the last hour; None to send it now.

    Anyone can type any address into the chat, so an address nobody proved is theirs (by
    writing to us from it, or the portal's check) gets a few mails an hour, not a flood. The
    excess waits (nothing is dropped) and the reason shows on ``/admin/outbox``.
    """
    cap = int(_config()["MAIL_UNVERIFIED_PER_HOUR"])
    if cap <= 0 or mail.kind not in CUSTOMER_KINDS:
        return None
    verified = session.scalar(select(Customer.email_verified_at).where(Customer.email == mail.to_addr.lower()))
    if verified is not None:
        return None
    since = now - timedelta(hours=1)
    recent = list(session.scalars(select(OutboxMail.sent_at).where(
        OutboxMail.to_addr == mail.to_addr, OutboxMail.status.in_(("sent", "sending")),
        OutboxMail.sent_at >= since).order_by(OutboxMail.sent_at.desc()).limit(cap)))
    if len(recent) < cap:
        return None
    return recent[-1] + timedelta(hours=1)


def _mark(session: Session, mail_id: int, owner: str, **values: Any) -> bool:
    """Change a row this worker holds the lease on; False if it no longer does."""
    condition = [OutboxMail.id == mail_id, OutboxMail.lease_owner == owner]
    if values.get("status") == "sending":
        condition.append(OutboxMail.status == "pending")
    result = session.execute(update(OutboxMail).where(*condition).values(**values)
                             .execution_options(synchronize_session=False))
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


def backoff(config: Any, attempts: int) -> timedelta:
    """Delay before attempt ``attempts + 1``: MAIL_RETRY_SECONDS, doubled each time, at most an hour."""
    base = float(config["MAIL_RETRY_SECONDS"])
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), MAX_BACKOFF))


def _retry_later(session: Session, mail_id: int, owner: str, error: str, now: datetime,
                 report: Delivery) -> None:
    config = _config()
    row = session.execute(select(OutboxMail.attempts, OutboxMail.lease_owner).where(OutboxMail.id == mail_id)).first()
    if row is None or row.lease_owner != owner:
        return
    attempts = row.attempts + 1
    if attempts >= config["MAIL_MAX_ATTEMPTS"]:
        _mark(session, mail_id, owner, status="failed", attempts=attempts, lease_until=None,
              last_error=f"gave up after {attempts} attempts: {error}")
        report.failed.append(mail_id)
        return
    _mark(session, mail_id, owner, status="pending", attempts=attempts, lease_until=None, last_error=error,
          next_attempt_at=now + backoff(config, attempts))
    report.retrying.append(mail_id)


def _refused(session: Session, mail_id: int, owner: str, exc: SendRefused, now: datetime,
             report: Delivery) -> None:
    if exc.permanent:
        _mark(session, mail_id, owner, status="failed", lease_until=None, last_error=str(exc),
              attempts=OutboxMail.attempts + 1)
        report.failed.append(mail_id)
    else:
        _mark(session, mail_id, owner, status="pending")  # back from "sending", if it got there
        _retry_later(session, mail_id, owner, str(exc), now, report)


def _release(session: Session, mail_ids: Sequence[int], owner: str) -> None:
    if mail_ids:
        session.execute(update(OutboxMail).where(OutboxMail.id.in_(mail_ids), OutboxMail.lease_owner == owner,
                                                 OutboxMail.status == "pending")
                        .values(lease_until=None).execution_options(synchronize_session=False))


def _describe(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}"[:500]


def _config() -> Any:
    from flask import current_app

    return current_app.config


# -- the admin console's view -------------------------------------------------------------

def counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxMail.status, func.count(OutboxMail.id)).group_by(OutboxMail.status)).all()
    found = {status: count for status, count in rows}
    return {status: found.get(status, 0) for status in ("pending", "sending", "sent", "failed")}


def listing(session: Session, status: str = "", limit: int = 200) -> list[OutboxMail]:
    """Newest first; ``status`` filters (empty: everything)."""
    query = select(OutboxMail).order_by(OutboxMail.id.desc()).limit(limit)
    if status:
        query = query.where(OutboxMail.status == status)
    return list(session.scalars(query))


def ticket_numbers(session: Session, mails: Sequence[OutboxMail]) -> dict[int, str]:
    ids = {m.ticket_id for m in mails if m.ticket_id is not None}
    if not ids:
        return {}
    return {ticket_id: number for ticket_id, number in
            session.execute(select(Ticket.id, Ticket.number).where(Ticket.id.in_(ids)))}


def send_again(session: Session, mail_id: int, actor: str) -> OutboxMail:
    """Put a failed mail back in the queue (an admin's decision, e.g. after an uncertain send)."""
    mail = session.get(OutboxMail, mail_id)
    if mail is None:
        raise NotFound("There is no such mail in the outbox.", code="mail_not_found")
    if mail.status != "failed":
        raise Conflict(f"Only failed mail can be sent again; this one is {mail.status}.", code="mail_not_failed")
    mail.status, mail.next_attempt_at, mail.lease_owner, mail.lease_until = "pending", utcnow(), None, None
    mail.attempts = 0
    mail.last_error = f"queued again by {actor}"
    log.info("outbox: mail %d queued again by %s", mail_id, actor)
    return mail
