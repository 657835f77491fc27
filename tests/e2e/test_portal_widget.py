"""The widget on the portal, in a real browser against the real processes (issue 14).

Laura is signed in to the portal. She opens the chat widget the portal's pages embed and asks
for a person: the bot does not ask her name or e-mail (the page handed the widget a signed
identity, which the bot checked with the escalation service), she gets a ticket number, and
the ticket is in her My tickets. The identity of a session that has signed out meanwhile is
refused, and the bot asks as before (forged and expired ones: tests/escalation/test_widget_identity.py
and tests/chatbot/test_portal_identity.py).
"""
from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from .chat import TIMEOUT, bot_messages, bot_says, send, separate_people
from .conftest import RunningStack
from .test_portal_journey import DESKTOP, register_and_verify

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ASKED = re.compile(r"what name should i put|what's your e-mail", re.I)


def test_signed_in_laura_asks_for_a_person_and_is_not_asked_who_she_is(live_stack: RunningStack, browser) -> None:
    email = f"laura.widget.{uuid.uuid4().hex[:6]}@example.com"
    with separate_people(browser, 1, DESKTOP) as (laura,):
        register_and_verify(laura, live_stack, email)
        laura.get_by_test_id("cc-launcher").click()
        send(laura, "I want to talk to a person")
        banner = laura.get_by_test_id("cc-ticket")
        expect(banner).to_contain_text(re.compile(r"CR-\d{5}"), timeout=TIMEOUT)
        number = re.search(r"CR-\d{5}", banner.inner_text()).group(0)
        assert not [text for text in bot_messages(laura).all_inner_texts() if ASKED.search(text)]
        laura.goto(f"{live_stack.api_url}/portal/tickets")
        expect(laura.get_by_test_id("portal-tickets")).to_contain_text(number)


def test_the_identity_of_a_session_that_signed_out_gets_the_questions(live_stack: RunningStack, browser) -> None:
    email = f"laura.signed.out.{uuid.uuid4().hex[:6]}@example.com"
    with separate_people(browser, 1, DESKTOP) as (laura,):
        register_and_verify(laura, live_stack, email)  # this page's widget holds her identity
        other_tab = laura.context.new_page()
        other_tab.goto(f"{live_stack.api_url}/portal/tickets")
        other_tab.get_by_test_id("portal-sign-out").click()
        expect(other_tab.get_by_role("heading", name="Sign in")).to_be_visible()
        laura.get_by_test_id("cc-launcher").click()
        n = send(laura, "I want to talk to a person")
        bot_says(laura, "what name should i put", after=n)
