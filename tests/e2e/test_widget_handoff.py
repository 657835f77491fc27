"""The handoff as the customer lives it, in a real browser against the real processes.

The customer asks on the demo page, opens a suggested article, asks for a person and gets a
ticket; the admin assigns it to Tim, who acknowledges and replies from the agent console.
The widget shows him joining and his messages live; a reload in the middle keeps the whole
thread without doubling anything; the customer's answer reaches the console; Tim resolves
the ticket and the widget asks "How did we do?": one rating, one ticket, one survey.
"""
from __future__ import annotations

import json
import re

import pytest
import requests
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import create_engine, text

from ..browser import ARTIFACTS
from .chat import TIMEOUT, bot_messages, bot_says, hand_over, login, send, separate_people
from .conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

QUESTION = "my account has been inactive for 2 years, how do I reactivate it?"
ARTICLE_TITLE = "Reactivate an account that has been inactive"
CUSTOMER = "Laura Smith"
EMAIL = "laura.handoff@example.com"
AGENT = "Tim Agent"
FIRST_REPLY = "Hi Laura, Tim here. I am looking at your account now."
SECOND_REPLY = "Your account is active again. Could you tell me your order number?"
CUSTOMER_REPLY = "Thank you! The order number is 4711."
RESOLUTION = "Reactivated the account by hand; the customer confirmed order 4711."
RESOLVED = re.compile(r"Ticket CR-\d{5} was resolved\. You are chatting with our assistant again\.")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}


def widget_messages(page: Page, sender: str) -> Locator:
    return page.locator(f"[data-testid=cc-msg][data-sender={sender}]")


def stored(page: Page, key: str):  # noqa: ANN201
    return page.evaluate("k => localStorage.getItem(k)", f"carechat:{key}")


def counts(page: Page) -> dict[str, int]:
    return {sender: widget_messages(page, sender).count() for sender in ("user", "bot", "agent", "system")}


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def agent_reply(agent: Page, body: str) -> None:
    agent.locator("#body").fill(body)
    agent.get_by_role("button", name="Send", exact=True).click()
    expect(agent.locator("body")).to_contain_text("Reply sent to the customer.")


