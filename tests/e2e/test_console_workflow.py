"""The consoles in a real browser against the real processes.

The admin raises a ticket's priority and assigns it; the agent sets their presence,
acknowledges, inserts a canned response (filled in for the ticket) into the reply, sends
it, resolves with a resolution note and publishes it as a KB article; the article is then
found by the public KB search API and by the agent's KB search page.
"""
from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from ..browser import ARTIFACTS
from .chat import TIMEOUT, login
from .conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SUBJECT = "The parcel locker code for my delivery does not work"
FIX = ("A parcel locker that refuses its code needs a fresh one: in the courier app open Deliveries, "
       "choose the parcel and tap Send a new locker code. The new six-digit code works at once.")


def call(stack: RunningStack, method: str, path: str, body: dict[str, Any] | None = None,
         headers: dict[str, str] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(f"{stack.api_url}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def open_ticket(stack: RunningStack) -> str:
    opened = call(stack, "POST", "/api/v1/tickets", {
        "name": "Laura Smith", "email": "laura.console@example.com", "channel": "web_chat",
        "subject": SUBJECT, "conversation_id": f"console-{uuid.uuid4().hex[:8]}",
        "transcript": [{"sender": "user", "text": SUBJECT, "timestamp": 1.0},
                       {"sender": "user", "text": "I want to talk to a person", "timestamp": 2.0}],
    }, headers={"Authorization": f"Bearer {stack.config.service_token}", "Idempotency-Key": uuid.uuid4().hex})
    assert opened["status"] == "new"  # automatic assignment is off unless the admin turns it on
    return str(opened["number"])


def test_admin_and_agent_work_a_ticket_to_a_published_article(live_stack: RunningStack, browser) -> None:
    number = open_ticket(live_stack)

    admin = browser.new_page(viewport={"width": 1280, "height": 900})
    login(admin, live_stack, "kim")
    admin.goto(f"{live_stack.api_url}/admin/tickets/{number}")
    expect(admin.get_by_test_id("ticket-number")).to_have_text(number)
    expect(admin.get_by_test_id("priority-select")).to_have_value("normal")
    admin.get_by_label("Priority").select_option("high")
    admin.get_by_test_id("triage-button").click()
    expect(admin.get_by_role("status")).to_contain_text(f"{number}: priority normal → high.")
    expect(admin.get_by_test_id("priority-select")).to_have_value("high")
    tim = admin.get_by_test_id("assign-select").locator("option", has_text="Tim Agent")
    admin.get_by_test_id("assign-select").select_option(value=tim.get_attribute("value"))
    admin.get_by_test_id("assign-button").click()
    expect(admin.get_by_role("status")).to_contain_text(f"{number} assigned to Tim Agent")
    expect(admin.get_by_test_id("assignee")).to_have_text("Tim Agent")
    admin.screenshot(path=str(ARTIFACTS / "e2e-console-admin.png"), full_page=True)

    agent = browser.new_page(viewport={"width": 1280, "height": 900})
    login(agent, live_stack, "tim")
    agent.get_by_test_id("presence-select").select_option("away")
    agent.get_by_test_id("presence-button").click()
    expect(agent.get_by_role("status").first).to_contain_text("You are away now")
    agent.get_by_test_id("presence-select").select_option("online")
    agent.get_by_test_id("presence-button").click()
    expect(agent.get_by_test_id("presence-status")).to_contain_text("You are online")

    agent.get_by_role("link", name=number).click()
    expect(agent.get_by_test_id("ticket-number")).to_have_text(number)
    expect(agent.get_by_test_id("live-status")).to_have_text("Live", timeout=TIMEOUT)
    agent.get_by_test_id("acknowledge").click()
    expect(agent.get_by_test_id("status")).to_have_text("acknowledged")

    # the demo data's "Greeting", filled in for this ticket, goes into the reply box (JavaScript)
    agent.get_by_label("Canned response").select_option(label="Greeting")
    agent.get_by_test_id("canned-insert").click()
    box = agent.get_by_test_id("reply-body")
    expect(box).to_have_value(re.compile(rf"^Hello Laura Smith,.*I'm Tim Agent.*{re.escape(number)}", re.S))
    expect(box).to_be_focused()
    assert "?canned=" not in agent.url  # inserted in place, no reload
    box.press("End")
    box.type("\n\nA new locker code is on its way to you.")
    reply = box.input_value()
    assert "{{" not in reply
    agent.get_by_test_id("reply-send").click()
    expect(agent.get_by_role("status").first).to_contain_text("Reply sent to the customer.")
    expect(agent.get_by_test_id("thread")).to_contain_text("A new locker code is on its way to you.")
    expect(agent.get_by_test_id("thread")).to_contain_text("Hello Laura Smith,")

    agent.get_by_test_id("resolution").fill(FIX)
    agent.get_by_test_id("resolve").click()
    expect(agent.get_by_role("status").first).to_contain_text(f"{number} resolved.")
    expect(agent.get_by_label("Article text")).to_have_value(FIX)
    agent.get_by_test_id("publish").click()
    expect(agent.get_by_role("status").first).to_contain_text(f"Published “{SUBJECT}” to the knowledge base")
    agent.screenshot(path=str(ARTIFACTS / "e2e-console-agent.png"), full_page=True)

    query = urllib.parse.urlencode({"q": "parcel locker refuses its code, how do I get a new locker code?"})
    hits = call(live_stack, "GET", f"/api/v1/kb/search?{query}")["hits"]
    published = [h for h in hits if h["title"] == SUBJECT]
    assert published and published[0]["article_id"].startswith("fix-"), hits

    agent.goto(f"{live_stack.api_url}/agent/kb?ticket={number}")
    agent.get_by_label("Search public and internal articles").fill("new locker code for a parcel locker")
    agent.get_by_role("button", name="Search").click()
    expect(agent.get_by_test_id("kb-hits")).to_contain_text(SUBJECT)
