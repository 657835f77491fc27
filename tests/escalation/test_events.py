"""Live events: SSE frames for the customer (no internal notes), resumable with Last-Event-ID."""
from __future__ import annotations

import json
import threading
import time

from escalation import events, tickets
from escalation.db import db
from escalation.models import User

from .conftest import ticket_body


def frames(response, count):
    """Read ``count`` event frames (skipping the retry line and keep-alive comments)."""
    found, buffer = [], ""
    for chunk in response.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            frame, buffer = buffer.split("\n\n", 1)
            fields = dict(line.split(": ", 1) for line in frame.splitlines() if not line.startswith(":"))
            if "id" in fields:
                found.append({"id": int(fields["id"]), "event": fields["event"], "data": json.loads(fields["data"])})
        if len(found) >= count:
            response.close()
            return found
    return found


def handed_over(app, client, bot_headers):
    opened = client.post("/api/v1/tickets", json=ticket_body(),
                         headers={**bot_headers, "Idempotency-Key": "ev"}).get_json()
    with app.app_context():
        ticket = tickets.get_by_number(db.session, opened["number"])
        tim = db.session.query(User).filter_by(username="tim").one()
        tickets.assign(db.session, ticket, tim, "kim")
        tickets.acknowledge(db.session, ticket, tim)
        tickets.reply(db.session, ticket, tim, "secret remark", internal=True)
        tickets.reply(db.session, ticket, tim, "Hello Laura, Tim here.")
        db.session.commit()
    return opened


def test_customer_stream_has_public_events_only(app, client, bot_headers):
    opened = handed_over(app, client, bot_headers)
    got = frames(client.get(f"/api/v1/conversations/{opened['token']}/events"), 5)
    kinds = [(f["event"], f["data"].get("status") or f["data"].get("agent") or f["data"].get("body")) for f in got]
    assert kinds == [("status", "assigned"), ("status", "acknowledged"), ("agent_joined", "Tim Agent"),
                     ("status", "waiting_on_customer"), ("message", "Hello Laura, Tim here.")]
    assert all("secret" not in json.dumps(f["data"]) for f in got)
    assert [f["id"] for f in got] == sorted(f["id"] for f in got)


def test_resume_with_last_event_id_loses_and_repeats_nothing(app, client, bot_headers):
    opened = handed_over(app, client, bot_headers)
    url = f"/api/v1/conversations/{opened['token']}/events"
    first = frames(client.get(url), 5)
    resumed = frames(client.get(url, headers={"Last-Event-ID": str(first[2]["id"])}), 2)
    assert resumed == first[3:]


def test_stream_wakes_up_when_an_agent_writes(app, client, bot_headers):
    opened = handed_over(app, client, bot_headers)
    url = f"/api/v1/conversations/{opened['token']}/events"
    last = frames(client.get(url), 5)[-1]["id"]

    def agent_writes_later():
        time.sleep(0.3)
        with app.app_context():
            ticket = tickets.get_by_number(db.session, opened["number"])
            tim = db.session.query(User).filter_by(username="tim").one()
            tickets.reply(db.session, ticket, tim, "Are you still there?")
            db.session.commit()

    writer = threading.Thread(target=agent_writes_later)
    writer.start()
    got = frames(client.get(url, headers={"Last-Event-ID": str(last)}), 2)
    writer.join()
    assert [f["data"].get("body") for f in got if f["event"] == "message"] == ["Are you still there?"]


def test_agent_stream_includes_internal_notes(app, client, bot_headers, auth):
    opened = handed_over(app, client, bot_headers)
    auth.login("tim")
    got = frames(client.get(f"/agent/tickets/{opened['number']}/events"), 6)
    bodies = [f["data"]["body"] for f in got if f["event"] == "message"]
    assert bodies == ["secret remark", "Hello Laura, Tim here."]


def test_local_bus_wait_returns_on_announce():
    bus = events.LocalBus()
    seen = bus.latest(7)
    threading.Timer(0.1, bus.publish, args=(7, 42)).start()
    assert bus.wait(7, seen, timeout=5) is True
    assert bus.latest(7) == 42
    assert bus.wait(7, 42, timeout=0.05) is False


def wait_until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


class CountedSeen(int):
    """A ``seen`` value that counts how often the bus compares it (once per wake-up)."""

    def __new__(cls, value):
        self = super().__new__(cls, value)
        self.checks = 0
        return self

    def __lt__(self, other):
        self.checks += 1
        return int(self) < other

    def __gt__(self, other):
        self.checks += 1
        return int(self) > other


def test_announcing_one_ticket_does_not_wake_the_waiters_of_another():
    bus = events.LocalBus()
    result = {}
    seen_b = CountedSeen(bus.latest(2))
    waiter_b = threading.Thread(target=lambda: result.update(b=bus.wait(2, seen_b, timeout=1.0)))
    waiter_a = threading.Thread(target=lambda: result.update(a=bus.wait(1, bus.latest(1), timeout=30)))
    waiter_b.start()
    waiter_a.start()
    wait_until(lambda: bus.waiting(2) == 1 and bus.waiting(1) == 1)
    announced = 0
    while waiter_b.is_alive():
        announced += 1
        bus.announce(1, announced)
        time.sleep(0.002)
    waiter_a.join(30)
    assert result == {"a": True, "b": False}
    assert announced >= 20
    # B's condition was checked on entry and once at its timeout, never per announcement on A
    assert seen_b.checks <= 4, f"ticket 2's waiter woke {seen_b.checks} times for {announced} announcements on ticket 1"
    assert bus.latest(1) == announced and bus.latest(2) == 0


