"""Many people, one cause: 20 lock-out tickets linked to one problem, one resolution, and
one message for each person in their own channel (Slack thread, live chat, e-mail), none twice."""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from escalation import problems, tickets
from escalation.db import db
from escalation.errors import ValidationFailed
from escalation.models import Message, OutboxMail, Ticket, TicketEvent, User

from .test_slack import slack, worker_pass  # noqa: F401  (the fake Slack fixture)

FIX = "The security update left work profiles unconfirmed; we re-enrolled every profile. Sign in again."
CHANNELS = ["slack"] * 7 + ["web_chat"] * 7 + ["email"] * 6


def open_lockout(client, bot_headers, n: int, channel: str) -> str:
    body = {"name": f"Employee {n}", "email": f"employee{n}@northwind.example", "channel": channel,
            "subject": "Locked out of my profile since the security update"}
    if channel == "slack":
        body["slack"] = {"team": "T0", "channel": f"D{n:03d}", "thread_ts": f"17000000{n:02d}.000100", "user": f"U{n:03d}"}
    response = client.post("/api/v1/tickets", json=body, headers={**bot_headers, "Idempotency-Key": f"lock-{n}"})
    assert response.status_code == 201
    return str(response.get_json()["number"])


def test_resolving_the_problem_tells_each_person_once_in_their_channel(app, client, bot_headers, auth, slack):  # noqa: F811
    numbers = {open_lockout(client, bot_headers, n, channel): channel for n, channel in enumerate(CHANNELS)}
    problem_number = open_lockout(client, bot_headers, 99, "web_chat")
    with app.app_context():
        tim = db.session.scalar(select(User).where(User.username == "tim"))
        kim = db.session.scalar(select(User).where(User.username == "kim"))
        problem = tickets.get_by_number(db.session, problem_number)
        tickets.assign(db.session, problem, tim, kim)
        tickets.acknowledge(db.session, problem, tim)
        for number in numbers:
            problems.link(db.session, tickets.get_by_number(db.session, number), problem, kim)
        db.session.commit()
        mails_before = db.session.scalar(select(func.max(OutboxMail.id)))
        events_before = db.session.scalar(select(func.max(TicketEvent.id)))
    worker_pass(app)  # the announcements etc. go out before the resolution
    posts_before = slack.mark()

    auth.login("kim")
    page = client.get("/admin/?status=open").get_data(as_text=True)
    assert "problem · 20 linked" in page
    auth.logout()
    auth.login("tim")
    response = client.post(f"/agent/tickets/{problem_number}/resolve", data={"resolution": FIX})
    assert response.status_code == 302
    for _ in range(3):
        worker_pass(app)  # more passes post nothing more

    with app.app_context():
        rows = db.session.scalars(select(Ticket).where(Ticket.number.in_(numbers))).unique().all()
        assert {(t.status, t.owner, t.resolution) for t in rows} == {("resolved", "bot", FIX)}
        by_channel: dict[str, Counter] = {"slack": Counter(), "web_chat": Counter(), "email": Counter()}
        for event in db.session.scalars(select(TicketEvent).where(TicketEvent.id > events_before,
                                                                  TicketEvent.kind == "message")):
            ticket = db.session.get(Ticket, event.ticket_id)
            # the live chat's stream carries it (an e-mail ticket's thread has it too, but no stream)
            if ticket.channel == "web_chat" and ticket.number in numbers and event.public \
                    and event.payload["body"] == FIX:
                by_channel["web_chat"][ticket.number] += 1
        for mail in db.session.scalars(select(OutboxMail).where(OutboxMail.id > mails_before)):
            ticket = db.session.get(Ticket, mail.ticket_id)
            if ticket.number in numbers:
                by_channel["email"][ticket.number] += 1
                assert FIX in mail.body_text
        for call in slack.posts(since=posts_before):
            for number in numbers:
                if number in call.text and "resolved" in call.text:
                    by_channel["slack"][number] += 1
                    assert FIX in call.text and call.params["thread_ts"].startswith("17000000")
        assert db.session.scalar(select(func.count()).select_from(Message).where(Message.body == FIX)) == 20

    for channel in ("slack", "web_chat", "email"):
        expected = {number: 1 for number, c in numbers.items() if c == channel}
        assert dict(by_channel[channel]) == expected, channel  # each person once, in their channel


def test_links_are_one_level_and_open_only(app, client, bot_headers):
    a, b, c = (open_lockout(client, bot_headers, n, "web_chat") for n in (1, 2, 3))
    with app.app_context():
        kim = db.session.scalar(select(User).where(User.username == "kim"))
        ta, tb, tc = (tickets.get_by_number(db.session, n) for n in (a, b, c))
        problems.link(db.session, ta, tb, kim)
        with pytest.raises(ValidationFailed):
            problems.link(db.session, tc, ta, kim)  # a is linked itself
        with pytest.raises(ValidationFailed):
            problems.link(db.session, tb, tc, kim)  # b is a problem with a linked ticket
        with pytest.raises(ValidationFailed):
            problems.link(db.session, tc, tc, kim)


def test_the_admin_links_a_ticket_from_its_page(app, client, bot_headers, auth):
    a, b = (open_lockout(client, bot_headers, n, "email") for n in (1, 2))
    auth.login("kim")
    assert client.post(f"/admin/tickets/{a}/problem", data={"problem": b}).status_code == 302
    assert "Linked to problem" in client.get(f"/admin/tickets/{a}").get_data(as_text=True)
    assert "1 linked ticket(s)" in client.get(f"/admin/tickets/{b}").get_data(as_text=True)
