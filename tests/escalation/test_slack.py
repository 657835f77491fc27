"""The desk in Slack, against the fake Slack Web API: a ticket from Slack keeps its thread,
new tickets are announced in the staff channel, a button takes a ticket (one owner when two
click), agent replies and status changes reach the person's thread, the rating buttons, the
signature check and Slack's 429."""
from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from escalation import tickets
from escalation.db import db
from escalation.models import SlackPost, Survey, Ticket, User, utcnow
from escalation.slack import notify

from ..slack.fake_slack import SIGNING_SECRET, TEAM, FakeSlack, signature

AUSTIN, TERRENCE, TIM, STRANGER = "U0AUSTIN", "U0TERRENCE", "U0TIM", "U0STRANGER"
DM, THREAD, DESK = "D0AUSTIN", "1700000000.000100", "C0DESK"


@pytest.fixture
def slack(app: Flask) -> Iterator[FakeSlack]:
    fake = FakeSlack(users={AUSTIN: {"name": "Austin Coy", "email": "austin.coy@northwind.example"},
                            TERRENCE: {"name": "Terrence A", "email": "Terrence@support.example.com"},
                            TIM: {"name": "Tim A", "email": "tim@support.example.com"},
                            STRANGER: {"name": "Sam Else", "email": "sam@elsewhere.example"}})
    with fake:
        app.config.update({key.removeprefix("CARE_"): value for key, value in fake.env(DESK).items()})
        worker_pass(app)  # the cursors start here: only what happens from now on is posted
        yield fake


def worker_pass(app: Flask) -> notify.Delivery:
    with app.app_context():
        return notify.run_pass(app, db.session)


def slack_ticket(client: FlaskClient, bot_headers: dict[str, str], **slack: str) -> str:
    body = {"name": "Austin Coy", "email": "austin.coy@northwind.example", "channel": "slack",
            "conversation_id": f"{AUSTIN}_{DM}_{THREAD}",
            "transcript": [{"sender": "user", "text": "I can't log in to my profile since the security update"}],
            "slack": {"team": TEAM, "channel": DM, "thread_ts": THREAD, "user": AUSTIN, **slack}}
    response = client.post("/api/v1/tickets", json=body, headers={**bot_headers, "Idempotency-Key": THREAD})
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["number"])


def press(client: FlaskClient, user: str, action_id: str, value: str, *, channel: str = DESK,
          message_ts: str = "1.000001", secret: str = SIGNING_SECRET, timestamp: int | None = None) -> Any:
    """A signed button click, as Slack sends it (through the Flask test client)."""
    payload = {"type": "block_actions", "user": {"id": user}, "channel": {"id": channel},
               "container": {"message_ts": message_ts}, "actions": [{"action_id": action_id, "value": value}]}
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return client.post("/slack/interactivity", data=body, content_type="application/x-www-form-urlencoded",
                       headers={"X-Slack-Request-Timestamp": stamp,
                                "X-Slack-Signature": signature(secret, stamp, body)})


def ticket(app: Flask, number: str) -> Ticket:
    with app.app_context():
        found = db.session.scalar(select(Ticket).where(Ticket.number == number))
        assert found is not None
        db.session.expunge_all()
        return found


def test_a_slack_ticket_keeps_workspace_channel_thread_and_person(app, client, bot_headers, slack):
    number = slack_ticket(client, bot_headers)
    found = ticket(app, number)
    assert (found.channel, found.slack_team, found.slack_channel, found.slack_thread_ts, found.slack_user) == \
        ("slack", TEAM, DM, THREAD, AUSTIN)


@pytest.mark.parametrize("channel, slack", [("slack", None), ("web_chat", {"channel": DM, "thread_ts": THREAD,
                                                                          "user": AUSTIN})])
def test_only_slack_tickets_have_a_thread(client, bot_headers, channel, slack):
    body = {"name": "A", "email": "a@example.com", "channel": channel, "slack": slack}
    response = client.post("/api/v1/tickets", json=body, headers={**bot_headers, "Idempotency-Key": channel})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "validation_failed"


