"""The socket.io channel's rules, with its handlers called directly (fast); the same rules
against the real `rasa run` are in tests/e2e/test_bot_doors.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import care_action_server
import care_sessions
from care_channels import CareSocketIOInput
from conftest import run

SECRET = "unit-test-secret"


class Channel:
    """A CareSocketIOInput blueprint whose emits and messages are recorded."""

    def __init__(self) -> None:
        self.emitted: list[tuple[str, Any, str]] = []
        self.messages: list[Any] = []
        channel = CareSocketIOInput.from_credentials({"session_persistence": True})

        async def on_new_message(message: Any) -> None:
            self.messages.append(message)

        channel.blueprint(on_new_message)
        self.sio = channel.sio

        async def emit(event: str, data: Any = None, room: str = "", **_: Any) -> None:
            self.emitted.append((event, data, room))

        self.sio.emit = emit
        # rooms as the socket.io server would keep them (no engine.io connection here)
        self.rooms: dict[str, str] = {}
        self.sio.enter_room = lambda sid, room, namespace=None: self.rooms.__setitem__(sid, room)
        self.sio.leave_room = lambda sid, room, namespace=None: self.rooms.pop(sid, None)
        self.handlers = self.sio.handlers["/"]

    def connect(self, sid: str, ip: str = "203.0.113.9") -> None:
        request = SimpleNamespace(remote_addr="", ip=ip)
        assert run(self.handlers["connect"](sid, {"sanic.request": request}, None)) is True

    def session(self, sid: str, data: Any) -> dict[str, str]:
        run(self.handlers["session_request"](sid, data))
        event, confirmed, room = self.emitted.pop()
        assert (event, room) == ("session_confirm", sid)
        assert self.rooms[sid] == confirmed["session_id"]  # the bot's replies reach it there
        return confirmed

    def say(self, sid: str, data: Any) -> None:
        run(self.handlers["user_uttered"](sid, data))


@pytest.fixture
def channel(monkeypatch: pytest.MonkeyPatch) -> Channel:
    monkeypatch.setenv("CARE_CHAT_SECRET", SECRET)
    monkeypatch.setenv("CARE_CHAT_MAX_CHARS", "50")
    return Channel()


def test_a_new_visitor_gets_an_unguessable_id_and_its_token(channel):
    channel.connect("sid-1")
    confirmed = channel.session("sid-1", {"session_id": None, "token": None})
    assert len(confirmed["session_id"]) == 32
    assert confirmed["token"] == care_sessions.sign(SECRET.encode(), confirmed["session_id"])
    assert channel.session("sid-1", None)["session_id"] != confirmed["session_id"]


def test_a_conversation_is_continued_only_with_its_token(channel):
    channel.connect("victim")
    victim = channel.session("victim", {})
    channel.connect("other")
    assert channel.session("other", victim) == victim  # a reload: same id and token
    for forged in ({"session_id": victim["session_id"]},
                   {"session_id": victim["session_id"], "token": "forged"},
                   {"session_id": victim["session_id"], "token": care_sessions.sign(SECRET.encode(), "x")}):
        assert channel.session("other", forged)["session_id"] != victim["session_id"]


def test_a_message_goes_to_the_confirmed_conversation_only(channel):
    channel.connect("sid-1")
    channel.say("sid-1", {"message": "before any session", "session_id": "someone"})
    mine = channel.session("sid-1", {})
    channel.say("sid-1", {"message": "steer", "session_id": "someone-elses"})
    channel.say("sid-1", {"message": "hi", "session_id": mine["session_id"],
                          "metadata": {"client_ip": "10.0.0.1", "language": "en"}})
    assert [(m.text, m.sender_id) for m in channel.messages] == [("hi", mine["session_id"])]
    # the channel's view of the client's address wins over what the client says
    assert channel.messages[0].metadata == {"client_ip": "203.0.113.9", "language": "en"}


def test_an_oversized_message_gets_a_reply_and_no_turn(channel):
    channel.connect("sid-1")
    mine = channel.session("sid-1", {})
    channel.say("sid-1", {"message": "x" * 51, "session_id": mine["session_id"]})
    assert channel.messages == []
    [(event, data, room)] = channel.emitted
    assert (event, room) == ("bot_uttered", "sid-1")
    assert "too long" in data["text"] and "50" in data["text"]


def test_the_channel_will_not_start_without_its_secret(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CARE_CHAT_SECRET", raising=False)
    with pytest.raises(care_sessions.MissingSecret):
        CareSocketIOInput.from_credentials({}).blueprint(lambda message: None)


@pytest.mark.parametrize(("header", "ok"), [
    ("Bearer s3cret", True), ("bearer s3cret", True), ("Bearer s3cre", False), ("Bearer ", False),
    ("s3cret", False), ("", False), ("Basic s3cret", False),
])
def test_the_action_server_checks_the_shared_secret(header, ok):
    request = SimpleNamespace(headers={"Authorization": header} if header else {})
    assert care_action_server.authorized(request, "s3cret") is ok


def test_the_action_server_will_not_start_without_its_token():
    with pytest.raises(SystemExit):
        care_action_server.build_app("")


def test_the_configured_channel_reads_the_widgets_custom_data():
    """The widget sends its metadata (language, the portal's signed identity) as `customData`
    (widget/src/socket-transport.js): the channel `rasa run` starts must read that key."""
    from pathlib import Path

    import yaml

    credentials = yaml.safe_load((Path(__file__).resolve().parents[2] / "chatbot" / "credentials.yml").read_text())
    channel = CareSocketIOInput.from_credentials(credentials["care_channels.CareSocketIOInput"])
    assert channel.metadata_key == "customData"
