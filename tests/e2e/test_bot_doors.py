"""Who may call what on the bot's side: Rasa's endpoints and the action server × caller,
against the real processes (the session's ``live_stack``, started as ``make run`` starts them).

The route × role idea of tests/escalation/test_security_routes.py, for issue #12's findings:
1. Rasa's HTTP API (trackers hold names, e-mails and handoff tokens) needs CARE_RASA_TOKEN,
   and browsers of other origins get no CORS grant;
2. the action server answers only Rasa (CARE_ACTIONS_TOKEN), and listens on loopback only;
3. a conversation is continued only with the token Rasa issued for it (REST and socket.io);
4. an oversized message gets a friendly answer at once and no bot turn; a long question is
   cut for the KB search instead of being reported as an outage.

The callers: ``own`` the browser (or REST client) with its own conversation and token;
``other`` the same client naming the victim's conversation (with its own token);
``none`` no token at all; ``rasa`` Rasa itself, i.e. whoever holds the stack's secrets (the
action server's token; Rasa's API token). ``None`` in a row: not a caller of that endpoint.
A socket.io "status" is 200 when the asked conversation was joined / the message reached
it, 403 when it was refused (a new conversation was issued / the message was dropped).
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from ..scaleout.rasa_nodes import SocketIoPolling, sender_token, tracker
from ..scaleout.rasa_nodes import say as rest_say
from .conftest import RunningStack

pytestmark = pytest.mark.e2e

CALLERS = ("own", "other", "none", "rasa")
TIMEOUT = 120


@dataclass
class Doors:
    stack: RunningStack
    victim: str          # a REST conversation (sender id)
    attacker: str        # another REST conversation, whose token the attacker has
    widget: SocketIoPolling  # the victim's browser

    @property
    def rasa(self) -> str:
        return self.stack.config.rasa_url

    @property
    def actions(self) -> str:
        return f"http://127.0.0.1:{self.stack.config.actions_port}"

    def token(self, sender: str) -> str:
        return sender_token(sender, self.stack.config.chat_secret)

    def user_texts(self, sender: str) -> list[str]:
        events = tracker(self.rasa, sender, self.stack.config.rasa_token)["events"]
        return [e.get("text") or "" for e in events if e["event"] == "user"]


@pytest.fixture(scope="module")
def doors(live_stack: RunningStack) -> Doors:
    victim, attacker = uuid.uuid4().hex, uuid.uuid4().hex
    rest_say(live_stack.config.rasa_url, victim, "hello", live_stack.config.chat_secret)
    rest_say(live_stack.config.rasa_url, attacker, "hello", live_stack.config.chat_secret)
    widget = SocketIoPolling(live_stack.config.rasa_url).connect()
    widget.say("hello")
    yield Doors(live_stack, victim, attacker, widget)
    widget.close()


# --- each endpoint, called as each caller ---------------------------------------------

def rasa_api(method: str, path: str, json: dict | None = None) -> Callable[[Doors, str], int]:
    """Rasa's HTTP API. A browser has only its conversation token, which is no API token."""
    def call(d: Doors, caller: str) -> int:
        params = {"own": {"token": d.token(d.victim)}, "other": {"token": d.token(d.attacker)},
                  "none": {}, "rasa": {"token": d.stack.config.rasa_token}}[caller]
        url = d.rasa + path.format(victim=d.victim)
        return requests.request(method, url, params=params, json=json, timeout=TIMEOUT).status_code
    return call


def rest_webhook(d: Doors, caller: str) -> int:
    """A turn in the victim's conversation over REST."""
    token = {"own": d.token(d.victim), "other": d.token(d.attacker), "none": None}[caller]
    body = {"sender": d.victim, "message": "hello again"}
    if token is not None:
        body["token"] = token
    return requests.post(f"{d.rasa}/webhooks/rest/webhook", json=body, timeout=TIMEOUT).status_code


