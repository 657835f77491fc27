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
