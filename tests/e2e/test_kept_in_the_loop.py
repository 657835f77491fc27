"""Laura is kept in the loop by e-mail, on the real processes, reading her mail in the mail catcher.

Laura chats, hands over and closes the page. Kim assigns Tim: "Tim is looking at CR-…"
arrives. Tim replies: one mail with his reply. Laura answers by e-mail (the catcher's reply
form, the same inbound path as a mail server's pipe): it shows in Tim's console. Tim resolves:
Laura rates from the mail in two clicks without signing in, and her rating and comment show
on Kim's dashboard and in Tim's figures. Austin keeps the chat open: the reply he saw live is
not mailed to him.
"""
from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ..browser import ARTIFACTS
from .chat import TIMEOUT, hand_over, login, separate_people
from .conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

LAURA, AUSTIN = "laura.loop@example.com", "austin.loop@example.com"
REPLY = "Hello Laura, I have reactivated your account. Could you try signing in now?"
ANSWER = "It works again, thank you Tim!"
COMMENT = "Quick and friendly, and I never had to sign in."
DESKTOP = {"width": 1280, "height": 860}


def mails(stack: RunningStack, to: str) -> list[dict[str, Any]]:
    url = f"{stack.mail_url}api/mails?to={urllib.parse.quote(to)}"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
        return list(reversed(json.loads(response.read())["mails"]))  # oldest first