def socket_session(d: Doors, caller: str) -> int:
    """session_request for the victim's (socket.io) conversation."""
    other = SocketIoPolling(d.rasa).connect()  # the attacker's own conversation and token
    token = {"own": d.widget.token, "other": other.token, "none": None}[caller]
    other.close()
    client = SocketIoPolling(d.rasa, d.widget.session_id, token).connect()
    client.close()
    return 200 if client.session_id == d.widget.session_id else 403


def socket_message(d: Doors, caller: str) -> int:
    """A user_uttered naming the victim's (socket.io) conversation, from a connection confirmed
    for ``own``: the victim's conversation (with its token); ``other``: the attacker's own
    conversation; ``none``: no conversation yet (no session_request before the message)."""
    text = f"steer {caller} {uuid.uuid4().hex[:6]}"
    client = SocketIoPolling(d.rasa, d.widget.session_id, d.widget.token if caller == "own" else None)
    if caller == "none":
        client.open()  # connected, but no session_request before the message
        client.send(text, session_id=d.widget.session_id)
        client.request_session(None, None)
    else:
        client.connect()
        client.send(text, session_id=d.widget.session_id)
    # then a message in the connection's own conversation (own: that is the victim's): once it
    # is in that tracker, the one above was taken (and stored before it) or dropped
    marker = f"hello {uuid.uuid4().hex[:6]}"
    client.say(marker)
    client.close()
    deadline = time.monotonic() + TIMEOUT
    while marker not in d.user_texts(client.session_id):
        assert time.monotonic() < deadline, f"{marker!r} never reached {client.session_id}"
        time.sleep(0.5)
    return 200 if text in d.user_texts(d.widget.session_id) else 403


def actions_call(method: str, path: str) -> Callable[[Doors, str], int]:
    """The action server; ``own`` is a browser presenting its conversation token as bearer."""
    def call(d: Doors, caller: str) -> int:
        bearer = {"own": d.token(d.victim), "other": d.token(d.attacker), "none": None,
                  "rasa": d.stack.config.actions_token}[caller]
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        body = None
        if method == "POST":  # forged slots: the status of a ticket that is not this conversation's
            body = {"next_action": "action_check_ticket_status", "sender_id": d.victim, "version": "3.6.21",
                    "tracker": {"sender_id": d.victim, "slots": {"ticket_number": "CR-10001"},
                                "latest_message": {"text": "status?", "intent": {"name": "check_ticket_status"},
                                                   "entities": []},
                                "events": [], "paused": False, "followup_action": None,
                                "active_loop": {}, "latest_action_name": "action_listen"},
                    "domain": {}}
        return requests.request(method, d.actions + path, json=body, headers=headers,
                                timeout=TIMEOUT).status_code
    return call


# endpoint -> (call, expected status for own, other, none, rasa)
TABLE: dict[str, tuple[Callable[[Doors, str], int], tuple[int | None, ...]]] = {
    "rasa GET /conversations/<id>/tracker": (rasa_api("GET", "/conversations/{victim}/tracker"),
                                             (401, 401, 401, 200)),
    "rasa POST /conversations/<id>/tracker/events": (
        rasa_api("POST", "/conversations/{victim}/tracker/events",
                 {"event": "slot", "name": "ticket_number", "value": "CR-10001"}), (401, 401, 401, None)),
    "rasa POST /conversations/<id>/trigger_intent": (
        rasa_api("POST", "/conversations/{victim}/trigger_intent", {"name": "greet"}), (401, 401, 401, None)),
    "rasa GET /status": (rasa_api("GET", "/status"), (401, 401, 401, 200)),
    "rasa GET /": (rasa_api("GET", "/"), (200, 200, 200, 200)),  # the health check: a version string
    "rasa POST /webhooks/rest/webhook": (rest_webhook, (200, 403, 403, None)),
    "rasa socket.io session_request": (socket_session, (200, 403, 403, None)),
    "rasa socket.io user_uttered": (socket_message, (200, 403, 403, None)),
    "actions POST /webhook": (actions_call("POST", "/webhook"), (401, 401, 401, 200)),
    "actions GET /actions": (actions_call("GET", "/actions"), (401, 401, 401, 200)),
    "actions GET /health": (actions_call("GET", "/health"), (200, 200, 200, 200)),
}
CASES = [(name, caller, expected) for name, (_, row) in TABLE.items()
         for caller, expected in zip(CALLERS, row) if expected is not None]


