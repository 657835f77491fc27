"""Live ticket events: written with the change, announced after commit, streamed as SSE.

Every message and status change adds a :class:`TicketEvent` row in the same transaction as
the change. After the commit its id is announced on the bus; streams waiting on that ticket
wake up and read the rows after their last id, so a reconnect with ``Last-Event-ID``
resumes exactly and nothing depends on the announcement arriving (it only saves a wait).
An announcement wakes only the streams of its ticket, and those streams share one read of
the new rows (:class:`SharedQueries`) instead of one query each.

Buses: :class:`LocalBus` (threads in one process) and :class:`RedisBus` (several
processes: each subscribes to one Redis channel and relays into its local bus).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Message, Ticket, TicketEvent

log = logging.getLogger("escalation.events")
CHANNEL = "care:ticket-events"


class _Waiters:
    """The streams waiting on one ticket: a condition on the bus's lock, and how many wait."""

    __slots__ = ("cond", "count")

    def __init__(self, lock: threading.Lock) -> None:
        self.cond = threading.Condition(lock)
        self.count = 0


class LocalBus:
    """Latest announced event id per ticket; waiters wake only for their own ticket.

    One lock guards everything, but each ticket with waiters has its own condition, so an
    announcement on ticket A wakes A's waiters only. The condition is dropped when its last
    waiter leaves; ``latest`` (one int per ticket announced in this process) stays readable.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[int, int] = {}
        self._waiters: dict[int, _Waiters] = {}

    def announce(self, ticket_id: int, event_id: int) -> None:
        with self._lock:
            self._latest[ticket_id] = max(event_id, self._latest.get(ticket_id, 0))
            waiters = self._waiters.get(ticket_id)
            if waiters is not None:
                waiters.cond.notify_all()

    def latest(self, ticket_id: int) -> int:
        with self._lock:
            return self._latest.get(ticket_id, 0)

    def wait(self, ticket_id: int, seen: int, timeout: float | None) -> bool:
        """True when an event newer than ``seen`` (a :meth:`latest` reading) was announced."""
        with self._lock:
            if self._latest.get(ticket_id, 0) > seen:
                return True
            waiters = self._waiters.get(ticket_id)
            if waiters is None:
                waiters = self._waiters[ticket_id] = _Waiters(self._lock)
            waiters.count += 1
            try:
                return waiters.cond.wait_for(lambda: self._latest.get(ticket_id, 0) > seen, timeout)
            finally:
                waiters.count -= 1
                if waiters.count == 0 and self._waiters.get(ticket_id) is waiters:
                    del self._waiters[ticket_id]

    def waiting(self, ticket_id: int | None = None) -> int:
        """Streams waiting now, on ``ticket_id`` or on all tickets (for tests and metrics)."""
        with self._lock:
            if ticket_id is not None:
                waiters = self._waiters.get(ticket_id)
                return waiters.count if waiters is not None else 0
            return sum(waiters.count for waiters in self._waiters.values())

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
            "body": message.body, "internal": message.internal, "created_at": message.created_at.isoformat(),
            "attachments": [{"id": a.id, "name": a.filename, "size": a.size, "content_type": a.content_type}
                            for a in message.attachments]}


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
    app.extensions["care_shared_queries"] = SharedQueries()
    if not sa_event.contains(Session, "after_commit", _after_commit):
        sa_event.listen(Session, "after_commit", _after_commit)
        sa_event.listen(Session, "after_soft_rollback", _after_rollback)


PAGE = 500
"""Most events one stream read returns; a full page is followed by another read at once."""


def events_after(session: Session, ticket_id: int, after_id: int, *, include_internal: bool) -> list[TicketEvent]:
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id, TicketEvent.id > after_id)
    if not include_internal:
        query = query.where(TicketEvent.public.is_(True))
    return list(session.scalars(query.order_by(TicketEvent.id).limit(PAGE)))


Frame = tuple[int, str, str]
"""One event as a stream sends it: (id, kind, payload as JSON text) — immutable plain data."""

SHARED_QUERY_TTL = 1.0
"""Seconds a shared :func:`events_after` result may be reused (capped at half the heartbeat)."""


class _Flight:
    __slots__ = ("done", "frames", "finished_at")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.frames: tuple[Frame, ...] | None = None
        self.finished_at = 0.0


class SharedQueries:
    """Single-flight, short-lived cache of stream reads, shared by the threads of one process.

    The key is (ticket_id, after_id, include_internal, latest announced id read *before* the
    query): the watchers of one ticket woken by one announcement all ask the same thing, the
    first runs the query and the others wait for and reuse its frames. A result is reused for
    at most ``max_age`` seconds (below the heartbeat), so a stream that re-reads after a
    heartbeat because an announcement never came still reads the database afresh. A failed
    query is not shared: each waiter then runs its own.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        self._lock = threading.Lock()
        self._flights: OrderedDict[tuple[int, int, bool, int], _Flight] = OrderedDict()
        self._max_entries = max_entries

    def get(self, key: tuple[int, int, bool, int], load: Callable[[], list[Frame]], *,
            max_age: float, wait: float = 60.0) -> tuple[Frame, ...]:
        now = time.monotonic()
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None and flight.done.is_set() and now - flight.finished_at > max_age:
                del self._flights[key]
                flight = None
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
                self._prune(now, max_age)
        if leader:
            try:
                flight.frames = tuple(load())
                return flight.frames
            finally:
                flight.finished_at = time.monotonic()
                if flight.frames is None:
                    self._forget(key, flight)
                flight.done.set()
        if flight.done.wait(wait) and flight.frames is not None:
            return flight.frames
        return tuple(load())  # the leader failed or hangs: read on our own

    def __len__(self) -> int:
        with self._lock:
            return len(self._flights)

    def _forget(self, key: tuple[int, int, bool, int], flight: _Flight) -> None:
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]

    def _prune(self, now: float, max_age: float) -> None:
        """Drop finished entries past ``max_age`` (oldest first), then the oldest over the cap."""
        for key in [key for key, flight in self._flights.items()
                    if flight.done.is_set() and now - flight.finished_at > max_age]:
            del self._flights[key]
        while len(self._flights) > self._max_entries:
            self._flights.popitem(last=False)