def wait_for_mail(stack: RunningStack, to: str, subject: str, *, timeout: float = 90) -> tuple[dict[str, Any], float]:
    """The first mail to ``to`` whose subject matches, and how long it took to arrive."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        found = [m for m in mails(stack, to) if re.search(subject, m["subject"])]
        if found:
            return found[0], time.monotonic() - started
        time.sleep(0.25)
    raise AssertionError(f"no mail to {to} matching {subject!r}; got {[m['subject'] for m in mails(stack, to)]}")


def show_mail(mailbox: Page, stack: RunningStack, mail: dict[str, Any], screenshot: str) -> None:
    """Open a caught mail in the catcher, wait for its HTML part to render, keep a screenshot."""
    mailbox.goto(f"{stack.mail_url}mails/{mail['id']}")
    expect(mailbox.frame_locator("[data-testid=html]").locator("h1")).to_be_visible()
    mailbox.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)


def assign_to_tim(admin: Page, stack: RunningStack, number: str) -> None:
    admin.goto(f"{stack.api_url}/admin/tickets/{number}")
    tim = admin.get_by_test_id("assign-select").locator("option", has_text="Tim Agent")
    admin.get_by_test_id("assign-select").select_option(value=tim.get_attribute("value"))
    admin.get_by_test_id("assign-button").click()
    expect(admin.get_by_role("status")).to_contain_text(f"{number} assigned to Tim Agent")


def tim_replies(agent: Page, stack: RunningStack, number: str, body: str) -> None:
    agent.goto(f"{stack.api_url}/agent/tickets/{number}")
    agent.get_by_test_id("reply-body").fill(body)
    agent.get_by_test_id("reply-send").click()
    expect(agent.locator("body")).to_contain_text("Reply sent to the customer.")


def test_laura_hears_each_step_by_mail_answers_by_mail_and_rates_from_it(live_stack: RunningStack, browser) -> None:
    stack = live_stack
    with separate_people(browser, 4, DESKTOP) as (laura, admin, agent, mailbox):
        laura.goto(f"{stack.api_url}/demo")
        laura.get_by_test_id("cc-launcher").click()
        number, _ = hand_over(laura, "Laura Smith", LAURA)
        laura.close()  # she leaves: from now on she hears from us by e-mail only
        ack, _ = wait_for_mail(stack, LAURA, rf"^\[{number}\] We received your request$")
        assert "Expect a first reply" in ack["text"] or "No agent is online" in ack["text"]

        login(admin, stack, "kim")
        assigned_at = time.monotonic()
        assign_to_tim(admin, stack, number)
        allocated, _ = wait_for_mail(stack, LAURA, rf"^Tim is looking at {number}$")
        print(f"\nassignment to 'Tim is looking at {number}' in the catcher: {time.monotonic() - assigned_at:.1f} s")
        assert allocated["in_reply_to"] == ack["message_id"]  # threaded into her ticket
        show_mail(mailbox, stack, allocated, "mail-allocated.png")

        login(agent, stack, "tim")
        tim_replies(agent, stack, number, REPLY)
        reply, waited = wait_for_mail(stack, LAURA, rf"^\[{number}\] Tim Agent replied")
        print(f"Tim's chat reply, not seen live, mailed after {waited:.1f} s (CARE_CHAT_REPLY_MAIL_DELAY=5)")
        assert REPLY in reply["text"]
        time.sleep(3)
        assert len([m for m in mails(stack, LAURA) if "replied" in m["subject"]]) == 1

        # Laura answers the reply in her mail program (the catcher's reply form)
        mailbox.goto(stack.mail_url)
        mailbox.get_by_role("link", name=reply["subject"]).first.click()
        expect(mailbox.get_by_test_id("text")).to_contain_text(REPLY)
        show_mail(mailbox, stack, reply, "mail-agent-reply.png")
        mailbox.get_by_label("Your reply").fill(ANSWER)
        mailbox.get_by_role("button", name="Send reply").click()
        expect(mailbox.get_by_test_id("notice")).to_contain_text(f"appended {number}")
        agent.goto(f"{stack.api_url}/agent/tickets/{number}")
        expect(agent.get_by_test_id("thread")).to_contain_text(ANSWER, timeout=TIMEOUT)

        agent.get_by_test_id("resolution").fill("Reactivated the archived account.")
        agent.get_by_test_id("resolve").click()
        resolved, _ = wait_for_mail(stack, LAURA, rf"^\[{number}\] Resolved")
        great = next(link for link in resolved["links"] if link.endswith("/5"))
        show_mail(mailbox, stack, resolved, "mail-resolved.png")

        # two clicks, no sign-in: the rating link, then the comment
        rater = mailbox.context.browser.new_page(viewport=DESKTOP)  # a fresh browser: no session at all
        rater.goto(great)
        expect(rater.get_by_test_id("rated")).to_contain_text("Great")
        rater.get_by_label("Anything you want to tell us? (optional)").fill(COMMENT)
        rater.screenshot(path=str(ARTIFACTS / "mail-rating-page.png"), full_page=True)
        rater.get_by_role("button", name="Send").click()
        expect(rater.get_by_test_id("rated")).to_contain_text("5/5")
        rater.close()

        admin.goto(f"{stack.api_url}/admin/dashboard")
        comments = admin.get_by_test_id("comments")
        expect(comments).to_contain_text(COMMENT)
        expect(comments).to_contain_text(number)
        expect(comments).to_contain_text("Tim Agent")
        mailbox.goto(stack.mail_url)
        mailbox.screenshot(path=str(ARTIFACTS / "mail-catcher.png"), full_page=True)
        agent.goto(f"{stack.api_url}/agent/")
        expect(agent.get_by_test_id("my-csat")).not_to_have_text("—")


def test_a_customer_watching_live_gets_no_mail_for_replies_she_saw(live_stack: RunningStack, browser) -> None:
    stack = live_stack
    with separate_people(browser, 3, DESKTOP) as (austin, admin, agent):
        austin.goto(f"{stack.api_url}/demo")
        austin.get_by_test_id("cc-launcher").click()
        number, _ = hand_over(austin, "Austin Reed", AUSTIN)
        login(admin, stack, "kim")
        assign_to_tim(admin, stack, number)
        wait_for_mail(stack, AUSTIN, rf"^Tim is looking at {number}$")
        login(agent, stack, "tim")
        tim_replies(agent, stack, number, "Hi Austin, Tim here: which device are you on?")
        agent_messages = austin.locator("[data-testid=cc-msg][data-sender=agent]")
        expect(agent_messages).to_contain_text("which device are you on?", timeout=TIMEOUT)
        time.sleep(5 + 4)  # the delay, and a few worker passes
        assert [m["subject"] for m in mails(stack, AUSTIN) if "replied" in m["subject"]] == []