def test_a_new_ticket_is_announced_once_in_the_staff_channel(app, client, bot_headers, slack):
    number = slack_ticket(client, bot_headers)
    worker_pass(app)
    worker_pass(app)
    announced = slack.posts(DESK)
    assert len(announced) == 1
    assert number in announced[0].text and "security update" in announced[0].text
    buttons = [e for b in announced[0].params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(b["action_id"], b["value"]) for b in buttons] == [("care_take", number)]
    assert f"http://care.test/agent/tickets/{number}" in str(announced[0].params["blocks"])


def test_the_button_takes_the_ticket_and_a_second_click_is_told_who_has_it(app, client, bot_headers, slack):
    number = slack_ticket(client, bot_headers)
    worker_pass(app)
    ts = slack.posts(DESK)[0].params["ts"]
    assert press(client, TERRENCE, "care_take", number, message_ts=ts).status_code == 200
    taken = ticket(app, number)
    with app.app_context():
        terrence = db.session.scalar(select(User).where(User.username == "terrence"))
    assert (taken.assignee_id, taken.status, taken.owner) == (terrence.id, "acknowledged", "agent")
    update = slack.posts(DESK, method="chat.update")
    assert len(update) == 1 and update[0].params["ts"] == ts and "Terrence Agent" in update[0].text

    assert press(client, TIM, "care_take", number, message_ts=ts).status_code == 200
    assert ticket(app, number).assignee_id == terrence.id  # still Terrence's
    told = slack.posts(DESK, method="chat.postEphemeral")
    assert [(c.params["user"], "Terrence Agent" in c.text) for c in told] == [(TIM, True)]


def test_someone_without_a_desk_account_cannot_take_a_ticket(app, client, bot_headers, slack):
    number = slack_ticket(client, bot_headers)
    assert press(client, STRANGER, "care_take", number).status_code == 200
    assert ticket(app, number).assignee_id is None
    assert "not a desk account" in slack.posts(DESK, method="chat.postEphemeral")[0].text


@pytest.mark.parametrize("secret, age", [("not-the-secret", 0), (SIGNING_SECRET, 600)])
def test_a_click_without_a_valid_signature_is_refused(app, client, bot_headers, slack, secret, age):
    number = slack_ticket(client, bot_headers)
    response = press(client, TERRENCE, "care_take", number, secret=secret, timestamp=int(time.time()) - age)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "bad_slack_signature"
    assert ticket(app, number).assignee_id is None


