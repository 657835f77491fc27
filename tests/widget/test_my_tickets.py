"""My tickets: this browser's tickets in the panel, each with its thread and a reply box.

The fake site plays `POST /api/v1/conversations/lookup` like the escalation API (the tickets
the tokens unlock, unknown ones left out). The screenshots go to tests/artifacts/
(widget-my-tickets-desktop.png and widget-my-tickets-thread-desktop.png at 1280x800,
widget-my-tickets-phone.png at 360x740);
docs/screenshots/ holds copies of them for the README.
"""

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

ARTIFACTS = Path(__file__).resolve().parents[2] / "tests" / "artifacts"
OPTIONS = "{transport: window.__ccTransport, pollInterval: 200, title: 'ACME Customer Care'}"
EMPTY = "No tickets yet. When you talk to a person, your ticket appears here."
XSS = "<img src=x onerror=alert(1)>"


def message(message_id, author, body, name=None, at="2024-05-02T09:30:00Z"):
    return {"id": message_id, "author": author, "author_name": name or ("Tim Agent" if author == "agent" else "Laura"),
            "body": body, "created_at": at}


def seed_conversations(site):
    with site.lock:
        site.conversations["tok-a"] = {
            "number": "CR-10001", "subject": "Cannot sign in after the password reset", "status": "waiting_on_customer",
            "owner": "agent", "agent": "Tim Agent", "updated_at": "2024-05-02T09:31:00+00:00",
            "messages": [message(1, "customer", "I cannot sign in since I reset my password."),
                         message(2, "agent", "Hi Laura, I reset the lock on your account. Can you try again?")],
        }
        site.conversations["tok-b"] = {
            "number": "CR-10002", "subject": "Refund for order 4711", "status": "resolved", "owner": "bot",
            "agent": None, "updated_at": "2024-05-01T15:00:00+00:00",
            "messages": [message(3, "agent", "The refund is on its way.", at="2024-05-01T15:00:00Z")],
        }


def with_tickets(embed, entries, options=OPTIONS):
    """A page whose browser opened the tickets `entries` ([(number, token)]) before."""
    widget = embed(options)
    stored = [{"ticket": number, "token": token, "added": 1714557600000} for number, token in entries]
    widget.page.evaluate("v => localStorage.setItem('carechat:tickets', v)", json.dumps(stored))
    widget.page.reload()
    widget.get("cc-launcher").wait_for(state="visible")
    return widget


def open_my_tickets(widget):
    if not widget.get("cc-panel").is_visible():
        widget.open()
    widget.get("cc-tickets-button").click()
    expect(widget.get("cc-tickets")).to_be_visible()


def stored_tokens(widget):
    return [e["token"] for e in json.loads(widget.storage("carechat:tickets") or "[]")]


def items(widget):
    return widget.get("cc-tk-item")


def test_empty_state_and_the_way_back(embed, site):
    widget = embed(OPTIONS)
    widget.open()
    button = widget.get("cc-tickets-button")
    expect(button).to_have_attribute("aria-expanded", "false")
    open_my_tickets(widget)
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(widget.get("cc-tk-empty")).to_have_text(EMPTY)
    expect(widget.get("cc-chat")).to_be_hidden()
    expect(widget.page.get_by_role("region", name="My tickets")).to_be_visible()
    assert widget.focused() == "cc-tk-title"
    assert site.lookups == []  # nothing to look up
    widget.get("cc-tk-back").click()
    expect(widget.get("cc-chat")).to_be_visible()
    expect(widget.get("cc-tickets")).to_be_hidden()
    assert widget.focused() == "cc-tickets-button"


