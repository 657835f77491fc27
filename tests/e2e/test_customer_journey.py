"""The whole journey in a real browser against the real processes.

A customer asks the widget on the demo page, gets the answer from the right KB article,
asks for a person, gives name and e-mail and sees a ticket number; the admin sees the
same number in the queue and assigns it; the agent sees it with the chat transcript.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ..browser import ARTIFACTS
from .chat import bot_says, hand_over, login, send
from .conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

QUESTION = "my account has been inactive for 2 years, how do I reactivate it?"
ARTICLE_TITLE = "Reactivate an account that has been inactive"


def test_question_answered_then_handed_over_to_an_agent(live_stack: RunningStack, browser) -> None:
    customer = browser.new_page(viewport={"width": 1280, "height": 800})
    customer.goto(f"{live_stack.api_url}/demo")
    customer.get_by_test_id("cc-launcher").click()
    n = send(customer, QUESTION)
    # the answer comes from the reactivation article (found by the KB search through Rasa)
    bot_says(customer, re.escape(ARTICLE_TITLE), after=n)
    number, n = hand_over(customer, "Laura Smith", "laura@example.com")
    bot_says(customer, re.escape(number), after=n)
    customer.screenshot(path=str(ARTIFACTS / "e2e-widget-ticket.png"))

    admin = browser.new_page()
    login(admin, live_stack, "kim")
    queue = admin.get_by_test_id("queue")
    expect(queue).to_contain_text(number)
    expect(queue).to_contain_text("Laura Smith")
    admin.get_by_role("link", name=number).click()
    expect(admin.get_by_test_id("ticket-number")).to_have_text(number)
    tim = admin.get_by_test_id("assign-select").locator("option", has_text="Tim Agent")
    admin.get_by_test_id("assign-select").select_option(value=tim.get_attribute("value"))
    admin.get_by_test_id("assign-button").click()
    expect(admin.get_by_role("status")).to_contain_text(f"{number} assigned to Tim Agent")
    expect(admin.get_by_test_id("assignee")).to_have_text("Tim Agent")
    admin.screenshot(path=str(ARTIFACTS / "e2e-admin-ticket.png"), full_page=True)

    agent = browser.new_page()
    login(agent, live_stack, "tim")
    agent.get_by_role("link", name=number).click()
    transcript = agent.get_by_test_id("transcript")
    expect(transcript).to_contain_text(QUESTION)
    expect(transcript).to_contain_text(ARTICLE_TITLE)
    expect(transcript).to_contain_text("I want to talk to a person")
    agent.screenshot(path=str(ARTIFACTS / "e2e-agent-ticket.png"), full_page=True)
