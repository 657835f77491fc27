"""Kim raises tickets on someone's behalf in a real browser: a new person who walked in, then
the same person again, found by the search, after a meeting. Each gets the acknowledgement."""
from __future__ import annotations

import sqlite3
import uuid

import pytest
from playwright.sync_api import expect

from ..browser import ARTIFACTS
from .chat import login
from .conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_kim_raises_tickets_for_a_walk_in_and_after_a_meeting(live_stack: RunningStack, browser) -> None:
    email = f"sam.{uuid.uuid4().hex[:6]}@northwind.example"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, live_stack, "kim")
    page.goto(f"{live_stack.api_url}/admin/")
    page.get_by_test_id("raise-ticket").click()

    page.get_by_label("Find a customer or employee").fill(email)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_test_id("people")).to_contain_text("Nobody found")
    page.get_by_label("Name", exact=True).fill("Sam Okafor")
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_label("Came in by").select_option("walk_in")
    page.get_by_label("Description", exact=True).fill("Came to the desk: the new laptop does not join the office Wi-Fi.")
    page.get_by_test_id("raise-submit").click()
    expect(page.get_by_role("status").first).to_contain_text("opened for Sam Okafor (Walk-in)")
    expect(page.get_by_text("walk in", exact=True)).to_be_visible()
    first = page.get_by_test_id("ticket-number").inner_text()

    page.goto(f"{live_stack.api_url}/admin/tickets/new")
    page.get_by_label("Find a customer or employee").fill("Sam Okafor")
    page.get_by_role("button", name="Search").click()
    page.get_by_test_id("person").filter(has_text=email).click()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Sam Okafor")
    expect(page.get_by_label("E-mail", exact=True)).to_have_value(email)
    page.get_by_label("Came in by").select_option("meeting")
    page.get_by_label("Subject (optional)", exact=True).fill("Access to the finance shared drive")
    page.get_by_label("Description", exact=True).fill("Asked in the Monday meeting: needs the finance drive for the audit.")
    page.get_by_test_id("raise-submit").click()
    expect(page.get_by_role("status").first).to_contain_text("opened for Sam Okafor (Meeting)")
    second = page.get_by_test_id("ticket-number").inner_text()
    page.screenshot(path=str(ARTIFACTS / "e2e-raise-on-behalf.png"), full_page=True)

    path = (live_stack.config.database_url or "").removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT t.number, t.channel, o.kind FROM outbox o JOIN tickets t ON t.id = o.ticket_id "
                          "WHERE o.to_addr = ? ORDER BY t.id", (email,)).fetchall()
    assert rows == [(first, "walk_in", "acknowledgement"), (second, "meeting", "acknowledgement")]
