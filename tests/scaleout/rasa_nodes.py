"""Rasa processes for the scale-out and fault tests, defined by careops like `make run`'s.

Each test writes its own endpoints file (the committed ``chatbot/endpoints.yml`` reads
``${CARE_*}`` variables and has no lock store): the action server, a tracker store on a
throwaway database and, for several instances, a Redis lock store with its own key prefix.
"""
from __future__ import annotations

import dataclasses
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from careops.ephemeral import missing_build_outputs
from careops.conversations import sender_token as sign_sender
from careops.processes import Process, StackConfig, stack

TIMEOUT = 120  # a REST turn on the small shared machine; a bound, not a threshold
READY_TIMEOUT = 600.0  # loading the model takes minutes when several Rasa processes start at once
DEFAULTS = StackConfig()  # the secrets of a StackConfig that does not set its own


def sender_token(sender: str, secret: str = DEFAULTS.chat_secret) -> str:
    """The REST channel's token for ``sender``, as a server-side client holding the secret makes it."""
    return sign_sender(secret, sender)


def check_model() -> list[str]:
    return [m for m in missing_build_outputs() if "care.tar.gz" in m]


def rasa_url(database_url: str) -> str:
    """Rasa 3.6 (SQLAlchemy 1.4, psycopg2) wants plain ``postgresql://``."""
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def write_endpoints(path: Path, *, actions_url: str, tracker_url: str,
                    lock_store: dict[str, Any] | None = None, actions_token: str = DEFAULTS.actions_token) -> Path:
    """YAML is a superset of JSON: no quoting questions for URLs (and no ``${VAR}`` either:
    Rasa expands those only in plain scalars, so the action server's token is written out)."""
    endpoints: dict[str, Any] = {"action_endpoint": {"url": actions_url,
                                                     "headers": {"Authorization": f"Bearer {actions_token}"}},
                                 "tracker_store": {"type": "SQL", "url": tracker_url}}
    if lock_store:
        endpoints["lock_store"] = lock_store
    path.write_text(json.dumps(endpoints, indent=2) + "\n")
    return path


def careops_process(config: StackConfig, name: str) -> Process:
    return next(p for p in stack(config) if p.name == name)


def rasa_process(config: StackConfig, name: str, port: int, endpoints: Path,
                 extra_env: dict[str, str] | None = None) -> Process:
    """careops' ``rasa`` process on another port and with another endpoints file."""
    base = careops_process(config, "rasa")
    argv = list(base.argv)
    argv[argv.index("--port") + 1] = str(port)
    argv[argv.index("--endpoints") + 1] = str(endpoints)
    # "/" as careops' own health check: /status wants the API token
    return dataclasses.replace(base, name=name, argv=argv, health_url=f"http://{config.host}:{port}/",
                               env={**base.env, **(extra_env or {})},
                               ready_timeout=max(base.ready_timeout, READY_TIMEOUT))


def say(url: str, sender: str, text: str, secret: str = DEFAULTS.chat_secret) -> list[str]:
    """One REST turn of ``sender``'s conversation (with its token); the bot's texts."""
    reply = requests.post(f"{url}/webhooks/rest/webhook", timeout=TIMEOUT, json={
        "sender": sender, "token": sender_token(sender, secret), "message": text})
    reply.raise_for_status()
    return [m.get("text", "") for m in reply.json()]


def tracker(url: str, sender: str, token: str = DEFAULTS.rasa_token) -> dict[str, Any]:
    """The conversation from Rasa's HTTP API, which wants its token (CARE_RASA_TOKEN)."""
    reply = requests.get(f"{url}/conversations/{sender}/tracker", params={"token": token}, timeout=TIMEOUT)
    reply.raise_for_status()
    return reply.json()


