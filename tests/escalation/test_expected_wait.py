"""Expected wait: one computation for the bot's answer, the acknowledgement, /track and the portal."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from escalation import desk_settings, expected_wait, tickets
from escalation.db import db
from escalation.errors import ValidationFailed
from escalation.models import OutboxMail, User

from .conftest import ticket_body

MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text,normalised", [
    ("", ""), ("24/7", ""), ("Mon-Fri 09:00-17:00", "Mon,Tue,Wed,Thu,Fri 09:00-17:00"),
    ("mon,wed 8:00-12:30", "Mon,Wed 08:00-12:30"), ("Fri-Mon 10:00-14:00", "Mon,Fri,Sat,Sun 10:00-14:00"),
    ("Daily 10:00-18:00", "Mon,Tue,Wed,Thu,Fri,Sat,Sun 10:00-18:00"),
])
def test_working_hours_are_parsed(text, normalised):
    assert expected_wait.parse_hours(text).text == normalised


@pytest.mark.parametrize("text", ["weekdays", "Mon-Fri 17:00-09:00", "Mon-Fri 25:00-26:00", "Funday 09:00-10:00"])
def test_bad_working_hours_are_refused_with_a_hint(text):
    with pytest.raises(ValidationFailed):
        expected_wait.parse_hours(text)


def test_open_and_next_opening():
    hours = expected_wait.parse_hours("Mon-Fri 09:00-17:00")
    assert hours.open_at(MONDAY_10) and not hours.open_at(MONDAY_10.replace(hour=18))
    friday_night = MONDAY_10 + timedelta(days=4, hours=9)
    assert hours.next_open(friday_night) == datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)


def set_presence(presence: str) -> None:
    for agent in db.session.scalars(select(User).where(User.role == "agent")):
        agent.presence = presence


def test_the_wait_depends_on_the_queue_the_agents_online_and_the_hours(app):
    with app.app_context():
        for i in range(3):
            tickets.open_ticket(db.session, name="C", email=f"c{i}@example.com", subject="q")
        set_presence("offline")
        db.session.commit()
        nobody = expected_wait.estimate(db.session, priority="normal", now=MONDAY_10 + timedelta(days=400))
        assert (nobody.queue_ahead, nobody.agents_online, nobody.estimate) == (3, 0, nobody.target)
        assert nobody.sentence().startswith("No agent is online right now (3 requests ahead of yours)")
        set_presence("online")
        db.session.commit()
        online = expected_wait.estimate(db.session, priority="normal", now=MONDAY_10 + timedelta(days=400))
        assert online.agents_online >= 2 and online.estimate <= online.target
        assert "3 requests ahead of yours" in online.sentence() and "agents online now" in online.sentence()
        desk_settings.set_value(db.session, "desk_hours", "Mon-Fri 09:00-17:00", "kim")
        closed = expected_wait.estimate(db.session, priority="normal", now=MONDAY_10.replace(hour=20))
        assert not closed.open_now and closed.opens_at == MONDAY_10.replace(day=1, month=12, hour=9)
        assert "outside working hours" in closed.sentence() and "Tuesday 09:00 UTC" in closed.sentence()


def test_the_bot_the_acknowledgement_and_track_say_when_to_expect_a_reply(app, client, bot_headers):
    opened = client.post("/api/v1/tickets", json=ticket_body(), headers={**bot_headers, "Idempotency-Key": "w"})
    wait = opened.get_json()["expected_wait"]
    assert wait["target_minutes"] > 0 and wait["queue_ahead"] == 0 and wait["text"]
    with app.app_context():
        ack = db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "acknowledgement"))
        assert wait["text"] in ack.body_text
    page = client.post("/track", data={"number": opened.get_json()["number"], "email": "laura@example.com"})
    assert 'data-testid="expected-wait"' in page.text


def test_the_admin_sets_the_hours(app, client, auth):
    auth.login("kim")
    assert client.post("/admin/notifications", data={"form": "hours", "desk_hours": "Mon-Fri 09:00-17:00"}
                       ).status_code == 303
    with app.app_context():
        assert desk_settings.get(db.session, "desk_hours") == "Mon,Tue,Wed,Thu,Fri 09:00-17:00"
    page = client.post("/admin/notifications", data={"form": "hours", "desk_hours": "whenever"},
                       follow_redirects=True)
    assert "like “Mon-Fri 09:00-17:00”" in page.text
