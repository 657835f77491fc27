"""Austin's journey in Slack, on the real processes against a fake Slack on loopback.

Rasa (with ``slack_channel.CareSlackInput``), the action server, the escalation service and
the worker all run; Slack's Web API is ``tests/slack/fake_slack.py``, and the test plays
Slack's Events API and interactivity (signed requests). Austin writes to the bot in a direct
message, gets the employee article, asks for a person and gets a ``slack`` ticket without
being asked his name or e-mail; the staff channel gets the announcement, Terrence takes it
with the button, replies in the console, the reply appears in Austin's thread, Austin
answers in the thread (into the ticket, not the bot), Terrence resolves with a workaround
published to the KB, and Austin gets the rating buttons. A retried event creates nothing
twice; a bad signature is refused.
"""
from __future__ import annotations

import json
import re
import sqlite3
import time
import urllib.parse
import urllib.request

import pytest
from playwright.sync_api import expect

from ..browser import ARTIFACTS
from ..slack.fake_slack import FakeSlack, click, message_event, send_event
from .chat import TIMEOUT, login
from .conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

AUSTIN, TERRENCE, TIM = "U0AUSTIN", "U0TERRENCE", "U0TIM"
DM, DESK = "D0AUSTIN", "C0DESK"
WORKAROUND = ("After the database security update, a work profile stuck in re-confirmation is released by "
              "re-enrolling it: Identity console > Profiles > Re-enrol, then the employee signs in once in "
              "a private window.")


def db_row(stack: RunningStack, sql: str, *args: object) -> tuple:
    path = (stack.config.database_url or "").removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        return connection.execute(sql, args).fetchone()


def bot_posts(slack: FakeSlack, thread_ts: str, since: int = 0) -> list[str]:
    return [c.text for c in slack.posts(DM, thread_ts, since=since) if c.from_bot]


def wait_bot(slack: FakeSlack, thread_ts: str, pattern: str, since: int) -> str:
    call = slack.wait_for(lambda c: c.method == "chat.postMessage" and c.status == 200 and c.from_bot
                          and c.params.get("thread_ts") == thread_ts and re.search(pattern, c.text, re.I)
                          and slack.calls.index(c) >= since, timeout=TIMEOUT / 1000,
                          what=f"bot message /{pattern}/ in thread {thread_ts}")
    return call.text


