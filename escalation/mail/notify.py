"""The mails a ticket change causes, written to the outbox in the change's own transaction
(and the admins' SLA notices, written with the worker's SLA state change).

:mod:`escalation.tickets` calls these at the end of its use cases, so the API, the consoles,
the worker and ``flask mail-in`` all notify the same way, and a change that is rolled back
sends nothing.

The customer hears about each step (:func:`_to_customer`, filtered by their preference, see
:mod:`.preferences`): the acknowledgement, an agent allocated (with the agent's name), agents'
replies, resolved (with one-click ratings), reopened, and before and at the auto-close. On an
e-mail ticket a reply goes out at once; on a chat ticket only the replies the customer's live
stream did not deliver within ``CHAT_REPLY_MAIL_DELAY`` are e-mailed, several in one mail
(:func:`chat_replies_due`, a worker pass). Every customer mail threads into the ticket
(Message-ID / In-Reply-To / References), so answering any of them joins the ticket.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import expected_wait
from ..attachments import Refusal
from ..models import Message, OutboxMail, Ticket, TicketEvent, User, utcnow
from . import alerts, files, messageids, preferences
from .outbox import enqueue, enqueue_once
from .render import render

if TYPE_CHECKING:
    from ..sla import Clock


def _base(ticket: Ticket) -> dict[str, Any]:
    config = current_app.config
    public_url = config["PUBLIC_URL"].rstrip("/")
    tracking_url = f"{public_url}/track?number={ticket.number}"
    return {"ticket": ticket, "customer_name": ticket.customer.name or "there", "public_url": public_url,
            "tracking_url": tracking_url, "survey_url": tracking_url,
            "support_name": messageids.support_address(config)[0] or "Customer Care", "show_marker": True}


def _to_customer(session: Session, kind: str, ticket: Ticket, *, auto_submitted: bool = True,
                 dedupe_key: str | None = None, **context: object) -> OutboxMail | None:
    """A mail to the ticket's customer, unless their preference leaves ``kind`` out.

    It carries the one-click unsubscribe link (headers and footer) and threads into the ticket.
    """
    customer = ticket.customer
    if customer is None or not customer.email or not preferences.wants(customer, kind):
        return None
    unsubscribe = preferences.unsubscribe_url(customer)
    mail = {"kind": kind, "ticket": ticket, "to_addr": customer.email, "auto_submitted": auto_submitted,
            "unsubscribe_url": unsubscribe,
            "rendered": render(kind, **{**_base(ticket), "unsubscribe_url": unsubscribe, **context})}
    if dedupe_key:
        return enqueue_once(session, dedupe_key=dedupe_key, **mail)  # type: ignore[arg-type]
    return enqueue(session, **mail)  # type: ignore[arg-type]


def ticket_opened(session: Session, ticket: Ticket, refused: Sequence[Refusal] = ()) -> OutboxMail | None:
    """The auto-acknowledgement: the ticket number and where to follow it.

    It goes to an address nobody verified yet, so it never repeats the customer's own text in
    its subject or first lines (no subject, no name: nothing to phish with). ``refused``: the
    files of the customer's mail that were not accepted, named with why and where to add them.
    """
    alerts.new_ticket(session, ticket)
    return _to_customer(session, "acknowledgement", ticket,
                        expected_wait=expected_wait.for_ticket(session, ticket).sentence(),
                        **files.refused_context(ticket, refused))


def attachments_refused(session: Session, ticket: Ticket, refused: Sequence[Refusal]) -> OutboxMail | None:
    """The customer's reply by e-mail carried files we did not accept: which, why, and the portal
    page to add them (a new ticket's acknowledgement says it instead)."""
    if not refused:
        return None
    customer = ticket.customer
    if customer is None or not customer.email:
        return None
    rendered = render("attachment_refused", **_base(ticket), **files.refused_context(ticket, refused))
    return enqueue(session, kind="attachment_refused", ticket=ticket, to_addr=customer.email, rendered=rendered)


def ticket_assigned(session: Session, ticket: Ticket, agent: User, assigned_by: str = "") -> OutboxMail:
    """Tell the agent a ticket is theirs now (not part of the customer's thread), and the
    customer who is looking at it (:func:`agent_allocated`)."""
    context = {**_base(ticket), "agent": agent, "assigned_by": assigned_by if assigned_by != agent.username else "",
               "show_marker": False,
               "console_url": f"{current_app.config['PUBLIC_URL'].rstrip('/')}/agent/tickets/{ticket.number}"}
    mail = enqueue(session, kind="assigned", ticket=ticket, to_addr=agent.email, thread=False,
                   rendered=render("assigned", **context))
    agent_allocated(session, ticket, agent)
    return mail


def agent_allocated(session: Session, ticket: Ticket, agent: User) -> OutboxMail | None:
    """"Tim is looking at CR-10042": the customer learns a person has their ticket, and who."""
    return _to_customer(session, "allocated", ticket, agent=agent,
                        agent_first_name=(agent.name or agent.username).split()[0])


def agent_replied(session: Session, ticket: Ticket, message: Message) -> OutboxMail | None:
    """An agent's public reply on an e-mail ticket goes out as e-mail at once; on a chat ticket
    the worker mails it later only if the customer did not see it live (:func:`chat_replies_due`)."""
    if message.internal or ticket.channel != "email":
        return None
    return _replies_mail(session, ticket, [message])


def _replies_mail(session: Session, ticket: Ticket, replies: Sequence[Message],
                  dedupe_key: str | None = None) -> OutboxMail | None:
    """The agent_reply mail of ``replies``, with their files attached or linked (:func:`.files.plan`)."""
    sending = files.plan(replies)
    mail = _to_customer(session, "agent_reply", ticket, auto_submitted=False, dedupe_key=dedupe_key,
                        message=replies[-1], messages=list(replies), **sending.context(ticket))
    if mail is not None and sending.attached:
        mail.attachments = list(sending.files)
    return mail


def ticket_resolved(session: Session, ticket: Ticket) -> OutboxMail | None:
    """The resolved notice, with one-click ratings (signed links, the rating in the link)."""
    ticket.close_warned_at = None  # a ticket resolved again is warned again before it closes
    ratings = [{"rating": rating, "label": label, "url": url}
               for rating, label, url in preferences.rating_urls(ticket)]
    return _to_customer(session, "resolved", ticket, rating_links=ratings,
                        survey_url=preferences.comment_url(ticket))


def ticket_reopened(session: Session, ticket: Ticket) -> OutboxMail | None:
    """The customer wrote on a resolved ticket: it is open again, with the same agent."""
    return _to_customer(session, "reopened", ticket,
                        agent_name=ticket.assignee.name if ticket.assignee else "")


def ticket_closed(session: Session, ticket: Ticket) -> OutboxMail | None:
    """The auto-close happened (once per ticket: a closed ticket stays closed)."""
    return _to_customer(session, "closed", ticket, dedupe_key=f"closed:{ticket.id}")


# --- decided by the worker ---------------------------------------------------------------

def close_warnings_due(session: Session, *, now: datetime, close_days: float, notice_days: float) -> int:
    """Warn the customers whose resolved tickets close within ``notice_days``; returns how many.

    Each resolution is warned once: ``close_warned_at`` is claimed with a conditional UPDATE
    (two workers: one wins) and the mail has a unique key as well.
    """
    if notice_days <= 0:
        return 0
    close_after = timedelta(days=close_days)
    warn_from = now - close_after + timedelta(days=notice_days)
    due = session.scalars(select(Ticket).where(Ticket.status == "resolved", Ticket.close_warned_at.is_(None),
                                               Ticket.updated_at < warn_from,
                                               Ticket.updated_at >= now - close_after)
                          .order_by(Ticket.id).limit(200)).unique().all()
    warned = 0
    for ticket in due:
        claimed = session.execute(update(Ticket).where(Ticket.id == ticket.id, Ticket.close_warned_at.is_(None))
                                  .values(close_warned_at=now).execution_options(synchronize_session=False))
        if (claimed.rowcount or 0) != 1:  # type: ignore[attr-defined]
            continue
        ticket.close_warned_at = now  # the object in this session says so too (a later resolve resets it)
        closes_at = ticket.updated_at + close_after
        stamp = (ticket.resolved_at or ticket.updated_at).isoformat()  # each resolution is warned once
        if _to_customer(session, "close_warning", ticket, dedupe_key=f"close-warning:{ticket.id}:{stamp}",
                        closes_on=closes_at.strftime("%A %d %B %Y")) is not None:
            warned += 1
    return warned


def chat_replies_due(session: Session, *, now: datetime | None = None, delay: float | None = None) -> int:
    """E-mail the agents' chat replies that the customer's live stream did not deliver in time.

    A chat ticket's public message events after both ``customer_seen_event_id`` (what the
    stream delivered) and ``reply_mailed_event_id`` (what was mailed) are due once the first
    of them is ``delay`` seconds old; the agents' replies among them go in one mail. The mark
    is moved with a conditional UPDATE and the mail has a unique key, so two workers send it
    once. Returns how many mails were written.
    """
    now = now or utcnow()
    delay = float(current_app.config["CHAT_REPLY_MAIL_DELAY"]) if delay is None else delay
    cutoff = now - timedelta(seconds=delay)
    waiting = session.scalars(
        select(TicketEvent.ticket_id).join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(Ticket.channel == "web_chat", TicketEvent.kind == "message", TicketEvent.public.is_(True),
               TicketEvent.id > Ticket.customer_seen_event_id, TicketEvent.id > Ticket.reply_mailed_event_id,
               TicketEvent.created_at <= cutoff)
        .group_by(TicketEvent.ticket_id).order_by(TicketEvent.ticket_id).limit(200)).all()
    written = 0
    for ticket_id in waiting:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            continue
        mark = max(ticket.customer_seen_event_id, ticket.reply_mailed_event_id)
        events = session.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "message", TicketEvent.public.is_(True),
            TicketEvent.id > mark).order_by(TicketEvent.id)).all()
        if not events:
            continue
        last = events[-1].id
        claimed = session.execute(update(Ticket).where(Ticket.id == ticket_id,
                                                       Ticket.reply_mailed_event_id == ticket.reply_mailed_event_id,
                                                       Ticket.customer_seen_event_id < last)
                                  .values(reply_mailed_event_id=last).execution_options(synchronize_session=False))
        if (claimed.rowcount or 0) != 1:  # type: ignore[attr-defined]
            continue  # another worker took it, or the customer saw them meanwhile
        ticket.reply_mailed_event_id = last
        ids = [e.payload.get("id") for e in events if e.payload.get("author") == "agent"]
        replies = session.scalars(select(Message).where(Message.id.in_(ids), Message.internal.is_(False))
                                  .order_by(Message.id)).all() if ids else []
        if replies and _replies_mail(session, ticket, list(replies),
                                     dedupe_key=f"chat-replies:{ticket_id}:{last}") is not None:
            written += 1
    return written


