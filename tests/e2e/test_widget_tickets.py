"""My tickets in the widget, against the real processes.

The customer asks for a person and gets a ticket; My tickets lists it with its status (from
``POST /api/v1/conversations/lookup``). Tim answers from the agent console; the answer is in
the ticket's thread in My tickets, the customer replies from there, and the reply reaches
the console and the database.
"""
from __future__ import annotations

import json

import pytest
import requests
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

from ..browser import ARTIFACTS
from .chat import TIMEOUT, hand_over, login, send, separate_people
from .conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

QUESTION = "I was charged twice for my last order, can I get one payment back?"
CUSTOMER = "Nora Tickets"
EMAIL = "nora.tickets@example.com"
AGENT = "Tim Agent"
AGENT_REPLY = "Hi Nora, Tim here. I see the double charge and will refund one of them."
CUSTOMER_REPLY = "Thank you Tim! It was order 5120."
STATUS_WORDS = {"new": "Waiting for a person", "assigned": "Assigned", "acknowledged": "In progress",
                "in_progress": "In progress", "waiting_on_customer": "Waiting for your reply"}
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}


def stored(page: Page, key: str):  # noqa: ANN201
    return page.evaluate("k => localStorage.getItem(k)", f"carechat:{key}")


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def lookup(api: str, token: str) -> dict:
    reply = requests.post(f"{api}/api/v1/conversations/lookup", json={"tokens": [token, "not-a-token"]}, timeout=30)
    reply.raise_for_status()
    (ticket,) = reply.json()["tickets"]
    return ticket


def test_my_tickets_lists_the_ticket_and_carries_the_thread_both_ways(live_stack: RunningStack, browser) -> None:
    api = live_stack.api_url
    with separate_people(browser, 3, DESKTOP) as (customer, admin, agent):
        errors: list[str] = []
        customer.on("pageerror", lambda error: errors.append(str(error)))
        # --- the customer asks for a person and gets a ticket ---------------------------------
        customer.goto(f"{api}/demo")
        customer.get_by_test_id("cc-launcher").click()
        send(customer, QUESTION)
        number, _ = hand_over(customer, CUSTOMER, EMAIL)
        token = json.loads(stored(customer, "handoff"))["token"]
        assert [(e["ticket"], e["token"]) for e in json.loads(stored(customer, "tickets"))] == [(number, token)]

        # --- My tickets lists it, with its status ---------------------------------------------
        customer.get_by_test_id("cc-tickets-button").click()
        item = customer.get_by_test_id("cc-tk-item")
        expect(item).to_have_count(1, timeout=TIMEOUT)
        summary = lookup(api, token)
        assert summary["number"] == number and summary["subject"]
        expect(item.locator(".cc-tk-number")).to_have_text(number)
        expect(item.get_by_test_id("cc-tk-subject")).to_have_text(summary["subject"])
        expect(item.get_by_test_id("cc-tk-status")).to_have_text(STATUS_WORDS[summary["status"]])
        customer.get_by_test_id("cc-tk-back").click()

        # --- the admin assigns it to Tim; Tim acknowledges and answers ------------------------
        login(admin, live_stack, "kim")
        admin.goto(f"{api}/admin/tickets/{number}")
        tim = admin.get_by_test_id("assign-select").locator("option", has_text=AGENT)
        admin.get_by_test_id("assign-select").select_option(value=tim.get_attribute("value"))
        admin.get_by_test_id("assign-button").click()
        expect(admin.get_by_test_id("assignee")).to_have_text(AGENT)
        login(agent, live_stack, "tim")
        agent.goto(f"{api}/agent/tickets/{number}")
        agent.get_by_test_id("acknowledge").click()
        expect(agent.get_by_test_id("status")).to_have_text("acknowledged")
        agent.locator("#body").fill(AGENT_REPLY)
        agent.get_by_role("button", name="Send", exact=True).click()
        expect(agent.locator("body")).to_contain_text("Reply sent to the customer.")
        expect(customer.locator("[data-testid=cc-msg][data-sender=agent] .cc-bubble")).to_have_text(
            [AGENT_REPLY], timeout=TIMEOUT)

        # --- My tickets: the new status, and Tim's answer in the thread -----------------------
        customer.get_by_test_id("cc-tickets-button").click()
        expect(item.get_by_test_id("cc-tk-status")).to_have_text("Waiting for your reply", timeout=TIMEOUT)
        shoot(customer, "widget-my-tickets-live-1280x800.png")
        customer.set_viewport_size(PHONE)
        shoot(customer, "widget-my-tickets-live-360x740.png")
        customer.set_viewport_size(DESKTOP)
        item.click()
        expect(customer.get_by_test_id("cc-tk-title")).to_have_text(number)
        thread = customer.get_by_test_id("cc-tk-msg")
        expect(thread.filter(has_text=AGENT_REPLY)).to_have_count(1, timeout=TIMEOUT)
        expect(thread.filter(has_text=AGENT_REPLY).locator(".cc-author")).to_have_text(AGENT)

        # --- the customer replies from My tickets: it reaches the console and the database ----
        customer.get_by_test_id("cc-tk-input").fill(CUSTOMER_REPLY)
        customer.get_by_test_id("cc-tk-send").click()
        expect(thread.last.locator(".cc-bubble")).to_have_text(CUSTOMER_REPLY, timeout=TIMEOUT)
        expect(thread.last).to_have_attribute("data-sender", "user")
        expect(agent.get_by_test_id("thread")).to_contain_text(CUSTOMER_REPLY, timeout=TIMEOUT)
        shoot(customer, "widget-my-tickets-thread-live-1280x800.png")

        engine = create_engine(live_stack.config.database_url or "")
        try:
            with engine.connect() as conn:
                rows = conn.execute(text(
                    "SELECT m.author_type, m.body FROM messages m JOIN tickets t ON t.id = m.ticket_id "
                    "WHERE t.number = :n AND NOT m.internal ORDER BY m.id"), {"n": number}).all()
        finally:
            engine.dispose()
        assert [tuple(row) for row in rows][-2:] == [("agent", AGENT_REPLY), ("customer", CUSTOMER_REPLY)]
        assert lookup(api, token)["status"] == "in_progress"

        # --- back in the chat: the reply is there once, the handoff goes on --------------------
        customer.get_by_test_id("cc-tk-back").click()
        customer.get_by_test_id("cc-tk-back").click()
        expect(customer.get_by_test_id("cc-chat")).to_be_visible()
        user_bubbles = customer.locator("[data-testid=cc-msg][data-sender=user] .cc-bubble")
        expect(user_bubbles.filter(has_text=CUSTOMER_REPLY)).to_have_count(1)
        expect(customer.get_by_test_id("cc-ticket")).to_have_text(f"Ticket {number} — {AGENT} is helping you")
        assert errors == [], f"uncaught errors in the demo page: {errors}"
