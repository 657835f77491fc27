"""The customer portal in a real browser against the real processes (issue 14).

Laura chatted earlier (her chat ticket, opened by the bot's API call). Now she registers in
the portal, reads the verification mail in the mail catcher (a real SMTP server on loopback,
the one `make run` starts; the worker sends it there), confirms, raises a ticket by the form (help articles are suggested while she types) and
finds both tickets in My tickets. Kim assigns the new one to Tim: Laura's open page shows
Tim's name without a reload. Tim replies with a file; it appears live, Laura downloads it,
replies, marks the ticket solved and signs out — and a copy of her old session cookie no
longer opens anything. Screenshots (desktop and a 360 px phone) go to tests/artifacts/;
docs/screenshots/ holds copies of them for the README (copy them by hand when the pages change).
"""
from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from .chat import TIMEOUT, login, separate_people
from .conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "tests" / "artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 780}
PASSWORD = "laura-portal-pass-1"
QUESTION = "my account has been inactive for 2 years"


def mail_link(stack: RunningStack, address: str, path: str) -> str:
    """The link to ``path`` in the newest mail to ``address`` in the stack's mail catcher
    (waiting for the worker to send it)."""
    for _ in range(TIMEOUT // 250):
        listing = requests.get(f"{stack.mail_url}api/mails", params={"to": address}, timeout=10).json()["mails"]
        for mail in listing:  # newest first
            body = requests.get(f"{stack.mail_url}api/mails/{mail['id']}", timeout=10).json()["text"] or ""
            found = re.search(r"https?://\S+(" + re.escape(path) + r"\S+)", body)
            if found:
                return found.group(1)
        time.sleep(0.25)
    raise AssertionError(f"no mail with a {path} link reached {address}")


def register_and_verify(page, stack: RunningStack, email: str) -> None:
    """Register in the portal, open the verification link from the mail catcher, confirm:
    the page ends in My tickets, signed in."""
    page.goto(f"{stack.api_url}/portal/register")
    page.get_by_label("Your name").fill("Laura Smith")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
    page.get_by_test_id("portal-submit").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    page.goto(stack.api_url + mail_link(stack, email, "/portal/verify/"))
    page.get_by_test_id("portal-submit").click()
    expect(page.get_by_role("heading", name="My tickets")).to_be_visible()


def test_laura_registers_raises_follows_and_closes_her_tickets(live_stack: RunningStack, browser, tmp_path) -> None:
    base = live_stack.api_url
    laura_email = f"laura.portal.{uuid.uuid4().hex[:6]}@example.com"
    chat = requests.post(f"{base}/api/v1/tickets", timeout=30, json={
        "name": "Laura Smith", "email": laura_email, "channel": "web_chat", "conversation_id": f"conv-{laura_email}",
        "transcript": [{"sender": "user", "text": f"{QUESTION}, can you reactivate it?"},
                       {"sender": "bot", "text": "Here is what the help centre says."},
                       {"sender": "user", "text": "I want to talk to a person"}]},
        headers={"Authorization": f"Bearer {live_stack.config.service_token}", "Idempotency-Key": laura_email})
    assert chat.status_code == 201
    chat_number = chat.json()["number"]

    with separate_people(browser, 3, DESKTOP) as (laura, kim, tim):
        # --- register, verify through the mail, land in My tickets with the chat ticket ----------
        register_and_verify(laura, live_stack, laura_email)
        expect(laura.get_by_test_id("portal-tickets")).to_contain_text(chat_number)

        # --- raise a ticket by the form: articles are suggested while she types -----------------
        laura.get_by_test_id("nav-new-ticket").click()
        laura.get_by_test_id("new-ticket-subject").press_sequentially(QUESTION, delay=15)
        expect(laura.get_by_test_id("kb-suggestion").first).to_be_visible(timeout=TIMEOUT)
        laura.screenshot(path=str(SCREENSHOTS / "portal-new-ticket-desktop.png"), full_page=True)
        laura.get_by_test_id("new-ticket-description").fill("I tried the article, the reactivation link expired.")
        laura.get_by_test_id("new-ticket-submit").click()
        expect(laura.get_by_role("status").first).to_contain_text("is open")
        form_number = re.search(r"CR-\d+", laura.url).group(0)

        laura.get_by_test_id("nav-my-tickets").click()
        rows = laura.get_by_test_id("portal-ticket-row")
        expect(rows).to_have_count(2)
        expect(laura.get_by_test_id("portal-tickets")).to_contain_text(form_number)
        expect(laura.get_by_test_id("portal-tickets")).to_contain_text(chat_number)
        laura.screenshot(path=str(SCREENSHOTS / "portal-my-tickets-desktop.png"), full_page=True)

        # --- Kim assigns: Tim's name appears on Laura's open page, live -----------------------------
        laura.get_by_role("link", name=form_number).click()
        expect(laura.get_by_test_id("live-status")).to_have_text("Live", timeout=TIMEOUT)
        expect(laura.get_by_test_id("portal-agent")).to_have_text("not assigned yet")
        login(kim, live_stack, "kim")
        kim.goto(f"{base}/admin/tickets/{form_number}")
        option = kim.get_by_test_id("assign-select").locator("option", has_text="Tim Agent")
        kim.get_by_test_id("assign-select").select_option(value=option.get_attribute("value"))
        kim.get_by_test_id("assign-button").click()
        expect(laura.get_by_test_id("portal-agent")).to_have_text("Tim Agent", timeout=TIMEOUT)

        # --- Tim replies with a file: it arrives live and Laura downloads it -----------------------
        steps = tmp_path / "reactivation-steps.txt"
        steps.write_text("1. Open the new link.\n2. Sign in within 24 hours.\n")
        login(tim, live_stack, "tim")
        tim.goto(f"{base}/agent/tickets/{form_number}")
        tim.get_by_test_id("reply-body").fill("Hello Laura, here is a fresh link and the steps.")
        tim.get_by_test_id("reply-attachments").set_input_files(str(steps))
        tim.get_by_test_id("reply-send").click()
        expect(tim.get_by_test_id("attachment-link")).to_have_text("reactivation-steps.txt")
        thread = laura.get_by_test_id("thread")
        expect(thread).to_contain_text("here is a fresh link", timeout=TIMEOUT)
        with laura.expect_download() as download:
            thread.get_by_test_id("attachment-link").click()
        assert download.value.suggested_filename == "reactivation-steps.txt"
        assert Path(download.value.path()).read_text() == steps.read_text()

        # --- she replies, marks it solved, signs out; the old cookie opens nothing --------------------
        laura.get_by_test_id("portal-reply-body").fill("Thank you, that worked!")
        laura.get_by_test_id("portal-reply-send").click()
        expect(laura.get_by_test_id("thread")).to_contain_text("Thank you, that worked!")
        laura.get_by_test_id("portal-solved").click()
        expect(laura.get_by_test_id("status")).to_have_text("resolved")
        laura.screenshot(path=str(SCREENSHOTS / "portal-ticket-desktop.png"), full_page=True)
        laura.set_viewport_size(PHONE)
        laura.screenshot(path=str(SCREENSHOTS / "portal-ticket-phone.png"), full_page=True)
        laura.goto(f"{base}/portal/tickets?status=all")
        laura.screenshot(path=str(SCREENSHOTS / "portal-my-tickets-phone.png"), full_page=True)

        cookies = laura.context.cookies()
        laura.get_by_test_id("portal-sign-out").click()
        expect(laura.get_by_role("heading", name="Sign in")).to_be_visible()
        replay = browser.new_context(viewport=DESKTOP)
        try:
            replay.add_cookies(cookies)
            page = replay.new_page()
            page.goto(f"{base}/portal/tickets")
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            assert "/portal/sign-in" in page.url
        finally:
            replay.close()