def test_a_handoff_adds_its_ticket_and_the_list_shows_number_subject_status_update(embed, site):
    seed_conversations(site)
    widget = with_tickets(embed, [("CR-10002", "tok-b"), ("CR-9999", "tok-gone")])
    widget.open()
    widget.bot_says({"handoff": {"ticket": "CR-10001", "token": "tok-a"}})
    assert stored_tokens(widget) == ["tok-a", "tok-b", "tok-gone"]

    open_my_tickets(widget)
    expect(items(widget)).to_have_count(2)
    assert site.lookups == [["tok-a", "tok-b", "tok-gone"]]
    # newest update first; the ticket the service does not know is left out, and forgotten
    expect(items(widget).locator(".cc-tk-number")).to_have_text(["CR-10001", "CR-10002"])
    expect(widget.get("cc-tk-subject")).to_have_text(
        ["Cannot sign in after the password reset", "Refund for order 4711"])
    expect(widget.get("cc-tk-status")).to_have_text(["Waiting for your reply", "Resolved"])
    expect(items(widget).locator(".cc-tk-updated")).to_have_text([re.compile(r"^Updated \S")] * 2)
    assert items(widget).first.locator("time").get_attribute("datetime") == "2024-05-02T09:31:00.000Z"
    name = re.compile(r"^CR-10002, Refund for order 4711, Resolved, Updated")
    expect(widget.page.get_by_role("button", name=name)).to_be_visible()
    assert stored_tokens(widget) == ["tok-a", "tok-b"]

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    widget.page.screenshot(path=ARTIFACTS / "widget-my-tickets-desktop.png")


def test_open_a_ticket_read_its_thread_and_reply(embed, site):
    seed_conversations(site)
    widget = with_tickets(embed, [("CR-10001", "tok-a"), ("CR-10002", "tok-b")])
    open_my_tickets(widget)
    items(widget).filter(has_text="CR-10001").click()

    expect(widget.get("cc-tk-title")).to_have_text("CR-10001")
    assert widget.focused() == "cc-tk-title"
    expect(widget.get("cc-tk-thread-subject")).to_have_text("Cannot sign in after the password reset")
    thread = widget.get("cc-tk-msg")
    expect(thread.locator(".cc-bubble")).to_have_text([
        "I cannot sign in since I reset my password.",
        "Hi Laura, I reset the lock on your account. Can you try again?",
    ])
    expect(thread.locator(".cc-author")).to_have_text(["You", "Tim Agent"])
    expect(widget.page.get_by_role("log", name="Messages of ticket CR-10001")).to_be_visible()

    # An agent's answer arrives while the thread is open (it is followed live).
    with site.lock:
        site.conversations["tok-a"]["messages"].append(message(4, "agent", "Did it work?"))
    expect(thread).to_have_count(3)

    widget.get("cc-tk-input").fill("Yes, it works now. Thank you!")
    widget.get("cc-tk-input").press("Enter")
    expect(thread.last.locator(".cc-bubble")).to_have_text("Yes, it works now. Thank you!")
    assert site.posted == [("tok-a", {"body": "Yes, it works now. Thank you!"})]
    expect(widget.get("cc-tk-input")).to_have_value("")
    assert widget.focused() == "cc-tk-input"
    # not the chat's own ticket: nothing is added to the chat
    expect(widget.messages("user")).to_have_count(0)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    widget.page.screenshot(path=ARTIFACTS / "widget-my-tickets-thread-desktop.png")

    widget.get("cc-tk-back").click()
    expect(items(widget)).to_have_count(2)
    assert widget.focused() == "cc-tk-item"
    assert widget.shadow("root.activeElement.dataset.number") == "CR-10001"


def test_a_failed_reply_says_so_and_keeps_the_text(embed, site):
    seed_conversations(site)
    widget = with_tickets(embed, [("CR-10001", "tok-a")])
    open_my_tickets(widget)
    items(widget).click()
    widget.page.route("**/tok-a/messages", lambda route: route.fulfill(
        status=409, content_type="application/json",
        body=json.dumps({"error": {"code": "ticket_closed", "message": "This ticket is closed.", "details": {}}})))
    widget.get("cc-tk-input").fill("hello?")
    widget.get("cc-tk-send").click()
    expect(widget.get("cc-tk-send-error")).to_have_text("This ticket is closed.")
    expect(widget.get("cc-tk-input")).to_have_value("hello?")


