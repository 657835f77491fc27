"""Laura's question answered with the section that answers it, in a real browser.

"My account has been inactive for two years, can you reactivate it?" used to get the
five-year section of the right article, cut at 240 characters. Now the widget shows
the steps of "How to reactivate your account" as a numbered list, a follow-up lands
on another section of the same article, and the agent's transcript keeps the steps.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ..browser import ARTIFACTS
from .chat import TIMEOUT, bot_messages, bot_says, hand_over, login, send
from .conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

LAURA = "My account has been inactive for two years, can you reactivate it?"
FOLLOW_UP = "and if I no longer have that email?"
TITLE = "Reactivate an account that has been inactive"


def test_laura_gets_the_steps_and_a_follow_up_gets_its_own_section(live_stack: RunningStack, browser) -> None:
    customer = browser.new_page(viewport={"width": 1280, "height": 900})
    customer.goto(f"{live_stack.api_url}/demo")
    customer.get_by_test_id("cc-launcher").click()

    n = send(customer, LAURA)
    bot_says(customer, re.escape(TITLE), after=n)
    answer = bot_messages(customer).filter(has_text=TITLE).last
    steps = answer.locator("ol[data-testid=cc-steps] > li")
    expect(steps).to_have_count(5, timeout=TIMEOUT)
    expect(steps.first).to_contain_text("Reactivate a dormant account")
    expect(steps.last).to_contain_text("Sign in as usual")
    expect(answer).to_contain_text("How to reactivate your account")
    expect(answer).not_to_contain_text("five years")
    expect(answer).to_contain_text("/help/reactivate-inactive-account")
    bot_says(customer, "Did that solve it", after=n)
    expect(customer.get_by_test_id("cc-card").first).to_be_visible()   # the next articles stay
    answer.screenshot(path=str(ARTIFACTS / "e2e-kb-answer-steps.png"))

    n = send(customer, FOLLOW_UP)
    bot_says(customer, "If you no longer have access to the old email address", after=n)
    follow = bot_messages(customer).nth(n)
    expect(follow).to_contain_text("mailbox you registered with")
    expect(follow.locator("ol")).to_have_count(0)
    follow.screenshot(path=str(ARTIFACTS / "e2e-kb-answer-follow-up.png"))

    # the agent reads the same answer, the steps one a line, in the ticket's transcript
    number, n = hand_over(customer, "Laura Smith", "laura@example.com")
    agent = browser.new_page()
    login(agent, live_stack, "tim")
    agent.goto(f"{live_stack.api_url}/agent/tickets/{number}")
    transcript = agent.get_by_test_id("transcript")
    expect(transcript).to_contain_text("1. Go to the sign-in page")
    expect(transcript).to_contain_text("5. Sign in as usual")
    text = transcript.inner_text()
    assert re.search(r"1\. Go to the sign-in page[^\n]*\n2\. ", text), text