def test_replies_and_status_changes_reach_the_persons_thread(app, client, bot_headers, slack):
    number = slack_ticket(client, bot_headers)
    worker_pass(app)
    press(client, TERRENCE, "care_take", number)
    with app.app_context():
        found = db.session.scalar(select(Ticket).where(Ticket.number == number))
        terrence = db.session.scalar(select(User).where(User.username == "terrence"))
        tickets.reply(db.session, found, terrence, "Internal: check the SSO logs", internal=True)
        tickets.reply(db.session, found, terrence, "Try signing out of every device, then in again.")
        db.session.commit()
    worker_pass(app)
    worker_pass(app)
    thread = [c.text for c in slack.posts(DM, THREAD)]
    assert thread == [f"Your ticket {number} is with Terrence Agent from the IT desk; they will answer here.",
                      "Terrence Agent: Try signing out of every device, then in again."]

    with app.app_context():
        found = db.session.scalar(select(Ticket).where(Ticket.number == number))
        tickets.resolve(db.session, found, found.assignee, "Re-enrolled the profile after the update.")
        db.session.commit()
    worker_pass(app)
    resolved = slack.posts(DM, THREAD)[-1]
    assert "resolved: Re-enrolled the profile" in resolved.text
    values = [e["value"] for b in resolved.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert values == [f"{number}:5", f"{number}:3", f"{number}:1"]

    assert press(client, STRANGER, "care_rate_5", f"{number}:5", channel=DM).status_code == 200
    assert press(client, AUSTIN, "care_rate_5", f"{number}:5", channel=DM).status_code == 200
    assert press(client, AUSTIN, "care_rate_1", f"{number}:1", channel=DM).status_code == 200
    with app.app_context():
        assert [s.rating for s in db.session.scalars(select(Survey))] == [5]
    told = [(c.params["user"], c.text) for c in slack.posts(DM, method="chat.postEphemeral")]
    assert [user for user, _ in told] == [STRANGER, AUSTIN]  # not theirs; already rated


def test_a_message_in_the_thread_joins_the_ticket_only_while_a_person_holds_it(app, client, bot_headers, slack):
    number = slack_ticket(client, bot_headers)
    message = {"team": TEAM, "channel": DM, "thread_ts": THREAD, "user": AUSTIN, "text": "Still locked out."}
    response = client.post("/api/v1/slack/thread-messages", json=message, headers=bot_headers)
    assert response.status_code == 201 and response.get_json()["ticket"] == number
    assert client.post("/api/v1/slack/thread-messages", json={**message, "user": STRANGER},
                       headers=bot_headers).status_code == 404
    assert client.post("/api/v1/slack/thread-messages", json={**message, "thread_ts": "9.9"},
                       headers=bot_headers).status_code == 404
    assert client.post("/api/v1/slack/thread-messages", json=message).status_code == 401
    with app.app_context():
        found = db.session.scalar(select(Ticket).where(Ticket.number == number))
        assert [m.body for m in found.messages] == ["Still locked out."]
        terrence = db.session.scalar(select(User).where(User.username == "terrence"))
        tickets.assign(db.session, found, terrence, "kim")
        tickets.acknowledge(db.session, found, terrence)
        tickets.resolve(db.session, found, terrence, "Fixed.")
        db.session.commit()
    # resolved: the bot has the conversation again
    assert client.post("/api/v1/slack/thread-messages", json=message, headers=bot_headers).status_code == 404


def test_a_rate_limited_post_waits_for_retry_after(app, client, bot_headers, slack):
    slack.rate_limit("chat.postMessage", retry_after=30)
    number = slack_ticket(client, bot_headers)
    delivery = worker_pass(app)
    assert delivery.rate_limited == 30 and delivery.sent == []
    worker_pass(app)  # within Retry-After: not tried again
    assert [c.status for c in slack.calls if c.method == "chat.postMessage"] == [429]
    with app.app_context():
        post = db.session.scalar(select(SlackPost).where(SlackPost.key.like("announce:%")))
        assert post.status == "pending" and post.next_attempt_at > utcnow() + timedelta(seconds=25)
        post.next_attempt_at = utcnow()  # as if the 30 seconds had passed
        db.session.commit()
    assert len(worker_pass(app).sent) == 1
    assert number in slack.posts(DESK)[0].text


def test_nothing_is_posted_without_a_bot_token(app, client, bot_headers, slack):
    app.config["SLACK_BOT_TOKEN"] = ""
    slack_ticket(client, bot_headers)
    worker_pass(app)
    assert slack.calls == []


def test_two_clicks_at_the_same_moment_give_one_owner(app, client, bot_headers, slack):
    number = slack_ticket(client, bot_headers)
    barrier = threading.Barrier(2)
    statuses: dict[str, int] = {}

    def click_now(user: str) -> None:
        own_client = app.test_client()
        barrier.wait(timeout=30)
        statuses[user] = press(own_client, user, "care_take", number).status_code

    threads = [threading.Thread(target=click_now, args=(user,)) for user in (TERRENCE, TIM)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == {TERRENCE: 200, TIM: 200}
    with app.app_context():
        owner = db.session.scalar(select(User.username).join(Ticket, Ticket.assignee_id == User.id)
                                  .where(Ticket.number == number))
    assert owner in {"terrence", "tim"}
    loser = TIM if owner == "terrence" else TERRENCE
    assert [c.params["user"] for c in slack.posts(DESK, method="chat.postEphemeral")] == [loser]
    assert len(slack.posts(DESK, method="chat.update")) == 1
