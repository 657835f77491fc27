"""The escalation database, as SQLAlchemy 2 typed models.

Constraints live in the database (unique numbers, foreign keys, check constraints on every
enumerated column), not only in Python. Schema changes go through Alembic
(``escalation/migrations``).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (JSON, Boolean, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.types import TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base

ROLES = ("admin", "agent")
PRESENCES = ("online", "away", "offline")
STATUSES = ("new", "assigned", "acknowledged", "in_progress", "waiting_on_customer", "resolved", "closed")
OWNERS = ("bot", "queued", "agent")
PRIORITIES = ("low", "normal", "high", "urgent")
CHANNELS = ("web_chat", "email", "web_form", "slack", "phone", "meeting", "walk_in")
# how a ticket staff raise on someone's behalf came in (escalation/admin/on_behalf.py)
STAFF_CHANNELS = ("phone", "meeting", "slack", "walk_in", "email")
AUTHOR_TYPES = ("customer", "agent", "bot", "system")
SLA_STATES = ("ok", "at_risk", "breached", "met")
NOTIFY_PREFS = ("all", "important", "none")
ALERT_PREFS = ("off", "each", "digest")  # an admin's new-ticket alerts (mail/alerts.py)  # what a customer hears about by e-mail (mail/preferences.py)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _trigram(name: str, column: str) -> Index:
    """A GIN trigram index (``pg_trgm``) for ``ILIKE '%…%'`` searches; PostgreSQL only."""
    return Index(name, column, postgresql_using="gin",
                 postgresql_ops={column: "gin_trgm_ops"}).ddl_if(dialect="postgresql")


class User(Base):
    """A person who works in the consoles: an admin or an agent."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="ck_users_role"),
        CheckConstraint(_in("presence", PRESENCES), name="ck_users_presence"),
        CheckConstraint("capacity >= 0", name="ck_users_capacity"),
        CheckConstraint(_in("new_ticket_alerts", ALERT_PREFS), name="ck_users_new_ticket_alerts"),
        CheckConstraint("alert_digest_minutes > 0", name="ck_users_alert_digest_minutes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    capacity: Mapped[int] = mapped_column(Integer, default=5)
    presence: Mapped[str] = mapped_column(String(16), default="online")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # raised by logout and password changes: sessions that name an older version are dead
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # an admin's e-mail about new tickets: off, each one, or a digest every N minutes
    new_ticket_alerts: Mapped[str] = mapped_column(String(8), default="off", server_default="off")
    alert_digest_minutes: Mapped[int] = mapped_column(Integer, default=15, server_default="15")
    alert_digest_through: Mapped[datetime | None] = mapped_column(UTCDateTime)  # tickets up to here were sent

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """What the session (and a remember-me cookie) stores: the id *and* the session
        version, so raising the version on the server ends every copy of the cookie
        (:func:`escalation.auth.load_user`)."""
        return f"{self.id}:{self.session_version}"


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint(_in("notify_pref", NOTIFY_PREFS), name="ck_customers_notify_pref"),
        # the admin queue's search (migration 0008)
        _trigram("ix_customers_email_trgm", "email"),
        _trigram("ix_customers_name_trgm", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # e-mail notifications: everything, only important ones, or nothing (one-click unsubscribe)
    notify_pref: Mapped[str] = mapped_column(String(12), default="all", server_default="all")
    # when the customer proved the address is theirs (an e-mail from it; the portal's check):
    # until then the outbox caps the mail sent to it per hour (CARE_MAIL_UNVERIFIED_PER_HOUR)
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CustomerAccount(Base):
    """A customer's portal account: one per customer (so per e-mail address), with a password.

    Until ``verified_at`` is set the account sees nothing. Tickets are not copied or linked
    one by one: every ticket of the account's customer row (every channel, any browser, before
    or after registering) is the account's. ``session_version`` is in the customer's session
    cookie and checked on each request: signing out (or a password reset) increments it, so
    every older cookie stops working. ``link_nonce`` is in every e-mailed link (verification,
    sign-in, reset, erasure) and changes when one is used, so each link works once.
    """

    __tablename__ = "customer_accounts"
    __table_args__ = (CheckConstraint("session_version >= 1", name="ck_customer_accounts_session_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    link_nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    customer: Mapped[Customer] = relationship(lazy="joined")


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="ck_tickets_status"),
        CheckConstraint(_in("owner", OWNERS), name="ck_tickets_owner"),
        CheckConstraint(_in("priority", PRIORITIES), name="ck_tickets_priority"),
        CheckConstraint(_in("channel", CHANNELS), name="ck_tickets_channel"),
        CheckConstraint(_in("sla_state", SLA_STATES), name="ck_tickets_sla_state"),
        # migration 0008, measured on 1M tickets (docs/benchmarks.md): the queue by status,
        # newest first; an agent's load by status; resolved per day; the queue's search
        Index("ix_tickets_status_created_at", "status", "created_at"),
        Index("ix_tickets_assignee_id_status", "assignee_id", "status"),
        Index("ix_tickets_resolved_at", "resolved_at", postgresql_include=["assignee_id", "status"]),  # 0016
        # the dashboard's per-period figures read only these: index-only scans on PostgreSQL
        Index("ix_tickets_created_at", "created_at",
              postgresql_include=["status", "sla_state", "channel", "first_response_at", "resolved_at", "assignee_id"]),
        # a customer's tickets, latest first: the portal's "My tickets" (migration 0011)
        Index("ix_tickets_customer_id_updated_at", "customer_id", "updated_at"),
        _trigram("ix_tickets_number_trgm", "number"),
        _trigram("ix_tickets_subject_trgm", "subject"),
        # a Slack thread's messages find their ticket (migration 0012)
        Index("ix_tickets_slack_thread", "slack_channel", "slack_thread_ts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    # the name the requester gave when opening this ticket (chat or e-mail From): it belongs to
    # this ticket only and never renames the customer; empty on tickets from before migration 0009
    requester_name: Mapped[str] = mapped_column(String(120), default="", server_default="")
    channel: Mapped[str] = mapped_column(String(16), default="web_chat")
    category: Mapped[str] = mapped_column(String(40), default="general")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    status: Mapped[str] = mapped_column(String(24), default="new")
    owner: Mapped[str] = mapped_column(String(16), default="queued")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    conversation_id: Mapped[str | None] = mapped_column(String(120), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    suggested_articles: Mapped[list[str]] = mapped_column(JSON, default=list)
    nlu: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    resolution: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_due: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    sla_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_state: Mapped[str] = mapped_column(String(12), default="ok", index=True)
    # customer notifications (mail/notify.py): the last public event the customer's live stream
    # delivered, the last one whose agent replies were e-mailed, and the auto-close warning
    customer_seen_event_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reply_mailed_event_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    close_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # channel "slack": the workspace, channel and thread the conversation lives in, and the
    # person's Slack user id (their replies in that thread join the ticket)
    slack_team: Mapped[str | None] = mapped_column(String(40))
    slack_channel: Mapped[str | None] = mapped_column(String(40))
    slack_thread_ts: Mapped[str | None] = mapped_column(String(40))
    slack_user: Mapped[str | None] = mapped_column(String(40))
    # "many people, one cause": the problem ticket this one is linked to (escalation/problems.py)
    problem_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)

    customer: Mapped[Customer] = relationship(lazy="joined")
    assignee: Mapped[User | None] = relationship(lazy="joined")
    messages: Mapped[list[Message]] = relationship(
        back_populates="ticket", order_by="Message.id", cascade="all, delete-orphan"
    )

    @property
    def customer_name(self) -> str:
        """The name shown on this ticket: the one given when it was opened, else the customer's."""
        return self.requester_name or (self.customer.name if self.customer is not None else "")



def _queue_indexes() -> None:
    """Migration 0016, PostgreSQL only (bench/bench_tickets_pg.py, docs/benchmarks.md): the queue in
    its default order (the next SLA deadline first, ``queue.next_due()``), over the open tickets
    with the filters' columns included and over all; open tickets per agent (the workload table);
    the rated ticket's agent (CSAT per agent) without a visit of the table."""
    from sqlalchemy import case, literal_column

    from .lifecycle import OPEN_STATUSES

    t = Ticket.__table__.c
    due = case((t.first_response_at.is_(None), t.first_response_due), else_=t.resolution_due)
    open_only = t.status.in_([s for s in STATUSES if s in OPEN_STATUSES])
    filters = ["status", "sla_state", "priority", "category", "channel", "assignee_id",
               "first_response_at", "first_response_due", "resolution_due"]
    Index("ix_tickets_open_due", due.is_(None), due, t.id, postgresql_include=filters,
          postgresql_where=open_only).ddl_if(dialect="postgresql")
    Index("ix_tickets_due", due.is_(None), due, t.id).ddl_if(dialect="postgresql")
    rank = case(*[(t.priority == literal_column(f"'{p}'"), literal_column(str(i)))
                  for i, p in enumerate(reversed(PRIORITIES))])  # queue.priority_rank()
    Index("ix_tickets_open_priority_due", rank, due.is_(None), due, t.id, postgresql_include=filters,
          postgresql_where=open_only).ddl_if(dialect="postgresql")
    Index("ix_tickets_priority_due", rank, due.is_(None), due, t.id).ddl_if(dialect="postgresql")
    Index("ix_tickets_open_assignee", t.assignee_id, t.status, postgresql_where=open_only).ddl_if(dialect="postgresql")
    Index("ix_tickets_id_assignee", t.id, postgresql_include=["assignee_id"]).ddl_if(dialect="postgresql")


_queue_indexes()


class Message(Base):
    """One entry of a ticket's thread: a public reply or an internal note."""

    __tablename__ = "messages"
    __table_args__ = (CheckConstraint(_in("author_type", AUTHOR_TYPES), name="ck_messages_author_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    author_type: Mapped[str] = mapped_column(String(16))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_name: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
    attachments: Mapped[list[Attachment]] = relationship(back_populates="message", order_by="Attachment.id",
                                                         lazy="selectin")


class Attachment(Base):
    """A file sent with a message (or with a new ticket's description), stored outside the web
    root behind :class:`escalation.attachments.Storage`; only its key is here."""

    __tablename__ = "attachments"
    __table_args__ = (CheckConstraint("size >= 0", name="ck_attachments_size"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(100), unique=True)
    uploaded_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    message: Mapped[Message | None] = relationship(back_populates="attachments")


class AuditEntry(Base):
    """Who changed what on a ticket, and when (from → to)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyRecord(Base):
    """The stored reply to a request made with an ``Idempotency-Key``."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkerHeartbeat(Base):
    """Each worker's last pass, so health checks can tell a stalled worker."""

    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    passes: Mapped[int] = mapped_column(Integer, default=0)


EVENT_KINDS = ("message", "status", "assigned", "agent_joined")


class TicketEvent(Base):
    """One thing that happened on a ticket, in order; the live streams replay these by id.

    ``public`` events reach the customer's stream; internal notes never do.
    """

    __tablename__ = "ticket_events"
    __table_args__ = (CheckConstraint(_in("kind", EVENT_KINDS), name="ck_ticket_events_kind"),
                      # a stream reads "this ticket's events after id N, in order" (migration 0008)
                      Index("ix_ticket_events_ticket_id_id", "ticket_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PublishedArticle(Base):
    """A KB article an agent published from a ticket's resolution (indexed incrementally)."""

    __tablename__ = "published_articles"
    __table_args__ = (CheckConstraint("audience IN ('public', 'employee', 'internal')",
                                      name="ck_published_articles_audience"),)

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(String(16), default="public")
    area: Mapped[str] = mapped_column(String(40), default="general")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Survey(Base):
    """The customer's one-question satisfaction rating after resolution."""

    __tablename__ = "surveys"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="ck_surveys_rating"),
                      Index("ix_surveys_created_at", "created_at"))  # CSAT of a period (migration 0008)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BotOutcome(Base):
    """How a bot conversation ended: self-served (no ticket) or escalated."""

    __tablename__ = "bot_outcomes"
    __table_args__ = (CheckConstraint("outcome IN ('self_served', 'escalated', 'unanswered')",
                                      name="ck_bot_outcomes_outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(120), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    question: Mapped[str] = mapped_column(Text, default="")
    article_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class BlockedSender(Base):
    """An address whose mail is dropped on arrival (set when a ticket is closed as spam)."""

    __tablename__ = "blocked_senders"

    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    ticket_number: Mapped[str | None] = mapped_column(String(20))
    blocked_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SlaPolicy(Base):
    """First-response and resolution targets for one priority."""

    __tablename__ = "sla_policies"
    __table_args__ = (CheckConstraint(_in("priority", PRIORITIES), name="ck_sla_policies_priority"),
                      CheckConstraint("first_response_minutes > 0 AND resolution_minutes > 0",
                                      name="ck_sla_policies_positive"))

    priority: Mapped[str] = mapped_column(String(16), primary_key=True)
    first_response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_minutes: Mapped[int] = mapped_column(Integer)


OUTBOX_KINDS = ("acknowledgement", "assigned", "agent_reply", "resolved", "sla_notice",
                "allocated", "reopened", "close_warning", "closed", "new_ticket", "ticket_digest", "account",
                "attachment_refused")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed")
MAIL_DIRECTIONS = ("in", "out")


class OutboxMail(Base):
    """An e-mail to send, written in the same transaction as the change that caused it.

    The worker claims due ``pending`` rows with a lease, marks a row ``sending`` (only the
    lease holder can) just before the SMTP server receives it and ``sent`` just after; see
    ``escalation/mail/outbox.py``.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_in("kind", OUTBOX_KINDS), name="ck_outbox_kind"),
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="ck_outbox_status"),
        CheckConstraint("attempts >= 0", name="ck_outbox_attempts"),
        UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    to_addr: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    in_reply_to: Mapped[str] = mapped_column(String(250), default="")
    thread_references: Mapped[str] = mapped_column(Text, default="")
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    auto_submitted: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # a mail the worker decides to send (digests, auto-close notices) is written once: two
    # workers deciding the same mail collide on this key and only one row exists
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    # the one-click unsubscribe link (List-Unsubscribe) of a mail to a customer; empty otherwise
    unsubscribe_url: Mapped[str] = mapped_column(Text, default="", server_default="")
    # the files sent with it (an agent's reply: escalation/mail/files.py)
    attachments: Mapped[list[Attachment]] = relationship(secondary="outbox_attachments", order_by="Attachment.id")


class OutboxAttachment(Base):
    """A file an outgoing mail carries; the row goes when either the mail or the file goes."""

    __tablename__ = "outbox_attachments"

    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True)
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id", ondelete="CASCADE"), primary_key=True,
                                               index=True)


class MailMessageId(Base):
    """A Message-ID seen on a ticket's mail, ours (out) or the customer's (in).

    Replies are matched to their ticket through In-Reply-To / References, and an inbound
    message fetched twice is recognised by its id (the unique constraint decides).
    """

    __tablename__ = "mail_message_ids"
    __table_args__ = (CheckConstraint(_in("direction", MAIL_DIRECTIONS), name="ck_mail_message_ids_direction"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MailTemplate(Base):
    """An admin's version of one outgoing mail's templates (``name`` is the mail kind, e.g.
    ``acknowledgement``); without a row the shipped files in ``templates/mail/`` are used.
    See ``escalation/mail/templates_store.py``.
    """

    __tablename__ = "mail_templates"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120))


class CannedResponse(Base):
    """A saved reply agents insert into the reply box (``/admin/canned`` manages them).

    The body may use ``{{ customer_name }}``, ``{{ ticket_number }}`` and ``{{ agent_name }}``;
    they are filled in the console before the agent sends, so what is sent is what was seen.
    """

    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120), unique=True)
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(40), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120))


class DeskSetting(Base):
    """A help-desk switch the admin changes at run time (e.g. ``auto_assign``), stored as
    JSON text so every process sees the same value."""

    __tablename__ = "desk_settings"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120))


SLACK_POST_STATES = ("pending", "sent", "failed")


class SlackPost(Base):
    """A message for Slack (a ticket's thread or the staff channel), a row first.

    Written from the ticket's events by the worker; ``key`` is unique, so an event is turned
    into at most one post however often it is read. The worker sends pending rows and keeps
    the posted message's ``ts`` (the staff announcement is updated when someone takes it).
    """

    __tablename__ = "slack_posts"
    __table_args__ = (CheckConstraint(_in("status", SLACK_POST_STATES), name="ck_slack_posts_status"),
                      Index("ix_slack_posts_status_next_attempt_at", "status", "next_attempt_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(40))
    thread_ts: Mapped[str | None] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    blocks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    ts: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SlackCursor(Base):
    """How far the worker has turned ticket events (and new tickets) into Slack posts."""

    __tablename__ = "slack_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class FigureSnapshot(Base):
    """Desk figures that are slow to compute on a large desk (the dashboard over a period, the
    agents' CSAT and median times), computed by the worker and read by the pages
    (``figure_snapshots.snapshot``); ``payload`` is their JSON form."""

    __tablename__ = "figure_snapshots"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    payload: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    took_ms: Mapped[float] = mapped_column(Float, default=0.0)