def test_waiter_entries_are_removed_when_the_last_waiter_leaves():
    bus = events.LocalBus()
    results = []
    threads = [threading.Thread(target=lambda t=t: results.append((t, bus.wait(t, 0, timeout=0.5 if t == 2 else 30))))
               for t in (1, 1, 1, 2)]
    for thread in threads:
        thread.start()
    wait_until(lambda: bus.waiting(1) == 3)
    bus.announce(1, 10)
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [(1, True), (1, True), (1, True), (2, False)]
    assert bus.waiting() == 0
    assert bus._waiters == {}
    assert bus.latest(1) == 10  # still readable without waiters
    assert bus.wait(1, 5, timeout=0) is True  # already newer: returns at once, registers nothing
    assert bus._waiters == {}


def test_shared_queries_single_flight_and_failures():
    shared = events.SharedQueries(max_entries=4)
    calls = []
    release = threading.Event()

    def slow_load():
        calls.append(1)
        release.wait(30)
        return [(5, "message", '{"body": "hi"}')]

    results = []
    threads = [threading.Thread(target=lambda: results.append(shared.get((1, 0, False, 5), slow_load, max_age=30)))
               for _ in range(10)]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(calls) == 1)
    time.sleep(0.1)
    release.set()
    for thread in threads:
        thread.join(30)
    assert len(calls) == 1 and results == [((5, "message", '{"body": "hi"}'),)] * 10
    # expired: read again
    assert shared.get((1, 0, False, 5), lambda: [], max_age=0) == ()

    def failing():
        raise RuntimeError("db down")

    try:
        shared.get((2, 0, False, 1), failing, max_age=30)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the leader's error must reach it")
    assert shared.get((2, 0, False, 1), lambda: [(1, "status", "{}")], max_age=30) == ((1, "status", "{}"),)
    for n in range(10):
        shared.get((3, n, False, 1), lambda: [], max_age=30)
    assert len(shared) <= 4


def test_many_watchers_of_one_ticket_share_one_query_per_event(app, client, bot_headers, monkeypatch):
    from sqlalchemy import event as sa_event

    from escalation.models import Ticket

    monkeypatch.setattr(events, "SHARED_QUERY_TTL", 30.0)
    opened = handed_over(app, client, bot_headers)
    with app.app_context():
        ticket_id = tickets.get_by_number(db.session, opened["number"]).id
        start = max(row.id for row in events.events_after(db.session, ticket_id, 0, include_internal=True))
    bus = app.extensions["care_bus"]
    customers, agents = 12, 4
    received = {}

    def watch(name, include_internal, expected):
        stream = events.sse_stream(app, ticket_id, start, include_internal=include_internal, heartbeat=60)
        got = received.setdefault(name, [])
        try:
            for chunk in stream:
                if chunk.startswith("id: "):
                    lines = dict(line.split(": ", 1) for line in chunk.strip().splitlines())
                    got.append((int(lines["id"]), lines["event"], json.loads(lines["data"])))
                    if len(got) == expected:
                        return
        finally:
            stream.close()

    watchers = [threading.Thread(target=watch, args=(f"customer-{n}", False, 2), name=f"watcher-c{n}", daemon=True)
                for n in range(customers)]
    watchers += [threading.Thread(target=watch, args=(f"agent-{n}", True, 3), name=f"watcher-a{n}", daemon=True)
                 for n in range(agents)]
    for thread in watchers:
        thread.start()
    wait_until(lambda: bus.waiting(ticket_id) == customers + agents)

    queries = []

    def count(_conn, _cursor, statement, _params, _context, _many):
        if threading.current_thread().name.startswith("watcher") and "ticket_events" in statement:
            queries.append(statement)

    engine = app.extensions["care_engine"]
    sa_event.listen(engine, "before_cursor_execute", count)
    written = []
    try:
        for body, public in (("first", True), ("internal", False), ("second", True)):
            with app.app_context():
                ticket = db.session.get(Ticket, ticket_id)
                events.record(db.session, ticket, "message", {"body": body}, public=public)
                db.session.commit()
                written.append(max(row.id for row in events.events_after(db.session, ticket_id, 0,
                                                                         include_internal=True)))
            wait_until(lambda: all(len(received.get(f"agent-{n}", [])) == len(written) for n in range(agents)))
            wait_until(lambda: bus.waiting(ticket_id) == customers + agents or not any(t.is_alive() for t in watchers))
        for thread in watchers:
            thread.join(30)
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)

    assert not any(thread.is_alive() for thread in watchers)
    first, internal, second = written
    for n in range(customers):
        assert received[f"customer-{n}"] == [(first, "message", {"body": "first"}),
                                             (second, "message", {"body": "second"})]
    for n in range(agents):
        assert received[f"agent-{n}"] == [(first, "message", {"body": "first"}),
                                          (internal, "message", {"body": "internal"}),
                                          (second, "message", {"body": "second"})]
    # at most one read per event for the customers' streams and one for the agents', not one per stream
    assert 1 <= len(queries) <= 2 * len(written), queries
    assert bus.waiting(ticket_id) == 0 and ticket_id not in bus._waiters
