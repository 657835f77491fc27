"""After the handoff: the ticket banner, agent messages from the escalation API, resolution."""

import json
import time

from playwright.sync_api import expect

FAST = "{transport: window.__ccTransport, pollInterval: 200}"
HANDOFF = {"handoff": {"ticket": "CR-10001", "token": "tok-123"}}


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def queued_conversation():
    return {"number": "CR-10001", "status": "new", "owner": "queued", "agent": None, "messages": []}


def agent_message(message_id, body, name="Tim"):
    return {"id": message_id, "author": "agent", "author_name": name, "body": body,
            "created_at": "2024-05-01T10:02:00Z"}


def hand_off(embed, site, options=FAST):
    site.conversations["tok-123"] = queued_conversation()
    widget = embed(options)
    widget.open()
    widget.say("talk to a human")
    widget.bot_says({"text": "I opened ticket CR-10001 for you."})
    widget.bot_says(HANDOFF)
    return widget


def test_handoff_shows_the_ticket_and_stores_it(embed, site):
    widget = hand_off(embed, site)
    expect(widget.get("cc-ticket")).to_have_text(
        "Ticket CR-10001 — a person from our team will join shortly"
    )
    stored = json.loads(widget.storage("carechat:handoff"))
    assert (stored["ticket"], stored["token"]) == ("CR-10001", "tok-123")
    expect(widget.get("cc-typing")).to_be_hidden()


def test_agent_messages_and_status_arrive_by_polling(embed, site):
    widget = hand_off(embed, site)
    conversation = site.conversations["tok-123"]
    with site.lock:
        conversation.update(owner="agent", agent="Tim", status="open")
        conversation["messages"] += [
            {"id": 1, "author": "customer", "author_name": "Laura", "body": "talk to a human",
             "created_at": 1714557600},
            agent_message(2, 'Hi Laura, I am looking at your account. <b>One moment</b>'),
        ]
    agent = widget.messages("agent")
    expect(agent.locator(".cc-bubble")).to_have_text(
        ["Hi Laura, I am looking at your account. <b>One moment</b>"]
    )
    expect(agent.locator(".cc-author")).to_have_text(["Tim"])
    assert agent.locator("time").get_attribute("datetime") == "2024-05-01T10:02:00.000Z"
    expect(widget.messages("system").locator(".cc-bubble")).to_have_text(["Tim joined the conversation"])
    expect(widget.get("cc-ticket")).to_have_text("Ticket CR-10001 — Tim is helping you")
    # The customer's own message is not shown a second time.
    expect(widget.messages("user")).to_have_count(1)

    # Each message is shown once, however many polls see it.
    with site.lock:
        conversation["messages"].append(agent_message(3, "Your account is active again."))
    expect(agent).to_have_count(2)
    widget.page.wait_for_timeout(600)
    expect(agent).to_have_count(2)


def test_resolution_returns_the_chat_to_the_bot(embed, site):
    widget = hand_off(embed, site)
    with site.lock:
        site.conversations["tok-123"].update(status="resolved", owner="bot")
    expect(widget.messages("system").locator(".cc-bubble")).to_have_text(
        ["Ticket CR-10001 was resolved. You are chatting with our assistant again."]
    )
    expect(widget.get("cc-ticket")).to_be_hidden()
    assert widget.storage("carechat:handoff") is None
    polls = site.polls("tok-123")
    widget.page.wait_for_timeout(700)
    assert site.polls("tok-123") == polls  # polling stopped
    widget.say("thanks")
    assert widget.sent()[-1] == "thanks"


def test_unknown_token_ends_the_handoff(embed, site):
    widget = embed(FAST)
    widget.open()
    widget.bot_says({"handoff": {"ticket": "CR-404", "token": "nope"}})
    expect(widget.messages("system").locator(".cc-bubble")).to_have_text(
        ["Ticket CR-404 is no longer available. You are chatting with our assistant again."]
    )
    assert widget.storage("carechat:handoff") is None


def test_a_reload_resumes_the_handoff(embed, site):
    widget = hand_off(embed, site)
    widget.page.reload()
    expect(widget.get("cc-ticket")).to_have_text(
        "Ticket CR-10001 — a person from our team will join shortly"
    )
    # Polling resumes at once, even with the panel closed; messages count as unread.
    with site.lock:
        site.conversations["tok-123"]["messages"].append(agent_message(7, "Hello from Tim"))
    expect(widget.get("cc-badge")).to_have_text("1")
    widget.open()
    expect(widget.messages("agent").locator(".cc-bubble")).to_have_text(["Hello from Tim"])


def test_with_the_rasa_handoff_transport_messages_still_go_to_the_bot(embed, site):
    widget = hand_off(embed, site, "{transport: window.__ccTransport, pollInterval: 200, handoffTransport: 'rasa'}")
    widget.say("are you there?")
    assert widget.sent() == ["talk to a human", "are you there?"]
    assert site.posted == []
    expect(widget.get("cc-typing")).to_be_hidden()  # no bot answer is expected now


