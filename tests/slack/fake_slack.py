"""A fake of the Slack Web API and of Slack's side of the Events API, on loopback.

The Web API part is an HTTP server answering ``/api/<method>`` the way Slack does
(``{"ok": true, …}``; ``429`` with ``Retry-After`` when told to rate-limit). It records every
call, so tests read what the bot and the desk posted. The Events API part signs events and
button clicks with the app's signing secret and POSTs them where Slack would.

Used by the unit tests of ``escalation.slack`` and by the end-to-end test, where Rasa's Slack
channel and the escalation service reach it through ``CARE_SLACK_API_URL``.
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SIGNING_SECRET = "fake-slack-signing-secret"
BOT_TOKEN = "xoxb-fake-bot-token"
TEAM = "T0NORTHWIND"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    status: int = 200
    user_agent: str = ""

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def from_bot(self) -> bool:
        """Rasa's SlackBot posts ``as_user``; the escalation service does not."""
        return bool(self.params.get("as_user"))


@dataclass
class FakeSlack:
    users: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> {"name", "email"}
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._rate_limits: dict[str, list[float]] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                return None

            def do_GET(self) -> None:  # noqa: N802
                parsed = urllib.parse.urlsplit(self.path)
                fake._answer(self, parsed.path, dict(urllib.parse.parse_qsl(parsed.query)))

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parsed = urllib.parse.urlsplit(self.path)
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    params = json.loads(raw or b"{}")
                else:
                    params = dict(urllib.parse.parse_qsl(raw.decode()))
                params.update(dict(urllib.parse.parse_qsl(parsed.query)))
                fake._answer(self, parsed.path, params)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ---- lifecycle ---------------------------------------------------------------------

    def start(self) -> "FakeSlack":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FakeSlack":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def env(self, staff_channel: str = "C0DESK") -> dict[str, str]:
        return {"CARE_SLACK_API_URL": self.api_url, "CARE_SLACK_BOT_TOKEN": BOT_TOKEN,
                "CARE_SLACK_SIGNING_SECRET": SIGNING_SECRET, "CARE_SLACK_STAFF_CHANNEL": staff_channel}

    # ---- the Web API -------------------------------------------------------------------

    def rate_limit(self, method: str, retry_after: float = 1.0, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` get 429 with ``Retry-After``."""
        with self._lock:
            self._rate_limits.setdefault(method, []).extend([retry_after] * times)

    def next_ts(self) -> str:
        with self._lock:
            return f"{int(time.time())}.{next(self._ts):06d}"

    def _answer(self, handler: BaseHTTPRequestHandler, path: str, params: dict[str, Any]) -> None:
        method = path.removeprefix("/api/")
        call = Call(method, params, time.monotonic(), user_agent=handler.headers.get("User-Agent", ""))
        with self._lock:
            limits = self._rate_limits.get(method) or []
            retry_after = limits.pop(0) if limits else None
        if handler.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            body: dict[str, Any] = {"ok": False, "error": "not_authed"}
        elif retry_after is not None:
            call.status = 429
            with self._lock:
                self.calls.append(call)
            handler.send_response(429)
            handler.send_header("Retry-After", f"{retry_after:g}")
            handler.send_header("Content-Type", "application/json")
            payload = b'{"ok": false, "error": "ratelimited"}'
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            return
        elif method == "users.info":
            user = self.users.get(str(params.get("user")))
            body = ({"ok": True, "user": {"id": params["user"], "name": user["name"].split()[0].lower(),
                                          "real_name": user["name"],
                                          "profile": {"real_name": user["name"], "email": user["email"]}}}
                    if user else {"ok": False, "error": "user_not_found"})
        elif method in {"chat.postMessage", "chat.update", "chat.postEphemeral"}:
            ts = params.get("ts") or self.next_ts()
            body = {"ok": True, "channel": params.get("channel"), "ts": ts,
                    "message": {"text": params.get("text", ""), "ts": ts}}
            call.params = {**params, "ts": ts} if method == "chat.postMessage" else params
        else:
            body = {"ok": False, "error": "unknown_method"}
        with self._lock:
            self.calls.append(call)
        payload = json.dumps(body).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    # ---- reading what was posted -------------------------------------------------------

    def posts(self, channel: str | None = None, thread_ts: str | None = None, method: str = "chat.postMessage",
              since: int = 0) -> list[Call]:
        with self._lock:
            calls = list(self.calls[since:])
        return [c for c in calls if c.method == method and c.status == 200
                and (channel is None or c.params.get("channel") == channel)
                and (thread_ts is None or c.params.get("thread_ts") == thread_ts)]

    def mark(self) -> int:
        with self._lock:
            return len(self.calls)

    def wait_for(self, predicate: Any, timeout: float = 90.0, what: str = "a Slack call") -> Call:
        """The first recorded call matching ``predicate``, waiting for it up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [c for c in self.calls if predicate(c)]
            if found:
                return found[0]
            time.sleep(0.1)
        with self._lock:
            seen = [(c.method, c.params.get("channel"), c.text[:80]) for c in self.calls[-15:]]
        raise AssertionError(f"no {what} within {timeout:g}s; last calls: {seen}")


# ---- Slack's side of the Events API and of interactivity -------------------------------------

def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def post_signed(url: str, body: bytes, content_type: str, *, secret: str = SIGNING_SECRET,
                headers: dict[str, str] | None = None, timestamp: int | None = None) -> tuple[int, bytes]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": content_type, "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature(secret, stamp, body), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def message_event(user: str, channel: str, text: str, ts: str, *, thread_ts: str | None = None,
                  event_id: str | None = None, channel_type: str = "im") -> dict[str, Any]:
    event: dict[str, Any] = {"type": "message", "user": user, "text": text, "ts": ts, "channel": channel,
                             "channel_type": channel_type, "team": TEAM}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return {"token": "unused", "team_id": TEAM, "api_app_id": "A0CARE", "type": "event_callback",
            "event_id": event_id or f"Ev{ts.replace('.', '')}", "event_time": int(time.time()),
            "authorizations": [{"user_id": "U0CAREBOT", "is_bot": True}], "event": event}


def send_event(webhook_url: str, envelope: dict[str, Any], *, retry_num: int | None = None,
               secret: str = SIGNING_SECRET) -> tuple[int, bytes]:
    headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"} if retry_num else {}
    return post_signed(webhook_url, json.dumps(envelope).encode(), "application/json", secret=secret,
                       headers=headers)


def click(interactivity_url: str, *, user: str, channel: str, message_ts: str, action_id: str, value: str,
          secret: str = SIGNING_SECRET) -> tuple[int, bytes]:
    payload = {"type": "block_actions", "team": {"id": TEAM}, "user": {"id": user},
               "channel": {"id": channel}, "container": {"type": "message", "message_ts": message_ts},
               "message": {"ts": message_ts}, "actions": [{"action_id": action_id, "value": value,
                                                            "type": "button"}]}
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    return post_signed(interactivity_url, body, "application/x-www-form-urlencoded", secret=secret)