def test_live_handoff_from_question_to_rating(live_stack: RunningStack, browser) -> None:
    api = live_stack.api_url
    with separate_people(browser, 3, DESKTOP) as (customer, admin, agent):
        errors: list[str] = []
        customer.on("pageerror", lambda error: errors.append(str(error)))
        # --- the customer asks, reads a suggested article, asks for a person -----------------
        customer.goto(f"{api}/demo")
        customer.get_by_test_id("cc-launcher").click()
        n = send(customer, QUESTION)
        bot_says(customer, re.escape(ARTICLE_TITLE), after=n)
        card = customer.get_by_test_id("cc-card").first.locator("a.cc-card-title")
        expect(card).to_be_visible(timeout=TIMEOUT)
        card_title = card.inner_text().strip()
        href = card.get_attribute("href") or ""
        assert re.fullmatch(re.escape(f"{api}/help/") + r"[\w.-]+", href), href
        with customer.context.expect_page() as opened:
            card.click()
        article = opened.value
        article.wait_for_load_state()
        assert article.url == href
        expect(article.get_by_role("heading", level=1)).to_have_text(card_title)
        expect(article).to_have_title(re.compile(re.escape(card_title)))
        article.close()

        number, n = hand_over(customer, CUSTOMER, EMAIL)
        banner = customer.get_by_test_id("cc-ticket")
        expect(banner).to_have_text(f"Ticket {number} — a person from our team will join shortly")
        bot_says(customer, re.escape(number), after=n)
        token = json.loads(stored(customer, "handoff"))["token"]
        session_id = stored(customer, "session_id")

        # --- the admin assigns it to Tim; Tim acknowledges -----------------------------------
        login(admin, live_stack, "kim")
        admin.goto(f"{api}/admin/tickets/{number}")
        expect(admin.get_by_test_id("ticket-number")).to_have_text(number)
        tim = admin.get_by_test_id("assign-select").locator("option", has_text=AGENT)
        admin.get_by_test_id("assign-select").select_option(value=tim.get_attribute("value"))
        admin.get_by_test_id("assign-button").click()
        expect(admin.get_by_test_id("assignee")).to_have_text(AGENT)

        login(agent, live_stack, "tim")
        agent.goto(f"{api}/agent/tickets/{number}")
        expect(agent.get_by_test_id("transcript")).to_contain_text(QUESTION)
        agent.get_by_test_id("acknowledge").click()
        expect(agent.get_by_test_id("status")).to_have_text("acknowledged")

        system = widget_messages(customer, "system")
        expect(system.filter(has_text=f"{AGENT} joined the conversation")).to_have_count(1, timeout=TIMEOUT)
        expect(banner).to_have_text(f"Ticket {number} — {AGENT} is helping you", timeout=TIMEOUT)

        # --- Tim's reply arrives live ----------------------------------------------------------
        agent_reply(agent, FIRST_REPLY)
        agents = widget_messages(customer, "agent")
        expect(agents.locator(".cc-bubble")).to_have_text([FIRST_REPLY], timeout=TIMEOUT)
        expect(agents.locator(".cc-author")).to_have_text([AGENT])
        shoot(customer, "widget-handoff-live-1280x800.png")

        # --- a reload in the middle keeps the thread, once, and the stream goes on -----------
        before = counts(customer)
        bot_before = bot_messages(customer).all_inner_texts()
        assert before["agent"] == 1 and before["user"] == 4, before
        customer.reload()
        customer.get_by_test_id("cc-launcher").click()
        expect(customer.get_by_test_id("cc-panel")).to_be_visible()
        expect(banner).to_have_text(f"Ticket {number} — {AGENT} is helping you", timeout=TIMEOUT)
        expect(customer.get_by_test_id("cc-status")).to_have_text("Online", timeout=TIMEOUT)
        assert bot_messages(customer).all_inner_texts() == bot_before
        for sender, count in before.items():
            expect(widget_messages(customer, sender)).to_have_count(count)
        expect(bot_messages(customer).filter(has_text=ARTICLE_TITLE).first).to_be_visible()

        agent_reply(agent, SECOND_REPLY)
        expect(agents.locator(".cc-bubble")).to_have_text([FIRST_REPLY, SECOND_REPLY], timeout=TIMEOUT)
        for sender in ("user", "bot", "system"):
            expect(widget_messages(customer, sender)).to_have_count(before[sender])
        customer.set_viewport_size(PHONE)
        shoot(customer, "widget-handoff-live-360x740.png")
        customer.set_viewport_size(DESKTOP)

        # --- the customer answers in the widget: it reaches the console -----------------------
        send(customer, CUSTOMER_REPLY)
        expect(widget_messages(customer, "user").last.locator(".cc-bubble")).to_have_text(CUSTOMER_REPLY)
        # the console is live: the customer's message appears without a reload
        expect(agent.get_by_test_id("thread")).to_contain_text(CUSTOMER_REPLY, timeout=TIMEOUT)
        expect(agent.get_by_test_id("thread")).to_contain_text(FIRST_REPLY)
        # drawn like the server-rendered messages: author, text, time
        live = agent.get_by_test_id("thread").locator("li", has_text=CUSTOMER_REPLY)
        expect(live.locator("time.meta")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$"))
        # … and is not shown twice in the widget when the thread comes back with it
        expect(widget_messages(customer, "user")).to_have_count(before["user"] + 1)

        # --- Tim resolves: the widget asks how we did -----------------------------------------
        agent.locator("#resolution").fill(RESOLUTION)
        agent.get_by_role("button", name="Resolve", exact=True).click()
        expect(agent.get_by_test_id("status")).to_have_text("resolved")

        expect(system.filter(has_text=RESOLVED)).to_have_count(1, timeout=TIMEOUT)
        survey = customer.get_by_test_id("cc-survey")
        expect(survey).to_be_visible(timeout=TIMEOUT)
        expect(customer.get_by_role("form", name="How did we do?")).to_be_visible()
        expect(banner).to_be_hidden()
        assert stored(customer, "handoff") is None
        shoot(customer, "widget-csat-1280x800.png")
        customer.set_viewport_size(PHONE)
        survey.scroll_into_view_if_needed()
        shoot(customer, "widget-csat-360x740.png")
        customer.set_viewport_size(DESKTOP)

        survey.get_by_role("button", name="Rate 5 of 5: excellent").click()
        expect(survey.get_by_role("button", name="Rate 5 of 5: excellent")).to_have_attribute("aria-pressed", "true")
        survey.get_by_label("Anything to add? (optional)").fill("Tim was quick and kind.")
        survey.get_by_role("button", name="Send rating").click()
        expect(system.last.locator(".cc-bubble")).to_have_text("Thank you for your feedback!", timeout=TIMEOUT)
        expect(survey).to_have_count(0)
        shoot(customer, "widget-csat-thanks-1280x800.png")

        # --- exactly one ticket, one thread, one survey ---------------------------------------
        reply = requests.get(f"{api}/api/v1/conversations/{token}", timeout=30)
        reply.raise_for_status()
        conversation = reply.json()
        assert (conversation["number"], conversation["status"], conversation["owner"]) == (number, "resolved", "bot")
        assert [(m["author"], m["body"]) for m in conversation["messages"]] == [
            ("agent", FIRST_REPLY), ("agent", SECOND_REPLY), ("customer", CUSTOMER_REPLY),
        ]
        engine = create_engine(live_stack.config.database_url or "")
        try:
            with engine.connect() as conn:
                tickets = conn.execute(text(
                    "SELECT t.number FROM tickets t JOIN customers c ON c.id = t.customer_id "
                    "WHERE c.email = :e OR t.conversation_id = :s"), {"e": EMAIL, "s": session_id}).all()
                surveys = conn.execute(text(
                    "SELECT s.rating, s.comment FROM surveys s JOIN tickets t ON t.id = s.ticket_id "
                    "WHERE t.number = :n"), {"n": number}).all()
        finally:
            engine.dispose()
        assert [row[0] for row in tickets] == [number]
        assert [tuple(row) for row in surveys] == [(5, "Tim was quick and kind.")]

        # a second rating is refused, and the widget would say so
        again = requests.post(f"{api}/api/v1/conversations/{token}/survey", json={"rating": 1}, timeout=30)
        assert again.status_code == 409 and again.json()["error"]["code"] == "already_rated"
        assert errors == [], f"uncaught errors in the demo page: {errors}"