def test_austin_gets_it_help_in_slack_and_the_desk_works_there(live_stack: RunningStack, fake_slack: FakeSlack,
                                                                browser) -> None:
    slack = fake_slack
    webhook = f"{live_stack.config.rasa_url}/webhooks/slack/webhook"
    interactivity = f"{live_stack.api_url}/slack/interactivity"

    # A bad signature is refused, by Rasa's channel and by the desk's button endpoint.
    first = message_event(AUSTIN, DM, "I can't log in to my profile since the security update", slack.next_ts())
    thread = first["event"]["ts"]
    assert send_event(webhook, first, secret="forged")[0] == 401
    assert click(interactivity, user=TERRENCE, channel=DESK, message_ts="1.1", action_id="care_take",
                 value="CR-10001", secret="forged")[0] == 401

    # Austin asks; Slack's first answer to the bot is a 429, which the bot waits out.
    slack.rate_limit("chat.postMessage", retry_after=1)
    mark = slack.mark()
    assert send_event(webhook, first)[0] == 200
    answer = wait_bot(slack, thread, "Locked out of your work profile after a security update", mark)
    assert "staff-locked-out-after-security-update" in answer
    limited = [c for c in slack.calls[mark:] if c.status == 429]
    assert limited, "the fake did not rate-limit"
    after = [c for c in slack.calls[mark:] if c.method == "chat.postMessage" and c.status == 200]
    assert after[0].at - limited[0].at >= 1.0  # Retry-After respected

    # Slack retries the same event: nothing happens twice.
    assert send_event(webhook, first, retry_num=1)[0] == 200

    # He asks for a person in the thread: a ticket, no questions about name or e-mail.
    mark = slack.mark()
    ask = message_event(AUSTIN, DM, "I want to talk to a person", slack.next_ts(), thread_ts=thread)
    assert send_event(webhook, ask)[0] == 200
    opened = wait_bot(slack, thread, r"ticket number is CR-\d+", mark)
    number = re.search(r"CR-\d+", opened).group(0)
    assert "austin.coy@northwind.example" in opened
    said = bot_posts(slack, thread, since=mark)
    assert not [t for t in said if re.search(r"what name|e-mail address, so", t, re.I)], said
    assert send_event(webhook, ask, retry_num=1)[0] == 200  # a retried hand-over opens nothing more

    channel, team, slack_channel, thread_ts, user, name, email = db_row(
        live_stack, "SELECT t.channel, t.slack_team, t.slack_channel, t.slack_thread_ts, t.slack_user, c.name, "
                    "c.email FROM tickets t JOIN customers c ON c.id = t.customer_id WHERE t.number = ?", number)
    assert (channel, slack_channel, thread_ts, user, name, email) == \
        ("slack", DM, thread, AUSTIN, "Austin Coy", "austin.coy@northwind.example")
    assert team
    # the first answer was given once, though its event came twice
    assert sum("Locked out of your work profile" in t for t in bot_posts(slack, thread)) == 1

    # The staff channel gets the announcement; Terrence takes it with the button.
    announced = slack.wait_for(lambda c: c.method == "chat.postMessage" and c.params.get("channel") == DESK
                               and number in c.text, timeout=60, what="the staff announcement")
    assert click(interactivity, user=TERRENCE, channel=DESK, message_ts=announced.params["ts"],
                 action_id="care_take", value=number)[0] == 200
    slack.wait_for(lambda c: c.method == "chat.update" and "Terrence Agent" in c.text, timeout=30,
                   what="the announcement updated with who took it")
    assert click(interactivity, user=TIM, channel=DESK, message_ts=announced.params["ts"],
                 action_id="care_take", value=number)[0] == 200  # too late: told privately
    slack.wait_for(lambda c: c.method == "chat.postEphemeral" and c.params.get("user") == TIM, timeout=30,
                   what="Tim told that Terrence has it")
    assert db_row(live_stack, "SELECT u.username, t.status FROM tickets t JOIN users u ON u.id = t.assignee_id "
                              "WHERE t.number = ?", number) == ("terrence", "acknowledged")
    slack.wait_for(lambda c: c.method == "chat.postMessage" and c.params.get("thread_ts") == thread
                   and "is with Terrence Agent" in c.text, timeout=60, what="Austin told who has his ticket")

    # Terrence replies in the console; the reply appears in Austin's thread.
    agent = browser.new_page(viewport={"width": 1280, "height": 900})
    login(agent, live_stack, "terrence")
    agent.goto(f"{live_stack.api_url}/agent/tickets/{number}")
    expect(agent.get_by_test_id("ticket-number")).to_have_text(number)
    agent.get_by_test_id("reply-body").fill("Hi Austin, I'm re-enrolling your profile now. Can you try again in 2 minutes?")
    agent.get_by_test_id("reply-send").click()
    expect(agent.get_by_role("status").first).to_contain_text("Reply sent")
    slack.wait_for(lambda c: c.method == "chat.postMessage" and c.params.get("thread_ts") == thread
                   and c.text.startswith("Terrence Agent: Hi Austin"), timeout=60, what="the reply in the thread")

    # Austin answers in the thread: it joins the ticket, and the bot stays silent.
    mark = slack.mark()
    answer_in_thread = message_event(AUSTIN, DM, "Thanks, it works now!", slack.next_ts(), thread_ts=thread)
    assert send_event(webhook, answer_in_thread)[0] == 200
    agent.reload()
    expect(agent.get_by_test_id("thread")).to_contain_text("Thanks, it works now!", timeout=TIMEOUT)
    time.sleep(2)
    assert bot_posts(slack, thread, since=mark) == []

    # Terrence resolves with the workaround and publishes it to the KB.
    agent.get_by_test_id("resolution").fill(WORKAROUND)
    agent.get_by_test_id("resolve").click()
    expect(agent.get_by_role("status").first).to_contain_text(f"{number} resolved.")
    agent.get_by_label("Who may read it").select_option("internal")
    agent.get_by_test_id("publish").click()
    expect(agent.get_by_role("status").first).to_contain_text("Published")
    agent.screenshot(path=str(ARTIFACTS / "e2e-slack-agent.png"), full_page=True)
    query = urllib.parse.urlencode({"q": "work profile stuck in re-confirmation after the database update",
                                    "audience": "internal"})
    request = urllib.request.Request(f"{live_stack.api_url}/api/v1/kb/search?{query}",
                                     headers={"Authorization": f"Bearer {live_stack.config.service_token}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        hits = json.loads(response.read())["hits"]
    assert any(h["article_id"].startswith("fix-") for h in hits), hits

    # Austin gets the rating buttons in his thread, and rates.
    resolved = slack.wait_for(lambda c: c.method == "chat.postMessage" and c.params.get("thread_ts") == thread
                              and "is resolved" in c.text, timeout=60, what="the resolution with rating buttons")
    buttons = [e for b in resolved.params.get("blocks", []) if b.get("type") == "actions" for e in b["elements"]]
    assert [b["value"] for b in buttons] == [f"{number}:5", f"{number}:3", f"{number}:1"]
    assert click(interactivity, user=AUSTIN, channel=DM, message_ts=resolved.params["ts"],
                 action_id=buttons[0]["action_id"], value=buttons[0]["value"])[0] == 200
    assert db_row(live_stack, "SELECT s.rating FROM surveys s JOIN tickets t ON t.id = s.ticket_id "
                              "WHERE t.number = ?", number) == (5,)

    # Nothing twice: one ticket for the thread, one post per event.
    assert db_row(live_stack, "SELECT count(*) FROM tickets WHERE slack_thread_ts = ?", thread) == (1,)
    texts = [c.text for c in slack.posts(DM, thread)]
    assert len(texts) == len(set(texts)), texts
