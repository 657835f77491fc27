"""Rasa's Slack channel (chatbot/slack_channel.py) against the fake Slack Web API:
signatures, retried events processed once, the sender's profile, the ticket's thread,
Slack's 429, and how buttons and the widget's payloads read in Slack."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
from multidict import CIMultiDict

from slack_channel import CareSlackBot, CareSlackInput, signed_headers
from tests.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, message_event

AUSTIN, DM = "U0AUSTIN", "D0AUSTIN"


@pytest.fixture
def slack():
    with FakeSlack(users={AUSTIN: {"name": "Austin Coy", "email": "austin.coy@northwind.example"}}) as fake:
        yield fake


class FakeDesk:
    """The escalation service's thread-message endpoint: takes messages of thread "1.5"."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        desk = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                ok = body["thread_ts"] == "1.5" and self.headers.get("Authorization") == "Bearer svc"
                if ok:
                    desk.received.append(body)
                self.send_response(201 if ok else 404)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def channel(slack, monkeypatch):
    desk = FakeDesk()
    monkeypatch.setenv("CARE_API_URL", desk.url)
    monkeypatch.setenv("CARE_SERVICE_TOKEN", "svc")
    monkeypatch.setenv("CARE_SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("CARE_SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("CARE_SLACK_API_URL", slack.api_url)
    channel = CareSlackInput.from_credentials({"use_threads": True, "conversation_granularity": "thread"})
    channel.desk = desk
    yield channel
    desk.server.shutdown()
    desk.server.server_close()


def request(envelope: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    body = json.dumps(envelope).encode()
    return SimpleNamespace(headers=CIMultiDict({**signed_headers(SIGNING_SECRET, body), **(headers or {})}),
                           json=envelope, body=body, form={})


def deliver(channel: CareSlackInput, *envelopes: tuple[dict[str, Any], dict[str, str]]) -> list[Any]:
    """Hand each event to the channel; returns the messages passed on to Rasa."""
    received: list[Any] = []

    async def on_new_message(message: Any) -> None:
        received.append(message)

    async def go() -> None:
        for envelope, headers in envelopes:
            await channel.handle_event(request(envelope, headers), envelope, on_new_message)
        await asyncio.sleep(0.05)

    asyncio.run(go())
    return received


def test_a_message_reaches_rasa_with_the_persons_profile_and_thread(channel):
    [message] = deliver(channel, (message_event(AUSTIN, DM, "I can't log in", "1.5"), {}))
    assert message.text == "I can't log in"
    assert message.sender_id == f"{AUSTIN}_{DM}_1.5"  # one conversation per thread
    assert message.input_channel == "slack"
    slack = message.metadata["slack"]
    assert (slack["name"], slack["email"], slack["channel"], slack["thread_ts"], slack["user"]) == \
        ("Austin Coy", "austin.coy@northwind.example", DM, "1.5", AUSTIN)
    assert message.output_channel.thread_id == "1.5"


def test_a_retried_event_is_processed_once(channel):
    first = message_event(AUSTIN, DM, "I want to talk to a person", "1.6", event_id="Ev42")
    received = deliver(channel, (first, {}), (first, {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}),
                       (first, {"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_timeout"}))
    assert [m.text for m in received] == ["I want to talk to a person"]


def test_a_retry_whose_first_delivery_never_arrived_is_processed(channel):
    # Rasa's own SlackInput drops every http_timeout retry, even this one
    event = message_event(AUSTIN, DM, "hello", "1.7", event_id="Ev43")
    received = deliver(channel, (event, {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}))
    assert [m.text for m in received] == ["hello"]


def test_a_message_in_a_ticket_thread_goes_to_the_ticket_not_the_bot(channel):
    in_ticket = message_event(AUSTIN, DM, "Still locked out", "1.8", thread_ts="1.5")
    elsewhere = message_event(AUSTIN, DM, "thanks", "1.9", thread_ts="1.2")
    received = deliver(channel, (in_ticket, {}), (elsewhere, {}))
    assert [m.text for m in received] == ["thanks"]
    assert [(b["thread_ts"], b["text"], b["user"]) for b in channel.desk.received] == \
        [("1.5", "Still locked out", AUSTIN)]


@pytest.mark.parametrize("secret", ["", "wrong"])
def test_only_requests_signed_with_the_secret_are_authentic(channel, secret):
    envelope = message_event(AUSTIN, DM, "hi", "2.0")
    body = json.dumps(envelope).encode()
    assert channel.is_request_from_slack_authentic(request(envelope))
    forged = SimpleNamespace(headers=signed_headers(secret, body), body=body, json=envelope)
    assert not channel.is_request_from_slack_authentic(forged)
    stale = SimpleNamespace(headers=signed_headers(SIGNING_SECRET, body, int(time.time()) - 600), body=body)
    assert not channel.is_request_from_slack_authentic(stale)


def test_without_a_signing_secret_nothing_is_authentic(monkeypatch):
    monkeypatch.delenv("CARE_SLACK_SIGNING_SECRET", raising=False)
    channel = CareSlackInput.from_credentials(None)  # rasa run still starts
    envelope = message_event(AUSTIN, DM, "hi", "2.0")
    body = json.dumps(envelope).encode()
    unsigned = SimpleNamespace(headers=signed_headers("", body), body=body, json=envelope)
    assert not channel.is_request_from_slack_authentic(unsigned)


def test_the_bot_waits_for_retry_after_when_slack_rate_limits(slack):
    slack.rate_limit("chat.postMessage", retry_after=1)
    bot = CareSlackBot(BOT_TOKEN, DM, "1.5", None, slack.api_url)
    asyncio.run(bot.send_text_message(DM, "Here's what our help centre says"))
    calls = [c for c in slack.calls if c.method == "chat.postMessage"]
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 1.0
    assert calls[1].params["thread_ts"] == "1.5"


def test_buttons_read_as_words_and_the_widget_payloads_as_links_or_nothing(slack):
    bot = CareSlackBot(BOT_TOKEN, DM, "1.5", None, slack.api_url, "https://care.example")

    async def go() -> None:
        await bot.send_text_with_buttons(DM, "Did that solve it?", [{"title": "Yes", "payload": "/affirm"},
                                                                    {"title": "No", "payload": "/deny"}])
        await bot.send_custom_json(DM, {"data": {"articles": [{"title": "VPN", "url": "/help/vpn"}]}})
        await bot.send_custom_json(DM, {"data": {"handoff": {"ticket": "CR-10001", "token": "secret"}}})

    asyncio.run(go())
    texts = [c.text for c in slack.posts(DM)]
    assert texts == ["Did that solve it?\n_(reply Yes / No)_", "Related articles:\n• <https://care.example/help/vpn|VPN>"]
    assert "secret" not in str([c.params for c in slack.calls])


def test_settings_are_documented():
    from pathlib import Path

    from slack_channel import SETTINGS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert [name for name in SETTINGS if f"`{name}`" not in readme] == []