def turns(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(event, text-or-action-name) of the user, bot and action events, in order."""
    out = []
    for e in events:
        if e["event"] in {"user", "bot"}:
            out.append((e["event"], e.get("text") or ""))
        elif e["event"] == "action":
            out.append(("action", e.get("name") or ""))
    return out


class SocketIoPolling:
    """The widget's transport, spoken by hand: socket.io (Engine.IO 4) over HTTP long-polling
    to Rasa's socketio channel (chatbot/care_channels.py), with a persistent session: the id
    and token of ``session_request``; none for a new conversation, which Rasa names."""

    def __init__(self, url: str, session_id: str | None = None, token: str | None = None) -> None:
        self.base, self.session_id, self.token = f"{url}/socket.io/", session_id, token
        self.http = requests.Session()
        self.sid = ""
        self.pending: list[tuple[str, Any]] = []

    def _query(self) -> dict[str, str]:
        query = {"EIO": "4", "transport": "polling"}
        if self.sid:
            query["sid"] = self.sid
        return query

    def _post(self, packet: str) -> None:
        reply = self.http.post(self.base, params=self._query(), data=packet.encode(), timeout=TIMEOUT,
                               headers={"Content-Type": "text/plain;charset=UTF-8"})
        reply.raise_for_status()

    def _poll(self) -> None:
        reply = self.http.get(self.base, params=self._query(), timeout=TIMEOUT)
        reply.raise_for_status()
        for packet in reply.text.split("\x1e"):  # Engine.IO 4 packet separator
            if packet == "2":  # ping: answer, or the server drops us
                self._post("3")
            elif packet.startswith("42"):
                name, *args = json.loads(packet[2:])
                self.pending.append((name, args[0] if args else None))
            elif packet.startswith("0") and not self.sid:
                self.sid = json.loads(packet[1:])["sid"]
            elif packet.startswith("44"):
                raise RuntimeError(f"socket.io connection refused: {packet}")

    def wait_for(self, event: str) -> Any:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            for position, (name, data) in enumerate(self.pending):
                if name == event:
                    del self.pending[position]
                    return data
            self._poll()
        raise AssertionError(f"no {event!r} within {TIMEOUT}s; got {self.pending}")

    def connect(self) -> SocketIoPolling:
        """Connect and ask for the session; ``session_id`` / ``token`` are what Rasa confirmed
        (a new conversation when the asked one's token did not match)."""
        self.open()
        return self.request_session(self.session_id, self.token)

    def open(self) -> SocketIoPolling:
        """The connection without a session yet."""
        self._poll()                  # the Engine.IO handshake: our sid
        self._post("40")              # join the default namespace
        return self

    def request_session(self, session_id: str | None, token: str | None) -> SocketIoPolling:
        self._emit("session_request", {"session_id": session_id, "token": token})
        confirmed = self.wait_for("session_confirm")
        if isinstance(confirmed, dict):
            self.session_id, self.token = confirmed["session_id"], confirmed["token"]
        else:  # Rasa's own channel confirms the bare id, and has no tokens
            self.session_id, self.token = confirmed, None
        return self

    def _emit(self, event: str, data: Any) -> None:
        self._post("42" + json.dumps([event, data]))

    def send(self, text: str, session_id: str | None = None) -> None:
        """Send ``text`` as the widget does (naming ``session_id``, by default our own)."""
        self._emit("user_uttered", {"message": text, "session_id": session_id or self.session_id})

    def say(self, text: str) -> str:
        """Send ``text`` as the widget does; the first bot message that comes back."""
        self.send(text)
        return str(self.wait_for("bot_uttered").get("text", ""))

    def close(self) -> None:
        try:
            self._post("41")
        except requests.RequestException:
            pass
        self.http.close()


class SlowActionProxy:
    """Between Rasa and the action server: holds every action call for ``delay`` seconds, so a
    message takes long enough for others to arrive meanwhile, and records when each call of
    which conversation ran (two calls of one conversation at once = two messages at once)."""

    def __init__(self, upstream: str, delay: float) -> None:
        self.upstream, self.delay = upstream, delay
        self.calls: list[tuple[str, str, float, float]] = []  # sender, action, start, end
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                call = json.loads(body or b"{}")
                start = time.monotonic()
                time.sleep(proxy.delay)
                request = urllib.request.Request(proxy.upstream, data=body, method="POST", headers={
                    "Content-Type": "application/json", "Authorization": self.headers.get("Authorization", "")})
                try:
                    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 (loopback)
                        status, payload = response.status, response.read()
                except urllib.error.HTTPError as exc:
                    status, payload = exc.code, exc.read()
                with proxy.lock:
                    proxy.calls.append((call.get("sender_id", ""), call.get("next_action", ""), start,
                                        time.monotonic()))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def calls_for(self, sender: str) -> list[tuple[str, str, float, float]]:
        with self.lock:
            return sorted((c for c in self.calls if c[0] == sender), key=lambda c: c[2])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