class SeenMarks:
    """The highest event id this process has marked seen per ticket, so that the watchers of
    one ticket write the mark once per event, not once per open stream.

    Several browser tabs (or a widget reconnecting) may watch one ticket; each stream calls
    :func:`seen_live` for the same events. Before, every call was an UPDATE of the same
    ticket row: 500 streams × 20 messages were 10,000 UPDATEs queued on one row lock
    (``bench/bench_sse_fanout.py``: p50 ~950 ms instead of ~55 ms). The first stream claims
    the mark and writes it; the others find it claimed and return. A failed write gives the
    claim back. Bounded (least recently marked tickets are forgotten, which only costs a
    redundant UPDATE); the SQL condition keeps the column monotonic across processes.
    """

    def __init__(self, limit: int = 4096) -> None:
        self._lock = threading.Lock()
        self._marked: OrderedDict[int, int] = OrderedDict()
        self._limit = limit

    def claim(self, ticket_id: int, event_id: int) -> bool:
        with self._lock:
            if self._marked.get(ticket_id, 0) >= event_id:
                return False
            self._marked[ticket_id] = event_id
            self._marked.move_to_end(ticket_id)
            while len(self._marked) > self._limit:
                self._marked.popitem(last=False)
            return True

    def release(self, ticket_id: int, event_id: int) -> None:
        with self._lock:
            if self._marked.get(ticket_id) == event_id:
                del self._marked[ticket_id]


