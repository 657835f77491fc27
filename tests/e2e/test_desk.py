"""The desk in a real browser against the real processes: the queue's filters and sort (a
breaching ticket on top), a hand-off of an acknowledged ticket, spam closed without mail, and
a merge of two tickets of one customer."""
from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

from ..browser import ARTIFACTS
from .chat import TIMEOUT, login, separate_people
from .conftest import RunningStack
from .test_console_workflow import call

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
VIEWPORT = {"width": 1280, "height": 900}


def open_ticket(stack: RunningStack, subject: str, email: str) -> str:
    opened = call(stack, "POST", "/api/v1/tickets", {
        "name": "Desk Customer", "email": email, "channel": "web_chat", "subject": subject,
        "conversation_id": f"desk-{uuid.uuid4().hex[:8]}", "transcript": [],
    }, headers={"Authorization": f"Bearer {stack.config.service_token}", "Idempotency-Key": uuid.uuid4().hex})
    return str(opened["number"])


def sql(stack: RunningStack, statement: str, **values: object) -> list[tuple]:
    engine = create_engine(stack.config.database_url)
    try:
        with engine.begin() as connection:
            result = connection.execute(text(statement), values)
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


def numbers_on(page: Page) -> list[str]:
    return page.get_by_test_id("ticket-link").all_inner_texts()


def test_queue_filters_and_sort_put_the_breaching_ticket_on_top(live_stack: RunningStack, browser) -> None:
    marker = f"zq{uuid.uuid4().hex[:6]}"
    calm = [open_ticket(live_stack, f"{marker} question {i}", f"{marker}{i}@example.com") for i in range(3)]
    late = open_ticket(live_stack, f"{marker} question late", f"{marker}late@example.com")  # the newest
    sql(live_stack, "UPDATE tickets SET sla_state = 'breached', first_response_due = '2000-01-01 00:00:00.000000'"
                    " WHERE number = :n", n=late)
    with separate_people(browser, 1, VIEWPORT) as (admin,):
        login(admin, live_stack, "kim")
        admin.goto(f"{live_stack.api_url}/admin/?q={marker}")
        expect(admin.get_by_test_id("queue-row").first).to_have_attribute("data-sla", "breached")
        assert numbers_on(admin)[0] == late  # due first, although it is the newest
        admin.get_by_label("Sort").select_option("newest")
        admin.get_by_role("button", name="Filter").click()
        expect(admin.get_by_test_id("ticket-link").first).to_have_text(late)
        assert numbers_on(admin) == [late, *reversed(calm)]
        admin.get_by_label("SLA").select_option("breaching")
        admin.get_by_role("button", name="Filter").click()
        expect(admin.get_by_test_id("ticket-link")).to_have_count(1)
        assert numbers_on(admin) == [late] and "sla=breaching" in admin.url and f"q={marker}" in admin.url
        admin.reload()  # the filters live in the URL
        expect(admin.get_by_label("SLA")).to_have_value("breaching")
        admin.screenshot(path=str(ARTIFACTS / "e2e-queue-breaching.png"), full_page=True)


def test_hand_off_spam_and_merge(live_stack: RunningStack, browser) -> None:
    marker = uuid.uuid4().hex[:6]
    base = live_stack.api_url
    handed = open_ticket(live_stack, f"Locked out {marker}", f"laura.{marker}@example.com")
    with separate_people(browser, 3, VIEWPORT) as (admin, tim, terrence):
        login(admin, live_stack, "kim")
        admin.goto(f"{base}/admin/tickets/{handed}")
        select = admin.get_by_test_id("assign-select")
        select.select_option(value=select.locator("option", has_text="Tim Agent").get_attribute("value"))
        admin.get_by_test_id("assign-button").click()
        expect(admin.get_by_test_id("assignee")).to_have_text("Tim Agent")
        login(tim, live_stack, "tim")
        tim.goto(f"{base}/agent/tickets/{handed}")
        tim.get_by_test_id("acknowledge").click()
        expect(tim.get_by_test_id("status")).to_have_text("acknowledged")

        # Tim is ill: Kim hands his acknowledged ticket to Terrence, with a note
        admin.reload()
        form = admin.get_by_test_id("hand-off-form")
        option = form.locator("option", has_text="Terrence")
        form.get_by_test_id("hand-off-select").select_option(value=option.get_attribute("value"))
        form.get_by_label("Note for the next agent").fill("Tim is ill today; Laura is waiting for a call back.")
        admin.get_by_test_id("hand-off-button").click()
        expect(admin.get_by_role("status").first).to_contain_text(f"{handed} handed off to Terrence")
        expect(admin.get_by_test_id("assignee")).to_contain_text("Terrence")
        login(terrence, live_stack, "terrence")
        terrence.goto(f"{base}/agent/")
        expect(terrence.get_by_role("link", name=handed)).to_be_visible(timeout=TIMEOUT)
        terrence.get_by_role("link", name=handed).click()
        expect(terrence.get_by_test_id("thread")).to_contain_text("Laura is waiting for a call back")
        terrence.get_by_test_id("acknowledge").click()
        expect(terrence.get_by_test_id("status")).to_have_text("acknowledged")

        # spam: closed without a word to the sender, whose next mails are dropped
        spam = open_ticket(live_stack, f"Cheap watches {marker}", f"spam.{marker}@example.net")
        before = sql(live_stack, "SELECT count(*) FROM outbox WHERE to_addr = :a", a=f"spam.{marker}@example.net")
        admin.goto(f"{base}/admin/tickets/{spam}")
        admin.get_by_test_id("spam-block").check()
        admin.get_by_test_id("spam-button").click()
        expect(admin.get_by_role("status").first).to_contain_text(f"{spam} closed as spam; nothing was sent")
        after = sql(live_stack, "SELECT count(*) FROM outbox WHERE to_addr = :a", a=f"spam.{marker}@example.net")
        assert after == before
        assert sql(live_stack, "SELECT status FROM tickets WHERE number = :n", n=spam) == [("closed",)]
        assert sql(live_stack, "SELECT ticket_number FROM blocked_senders WHERE email = :a",
                   a=f"spam.{marker}@example.net") == [(spam,)]

        # merge: Laura wrote twice about one thing
        twin = open_ticket(live_stack, f"Still locked out {marker}", f"laura.{marker}@example.com")
        admin.goto(f"{base}/admin/tickets/{twin}")
        admin.get_by_test_id("merge-into").fill(handed)
        admin.get_by_test_id("merge-button").click()
        expect(admin.get_by_role("status").first).to_contain_text(f"{twin} is merged into {handed}")
        expect(admin.get_by_test_id("ticket-number")).to_have_text(handed)
        expect(admin.get_by_test_id("thread")).to_contain_text(re.compile(f"{twin} was merged into {handed}"))
        expect(admin.get_by_test_id("customer-history")).to_contain_text(twin)
        admin.screenshot(path=str(ARTIFACTS / "e2e-desk-merged.png"), full_page=True)
