"""Live ticket events: written with the change, announced after commit, streamed as SSE.

Every message and status change adds a :class:`TicketEvent` row in the same transaction as
the change. After the commit its id is announced on the bus; streams waiting on that ticket
wake up and read the rows after their last id, so a reconnect with ``Last-Event-ID``
resumes exactly and nothing depends on the announcement arriving (it only saves a wait).

Buses: :class:`LocalBus` (threads in one process) and :class:`RedisBus` (several
processes: each subscribes to one Redis channel and relays into its local bus).
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Message, Ticket, TicketEvent

log = logging.getLogger("escalation.events")
CHANNEL = "care:ticket-events"


class LocalBus:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._latest: dict[int, int] = {}

    def announce(self, ticket_id: int, event_id: int) -> None:
        with self._cond:
            self._latest[ticket_id] = max(event_id, self._latest.get(ticket_id, 0))
            self._cond.notify_all()

    def latest(self, ticket_id: int) -> int:
        with self._cond:
            return self._latest.get(ticket_id, 0)

    def wait(self, ticket_id: int, seen: int, timeout: float) -> bool:
        """True when an event newer than ``seen`` (a :meth:`latest` reading) was announced."""
        with self._cond:
            return self._cond.wait_for(lambda: self._latest.get(ticket_id, 0) > seen, timeout)

    def publish(self, ticket_id: int, event_id: int) -> None:
        self.announce(ticket_id, event_id)


class RedisBus(LocalBus):
    def __init__(self, url: str) -> None:
        super().__init__()
        import redis

        self._redis = redis.Redis.from_url(url)
        self._thread = threading.Thread(target=self._listen, name="care-redis-events", daemon=True)
        self._thread.start()

    def publish(self, ticket_id: int, event_id: int) -> None:
        self.announce(ticket_id, event_id)
        try:
            self._redis.publish(CHANNEL, json.dumps([ticket_id, event_id]))
        except Exception as exc:  # noqa: BLE001 — redis errors vary; the stream still polls the DB
            log.warning("could not publish to redis (%s); other processes will see it on their next poll", exc)

    def _listen(self) -> None:
        import time

        import redis

        while True:
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                for item in pubsub.listen():
                    ticket_id, event_id = json.loads(item["data"])
                    self.announce(int(ticket_id), int(event_id))
            except (redis.RedisError, OSError, ValueError) as exc:
                log.warning("redis event relay interrupted (%s); reconnecting", exc)
                time.sleep(1)


def record(session: Session, ticket: Ticket, kind: str, payload: dict[str, Any], *, public: bool = True) -> None:
    """Add an event for ``ticket``; it is announced once the transaction commits."""
    entry = TicketEvent(ticket_id=ticket.id, kind=kind, payload=payload, public=public)
    session.add(entry)
    session.info.setdefault("care_events", []).append(entry)


def message_payload(message: Message) -> dict[str, Any]:
    return {"id": message.id, "author": message.author_type, "author_name": message.author_name,
            "body": message.body, "internal": message.internal, "created_at": message.created_at.isoformat()}


def _after_commit(session: Session) -> None:
    pending: list[TicketEvent] = session.info.pop("care_events", [])
    bus = session.info.get("care_bus")
    if bus is None:
        return
    for entry in pending:
        if entry.id is not None:
            bus.publish(entry.ticket_id, entry.id)


def _after_rollback(session: Session, _transaction: object) -> None:
    session.info.pop("care_events", None)


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL") or ""
    app.extensions["care_bus"] = RedisBus(url) if url else LocalBus()
    if not sa_event.contains(Session, "after_commit", _after_commit):
        sa_event.listen(Session, "after_commit", _after_commit)
        sa_event.listen(Session, "after_soft_rollback", _after_rollback)


def bus() -> LocalBus:
    return current_app.extensions["care_bus"]


def events_after(session: Session, ticket_id: int, after_id: int, *, include_internal: bool) -> list[TicketEvent]:
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id, TicketEvent.id > after_id)
    if not include_internal:
        query = query.where(TicketEvent.public.is_(True))
    return list(session.scalars(query.order_by(TicketEvent.id).limit(500)))


def sse_stream(app: Flask, ticket_id: int, after_id: int, *, include_internal: bool,
               heartbeat: float = 15.0, max_seconds: float = 3600.0) -> Iterator[str]:
    """Yield SSE frames for events after ``after_id``; comments keep idle proxies open."""
    import time

    from .db import db

    started = time.monotonic()
    yield "retry: 2000\n\n"
    bus: LocalBus = app.extensions["care_bus"]
    while time.monotonic() - started < max_seconds:
        seen = bus.latest(ticket_id)
        with app.app_context():
            rows = events_after(db.session, ticket_id, after_id, include_internal=include_internal)
            frames = [(row.id, row.kind, row.payload) for row in rows]
        for event_id, kind, payload in frames:
            after_id = event_id
            yield f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(payload)}\n\n"
        if not frames and not bus.wait(ticket_id, seen, heartbeat):
            yield ": keep-alive\n\n"