def seen_live(app: Flask, ticket_id: int, event_id: int) -> None:
    """The customer's live stream delivered the events up to ``event_id``: those are not e-mailed."""
    from ..db import db

    marks: SeenMarks = app.extensions.setdefault("care_seen_marks", SeenMarks())
    if not marks.claim(ticket_id, event_id):
        return  # another stream of this ticket in this process marked it (or a later event)
    try:
        with app.app_context():
            db.session.execute(update(Ticket).where(Ticket.id == ticket_id, Ticket.customer_seen_event_id < event_id)
                               .values(customer_seen_event_id=event_id).execution_options(synchronize_session=False))
            db.session.commit()
    except BaseException:
        marks.release(ticket_id, event_id)
        raise


SLA_STATE_LABELS = {"at_risk": "at risk", "breached": "breached", "ok": "on time", "met": "met"}


def sla_notice(session: Session, ticket: Ticket, before: str, after: str, clock: Clock) -> list[OutboxMail]:
    """Tell every active admin that ``ticket`` became at risk or breached (one mail each).

    :func:`escalation.sla.check_all` calls it only when the state changes, so a ticket is
    announced once per change, not on every worker pass.
    """
    admins = session.scalars(select(User).where(User.role == "admin", User.active.is_(True))
                             .order_by(User.id)).all()
    public_url = current_app.config["PUBLIC_URL"].rstrip("/")
    due = clock.due.strftime("%Y-%m-%d %H:%M UTC") if clock.due else "—"
    mails: list[OutboxMail] = []
    for admin in admins:
        if not admin.email:
            continue
        context = {**_base(ticket), "admin": admin, "show_marker": False,
                   "sla_state": SLA_STATE_LABELS.get(after, after),
                   "previous_state": SLA_STATE_LABELS.get(before, before),
                   "breached": after == "breached", "clock_label": clock.label,
                   "due": due, "assignee_name": ticket.assignee.name if ticket.assignee else "",
                   "console_url": f"{public_url}/admin/tickets/{ticket.number}"}
        mails.append(enqueue(session, kind="sla_notice", ticket=ticket, to_addr=admin.email, thread=False,
                             rendered=render("sla_notice", **context)))
    return mails