def test_after_the_handoff_messages_go_to_the_ticket(embed, site):
    widget = hand_off(embed, site)
    widget.say("are you there?")
    expect(widget.messages("user").locator(".cc-bubble")).to_have_text(["talk to a human", "are you there?"])
    wait_until(lambda: site.posted)
    assert site.posted == [("tok-123", {"body": "are you there?"})]
    assert widget.sent() == ["talk to a human"]
    # The posted message comes back in the ticket thread: it is not shown a second time.
    polls = site.polls("tok-123")
    wait_until(lambda: site.polls("tok-123") >= polls + 3)
    expect(widget.messages("user")).to_have_count(2)


def test_a_failed_post_is_reported(embed, site):
    widget = hand_off(embed, site)
    widget.page.route("**/messages", lambda route: route.fulfill(status=500, body="oops"))
    widget.say("hello?")
    expect(widget.messages("system").locator(".cc-bubble")).to_have_text(
        ["Your message could not be delivered. Please try again."]
    )


def test_api_errors_show_reconnecting_then_recover(embed, site):
    widget = hand_off(embed, site)
    status = widget.get("cc-status")
    expect(status).to_have_text("Online")
    widget.page.route("**/api/v1/conversations/**", lambda route: route.fulfill(status=503, body="busy"))
    expect(status).to_have_text("Reconnecting…")
    widget.page.unroute("**/api/v1/conversations/**")
    expect(status).to_have_text("Online", timeout=10000)


# With the live-event stream: every event (and every reconnect) triggers one fetch of the
# conversation; there is no polling.

def test_live_events_bring_agent_messages_without_polling(embed, site):
    site.streams.add("tok-123")
    widget = hand_off(embed, site)
    wait_until(lambda: site.stream_requests)
    assert site.stream_requests[0] == {"token": "tok-123", "after": None, "last_event_id": None}
    expect(widget.get("cc-status")).to_have_text("Online")
    wait_until(lambda: site.polls("tok-123") >= 1)  # the fetch on connect
    widget.page.wait_for_timeout(200)
    polls = site.polls("tok-123")
    widget.page.wait_for_timeout(800)
    assert site.polls("tok-123") == polls  # the stream replaces polling

    with site.lock:
        site.conversations["tok-123"].update(owner="agent", agent="Tim", status="acknowledged")
        site.conversations["tok-123"]["messages"].append(agent_message(5, "Hi, Tim here."))
    site.push_event("tok-123", "agent_joined", {"agent": "Tim"})
    expect(widget.messages("agent").locator(".cc-bubble")).to_have_text(["Hi, Tim here."])
    expect(widget.get("cc-ticket")).to_have_text("Ticket CR-10001 — Tim is helping you")
    wait_until(lambda: json.loads(widget.storage("carechat:handoff")).get("eventId") == "1")


def test_a_dropped_stream_resumes_from_the_last_event(embed, site):
    site.streams.add("tok-123")
    widget = hand_off(embed, site)
    site.push_event("tok-123", "status", {"status": "assigned", "owner": "agent"})
    wait_until(lambda: json.loads(widget.storage("carechat:handoff")).get("eventId") == "1")

    site.drop_streams()
    with site.lock:
        site.conversations["tok-123"]["messages"].append(agent_message(6, "Sorry for the wait."))
    site.push_event("tok-123", "message", agent_message(6, "Sorry for the wait."))
    expect(widget.messages("agent").locator(".cc-bubble")).to_have_text(["Sorry for the wait."])
    wait_until(lambda: len(site.stream_requests) >= 2)
    assert site.stream_requests[1]["last_event_id"] == "1"

    # A reload picks the stream up after the last event it saw, too.
    widget.page.reload()
    wait_until(lambda: len(site.stream_requests) >= 3)
    assert site.stream_requests[-1]["after"] == "2"
    expect(widget.get("cc-ticket")).to_have_text("Ticket CR-10001 — a person from our team will join shortly")


def test_a_resolution_event_ends_the_handoff_and_the_stream(embed, site):
    site.streams.add("tok-123")
    widget = hand_off(embed, site)
    wait_until(lambda: site.stream_requests)
    with site.lock:
        site.conversations["tok-123"].update(status="resolved", owner="bot")
    site.push_event("tok-123", "status", {"status": "resolved", "owner": "bot"})
    expect(widget.messages("system").locator(".cc-bubble")).to_have_text(
        ["Ticket CR-10001 was resolved. You are chatting with our assistant again."]
    )
    site.drop_streams()
    widget.page.wait_for_timeout(600)
    assert len(site.stream_requests) == 1  # closed, not reconnected


def test_a_failed_fetch_while_streaming_is_retried(embed, site):
    site.streams.add("tok-123")
    widget = hand_off(embed, site)
    expect(widget.get("cc-status")).to_have_text("Online")
    widget.page.route("**/api/v1/conversations/tok-123", lambda route: route.fulfill(status=503, body="busy"))
    with site.lock:
        site.conversations["tok-123"]["messages"].append(agent_message(8, "Still there?"))
    site.push_event("tok-123", "message", agent_message(8, "Still there?"))
    expect(widget.get("cc-status")).to_have_text("Reconnecting…")
    widget.page.unroute("**/api/v1/conversations/tok-123")
    expect(widget.messages("agent").locator(".cc-bubble")).to_have_text(["Still there?"])
    expect(widget.get("cc-status")).to_have_text("Online")