def test_keyboard_only(embed, site):
    seed_conversations(site)
    widget = with_tickets(embed, [("CR-10001", "tok-a"), ("CR-10002", "tok-b")])
    page = widget.page
    widget.open()
    assert widget.focused() == "cc-input"
    for _ in range(3):  # the log, the close button, then My tickets
        page.keyboard.press("Shift+Tab")
    assert widget.focused() == "cc-tickets-button"
    page.keyboard.press("Enter")
    expect(items(widget)).to_have_count(2)
    assert widget.focused() == "cc-tk-title"
    page.keyboard.press("Tab")
    assert widget.shadow("root.activeElement.dataset.number") == "CR-10001"
    page.keyboard.press("ArrowDown")
    assert widget.shadow("root.activeElement.dataset.number") == "CR-10002"
    page.keyboard.press("ArrowDown")  # stays on the last
    assert widget.shadow("root.activeElement.dataset.number") == "CR-10002"
    page.keyboard.press("Home")
    assert widget.shadow("root.activeElement.dataset.number") == "CR-10001"
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    expect(widget.get("cc-tk-title")).to_have_text("CR-10002")
    assert widget.focused() == "cc-tk-title"
    page.keyboard.press("Tab")  # the thread (scrollable)
    assert widget.focused() == "cc-tk-thread"
    page.keyboard.press("Tab")
    assert widget.focused() == "cc-tk-input"
    page.keyboard.type("Thanks for the refund")
    page.keyboard.press("Enter")
    expect(widget.get("cc-tk-msg").last.locator(".cc-bubble")).to_have_text("Thanks for the refund")
    assert site.posted == [("tok-b", {"body": "Thanks for the refund"})]
    for _ in range(4):  # thread, then the way back
        page.keyboard.press("Shift+Tab")
        if widget.focused() == "cc-tk-back":
            break
    assert widget.focused() == "cc-tk-back"
    page.keyboard.press("Enter")
    expect(widget.get("cc-tk-title")).to_have_text("My tickets")
    assert widget.shadow("root.activeElement.dataset.number") == "CR-10002"  # where we came from
    page.keyboard.press("Escape")
    expect(widget.get("cc-panel")).to_be_hidden()
    assert widget.focused() == "cc-launcher"
    page.keyboard.press("Enter")  # opens on the chat again
    expect(widget.get("cc-chat")).to_be_visible()
    assert widget.focused() == "cc-input"


def test_service_down_says_so_and_retry_works(embed, site):
    seed_conversations(site)
    widget = with_tickets(embed, [("CR-10001", "tok-a")])
    widget.page.route("**/api/v1/conversations/lookup", lambda route: route.fulfill(status=503, body="down"))
    open_my_tickets(widget)
    error = widget.get("cc-tk-error")
    expect(error).to_contain_text("Your tickets could not be loaded: our ticket service is not reachable right now.")
    expect(error).to_have_attribute("role", "alert")
    assert stored_tokens(widget) == ["tok-a"]  # an error forgets nothing
    widget.page.unroute("**/api/v1/conversations/lookup")
    widget.get("cc-tk-retry").click()
    expect(items(widget)).to_have_count(1)
    assert widget.focused() == "cc-tk-title"


def test_server_text_is_shown_as_text(embed, site):
    dialogs = []
    with site.lock:
        site.conversations["tok-x"] = {
            "number": "CR-10003", "subject": XSS, "status": "in_progress", "owner": "agent", "agent": XSS,
            "messages": [message(9, "agent", XSS, name=XSS)],
        }
    widget = with_tickets(embed, [("CR-10003", "tok-x")])
    widget.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_my_tickets(widget)
    expect(widget.get("cc-tk-subject")).to_have_text(XSS)
    items(widget).click()
    expect(widget.get("cc-tk-thread-subject")).to_have_text(XSS)
    expect(widget.get("cc-tk-msg").locator(".cc-bubble")).to_have_text(XSS)
    expect(widget.get("cc-tk-msg").locator(".cc-author")).to_have_text(XSS)
    widget.page.wait_for_timeout(300)
    assert widget.shadow("root.querySelectorAll('img').length") == 0
    assert dialogs == []


