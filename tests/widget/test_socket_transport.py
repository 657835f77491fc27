"""The real socket.io transport, against fake_rasa.mjs (Rasa 3.6's socketio channel, faked).

The end-to-end test against a real `rasa run` belongs to the project's e2e suite; these
pin the widget's side of docs/interfaces.md: long-polling only, session_request with the
stored session id and its token, user_uttered {message, session_id}, bot_uttered rendering.
"""

import json

from playwright.sync_api import expect


def socket_options(rasa, extra=""):
    return f"{{rasaUrl: '{rasa.url}', pollInterval: 200{extra}}}"


def test_session_and_messages_over_long_polling(embed, fake_rasa):
    rasa = fake_rasa()
    widget = embed(socket_options(rasa))
    widget.open()
    expect(widget.get("cc-status")).to_have_text("Online")
    widget.say("hello")
    expect(widget.messages("bot").last.locator(".cc-bubble")).to_have_text("Hi! I am the ACME assistant.")

    session_id = widget.storage("carechat:session_id")
    assert session_id and len(session_id) == 32
    assert widget.storage("carechat:session_token") == f"sig-{session_id}"
    assert rasa.events("session_request")[0]["data"] == {"session_id": None, "token": None}
    assert rasa.events("user_uttered")[0]["data"] == {
        "message": "hello", "session_id": session_id, "customData": {"language": "en"},
    }
    assert [entry["transport"] for entry in rasa.events("connect")] == ["polling"]
    assert rasa.events("upgrade") == []

    # A reload asks for the same session with its token, so Rasa keeps the conversation.
    widget.page.reload()
    widget.open()
    requests = rasa.wait_for("session_request", count=2)
    assert requests[1]["data"] == {"session_id": session_id, "token": f"sig-{session_id}"}


def test_a_session_the_server_does_not_continue_is_replaced(embed, fake_rasa):
    """A stored id whose token Rasa refuses (e.g. from before tokens, or copied from another
    browser): the widget keeps the new conversation Rasa starts instead, and talks in it."""
    rasa = fake_rasa()
    widget = embed(socket_options(rasa))
    widget.page.evaluate("""() => {
      localStorage.setItem('carechat:session_id', 'someone-elses-id');
      localStorage.setItem('carechat:session_token', 'forged');
    }""")
    widget.page.reload()
    widget.open()
    widget.say("hello")
    expect(widget.messages("bot").last.locator(".cc-bubble")).to_have_text("Hi! I am the ACME assistant.")
    assert rasa.events("session_request")[0]["data"] == {"session_id": "someone-elses-id", "token": "forged"}
    session_id = widget.storage("carechat:session_id")
    assert session_id != "someone-elses-id" and widget.storage("carechat:session_token") == f"sig-{session_id}"
    assert rasa.events("user_uttered")[0]["data"]["session_id"] == session_id


def test_buttons_articles_and_handoff_from_the_bot(embed, site, fake_rasa):
    site.conversations["tok-socket"] = {
        "number": "CR-10001", "status": "new", "owner": "queued", "agent": None, "messages": [],
    }
    rasa = fake_rasa()
    widget = embed(socket_options(rasa))
    widget.open()
    widget.say("buttons")
    widget.get("cc-reply").last.click()  # "No" -> /deny
    expect(widget.messages("user").locator(".cc-bubble")).to_have_text(["buttons", "No"])
    rasa.wait_for("user_uttered", count=2)
    assert rasa.events("user_uttered")[1]["data"]["message"] == "/deny"

    widget.say("articles")
    expect(widget.get("cc-card").locator("a")).to_have_text("Reset your password")

    widget.say("human")
    expect(widget.get("cc-ticket")).to_have_text(
        "Ticket CR-10001 — a person from our team will join shortly"
    )
    assert json.loads(widget.storage("carechat:handoff"))["token"] == "tok-socket"


def test_reconnecting_and_messages_typed_while_offline(embed, fake_rasa):
    rasa = fake_rasa()
    widget = embed(socket_options(rasa))
    widget.open()
    status = widget.get("cc-status")
    expect(status).to_have_text("Online")

    rasa.stop()
    expect(status).to_have_text("Reconnecting…")
    widget.say("are you back?")

    restarted = fake_rasa(rasa.port)
    expect(status).to_have_text("Online", timeout=20000)
    expect(widget.messages("bot").last.locator(".cc-bubble")).to_have_text("You said: are you back?")
    # The new server saw the session first, then the message that waited for it.
    assert [entry["event"] for entry in restarted.log()] == ["connect", "session_request", "user_uttered"]
    assert restarted.events("session_request")[0]["data"]["session_id"] == widget.storage("carechat:session_id")