def event_frames(session: Session, ticket_id: int, after_id: int, *, include_internal: bool) -> list[Frame]:
    """The frames after ``after_id``, as plain data detached from the session."""
    rows = events_after(session, ticket_id, after_id, include_internal=include_internal)
    return [(row.id, row.kind, json.dumps(row.payload)) for row in rows]


def sse_stream(app: Flask, ticket_id: int, after_id: int, *, include_internal: bool,
               heartbeat: float = 15.0, max_seconds: float = 3600.0,
               on_delivered: Callable[[int], None] | None = None) -> Iterator[str]:
    """Yield SSE frames for events after ``after_id``; comments keep idle proxies open.

    The watchers of one ticket share their reads (:class:`SharedQueries`): one query per
    announcement and process, not one per open stream. ``on_delivered(last_id)`` runs once
    the server has taken a batch of frames (the generator resumes only after it wrote them):
    the customer's stream uses it to mark what was seen live (no e-mail for it).
    """
    from .db import db

    started = time.monotonic()
    yield "retry: 2000\n\n"
    bus: LocalBus = app.extensions["care_bus"]
    shared: SharedQueries = app.extensions["care_shared_queries"]
    max_age = min(SHARED_QUERY_TTL, heartbeat / 2)

    def load(after: int) -> list[Frame]:
        with app.app_context():
            return event_frames(db.session, ticket_id, after, include_internal=include_internal)

    while time.monotonic() - started < max_seconds:
        seen = bus.latest(ticket_id)
        frames = shared.get((ticket_id, after_id, include_internal, seen),
                            lambda after=after_id: load(after), max_age=max_age)
        for event_id, kind, data in frames:
            after_id = event_id
            yield f"id: {event_id}\nevent: {kind}\ndata: {data}\n\n"
        if frames and on_delivered is not None:
            on_delivered(after_id)
        if len(frames) >= PAGE:
            continue  # a full page: more may be waiting already
        # The read above started after ``seen`` was announced, so it holds every event up to
        # ``seen``; a later event's announcement makes ``wait`` return at once. No second
        # read just to find the page empty.
        if not bus.wait(ticket_id, seen, heartbeat):
            yield ": keep-alive\n\n"