@pytest.mark.parametrize("viewport", [{"width": 360, "height": 740}])
def test_phone_layout(embed, site):
    seed_conversations(site)
    widget = with_tickets(embed, [("CR-10001", "tok-a"), ("CR-10002", "tok-b")])
    open_my_tickets(widget)
    expect(items(widget)).to_have_count(2)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    widget.page.screenshot(path=ARTIFACTS / "widget-my-tickets-phone.png")

    # However long the words, nothing overflows sideways: not the list, not a thread.
    with site.lock:
        site.conversations["tok-long"] = {
            "number": "CR-10004", "subject": "w" * 200, "status": "new", "owner": "queued", "agent": None,
            "updated_at": "2024-04-30T08:00:00+00:00", "messages": [message(10, "agent", "x" * 400)],
        }
    widget.get("cc-tk-back").click()
    widget.bot_says({"handoff": {"ticket": "CR-10004", "token": "tok-long"}})
    open_my_tickets(widget)
    expect(items(widget)).to_have_count(3)
    for test_id in ("cc-tickets-button", "cc-close", "cc-tk-back", "cc-tk-title"):
        box = widget.get(test_id).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360, test_id
    for i in range(3):
        box = items(widget).nth(i).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    assert widget.shadow("(b => b.scrollWidth <= b.clientWidth)(root.querySelector('.cc-tk-body'))")
    assert widget.page.evaluate("() => document.documentElement.scrollWidth") <= 360

    items(widget).filter(has_text="CR-10004").click()
    expect(widget.get("cc-tk-msg")).to_have_count(1)
    for test_id in ("cc-tk-input", "cc-tk-send", "cc-tk-back", "cc-tk-thread-subject"):
        box = widget.get(test_id).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360, test_id
    assert widget.get("cc-tk-thread-subject").bounding_box()["height"] < 60  # two lines at most
    assert widget.shadow("(b => b.scrollWidth <= b.clientWidth)(root.querySelector('.cc-tk-thread'))")
    assert widget.page.evaluate("() => document.documentElement.scrollWidth") <= 360


def test_a_ticket_handed_back_unresolved_is_not_called_resolved(embed, site):
    with site.lock:
        site.conversations["tok-h"] = {"number": "CR-10005", "subject": "Address change", "status": "new",
                                       "owner": "queued", "agent": None, "messages": []}
    widget = embed(OPTIONS)
    widget.open()
    widget.bot_says({"handoff": {"ticket": "CR-10005", "token": "tok-h"}})
    expect(widget.get("cc-ticket")).to_be_visible()
    with site.lock:
        site.conversations["tok-h"].update(owner="bot", status="in_progress")
    expect(widget.messages("system").locator(".cc-bubble")).to_have_text([
        "Ticket CR-10005 is still open: you can follow it in My tickets. You are chatting with our assistant again."
    ])
    expect(widget.get("cc-survey")).to_have_count(0)
    assert widget.storage("carechat:handoff") is None
    open_my_tickets(widget)
    expect(widget.get("cc-tk-status")).to_have_text(["In progress"])


def test_the_list_keeps_the_last_twenty_tickets(embed, site):
    widget = embed(OPTIONS)
    widget.open()
    for i in range(22):
        widget.bot_says({"handoff": {"ticket": f"CR-{20000 + i}", "token": f"tok-{i}"}})
    tokens = stored_tokens(widget)
    assert len(tokens) == 20 and tokens[0] == "tok-21" and tokens[-1] == "tok-2"


def test_my_tickets_links_to_the_customer_portal(embed, site):
    """Every ticket of the customer's address (any browser, any channel) is in the portal."""
    widget = with_tickets(embed, [("CR-10001", "tok-a")])
    seed_conversations(site)
    open_my_tickets(widget)
    link = widget.get("cc-tk-portal")
    expect(link).to_have_text("All your tickets, from every device, in the customer portal")
    api_url = widget.page.evaluate("() => CareChat.options ? CareChat.options.apiUrl : null")
    href = link.get_attribute("href")
    assert href.endswith("/portal/tickets") and (api_url is None or href.startswith(api_url))
    assert link.get_attribute("target") == "_blank" and link.get_attribute("rel") == "noopener"


@pytest.mark.parametrize("portal_url", ["''", "'javascript:alert(1)'"])
def test_the_portal_link_can_be_switched_off_and_never_runs_script(embed, site, portal_url):
    widget = embed("{transport: window.__ccTransport, portalUrl: " + portal_url + "}")
    open_my_tickets(widget)
    expect(widget.get("cc-tk-empty")).to_be_visible()
    expect(widget.get("cc-tk-portal")).to_have_count(0)