@pytest.mark.parametrize(("endpoint", "caller", "expected"), CASES,
                         ids=[f"{n} as {c}" for n, c, _ in CASES])
def test_bot_endpoint_by_caller(doors: Doors, endpoint: str, caller: str, expected: int) -> None:
    call, _ = TABLE[endpoint]
    assert call(doors, caller) == expected


def test_the_victims_conversation_was_not_steered(doors: Doors) -> None:
    """After the whole table: the REST victim's slots are untouched by the refused calls."""
    state = tracker(doors.rasa, doors.victim, doors.stack.config.rasa_token)
    assert state["slots"].get("ticket_number") is None
    assert [t for t in doors.user_texts(doors.victim) if t.startswith("/")] == []


# --- CORS and where the action server listens --------------------------------------------

def test_rasa_grants_cors_only_to_the_sites_origin(doors: Doors) -> None:
    site = doors.stack.config.rasa_cors[0]
    assert site == doors.stack.api_url  # the demo page's origin (CARE_PUBLIC_URL)
    for path in ("/", "/socket.io/?EIO=4&transport=polling"):
        evil = requests.get(doors.rasa + path, headers={"Origin": "http://evil.example"}, timeout=TIMEOUT)
        good = requests.get(doors.rasa + path, headers={"Origin": site}, timeout=TIMEOUT)
        assert "Access-Control-Allow-Origin" not in evil.headers
        assert good.headers["Access-Control-Allow-Origin"] == site


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on ``port`` (state 0A in /proc/net/tcp*)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_the_action_server_listens_on_loopback_only(doors: Doors) -> None:
    assert listening_addresses(doors.stack.config.actions_port) == {"0100007F"}  # 127.0.0.1


# --- message size -------------------------------------------------------------------------

def test_an_oversized_message_is_answered_at_once_without_a_bot_turn(doors: Doors) -> None:
    """100,000 characters took 22-50 s of NLU and stalled everyone; now it never reaches NLU."""
    before = doors.user_texts(doors.attacker)
    started = time.monotonic()
    reply = requests.post(f"{doors.rasa}/webhooks/rest/webhook", timeout=TIMEOUT, json={
        "sender": doors.attacker, "token": doors.token(doors.attacker), "message": "x" * 100_000})
    assert time.monotonic() - started < 5
    assert reply.status_code == 413
    assert reply.json()["error"]["code"] == "message_too_long"
    assert "2000" in reply.json()["error"]["message"]

    browser = SocketIoPolling(doors.rasa).connect()  # the widget's channel: a friendly bot message
    answer = browser.say("y" * 2_001)
    browser.close()
    assert "too long" in answer and "2000" in answer
    assert doors.user_texts(doors.attacker) == before
    assert doors.user_texts(browser.session_id) == []


def test_a_long_question_is_searched_not_reported_as_an_outage(doors: Doors) -> None:
    """1,200 characters: more than the KB API takes (1,000), less than the channel's cap."""
    sender = uuid.uuid4().hex
    question = ("I have not used my account for two years and now I cannot sign in, "
                "how do I reactivate my account? ") * 12
    assert 1000 < len(question) <= 2000
    replies = rest_say(doors.rasa, sender, question, doors.stack.config.chat_secret)
    assert replies and not any("can't reach our help centre" in r for r in replies), replies
    # the KB search named the customer behind it (the per-IP / per-conversation limits' keys)
    assert ("127.0.0.1", sender) in doors.stack.proxy.callers_of("/api/v1/kb/search")
