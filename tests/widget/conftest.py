"""Fixtures for the chat widget tests: a built bundle, a local web server that plays the
host website and the escalation API, a fake Rasa, and a real Chromium driven by Playwright.

Nothing is skipped: a missing Chromium or missing node_modules fails with what to run.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from urllib.request import urlopen

import pytest
from playwright.sync_api import Page

REPO = Path(__file__).resolve().parents[2]
WIDGET = REPO / "widget"
BUNDLE = WIDGET / "dist" / "carechat.js"
ARTIFACTS = REPO / "tests" / "artifacts"
FAKE_RASA = Path(__file__).with_name("fake_rasa.mjs")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# A bot channel for the `transport` option: the page drives it through window.__cc.
FAKE_TRANSPORT_JS = """
window.__cc = { sent: [], events: null, config: null, connects: 0 };
window.__ccTransport = function (config, events) {
  window.__cc.config = config;
  window.__cc.events = events;
  return {
    connect() { window.__cc.connects += 1; events.onStatus('online'); },
    send(text) { window.__cc.sent.push(text); },
    close() {},
  };
};
"""

PAGE_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ACME Store: help</title>
<style>
body {{ font-family: Georgia, serif; margin: 0; padding: 24px; }}
main {{ max-width: 640px; }}
{css}
</style>
</head>
<body>
<a href="#main" id="skip">Skip to content</a>
<main id="main">
  <h1>ACME Store</h1>
  <p>Questions about your account, orders or billing? Our assistant answers right away.</p>
  <button type="button" class="cc-launcher cc-panel" id="host-button">A host page button</button>
</main>
<script>{fake_transport}
window.__baseline = Object.getOwnPropertyNames(window);
window.__styleElements = document.querySelectorAll('style, link[rel=stylesheet]').length;
</script>
{embed}
</body>
</html>
"""


def default_embed(options: str) -> str:
    return f'<script src="/carechat.js"></script>\n<script>CareChat.init({options});</script>'


@dataclass
class FakeSite:
    """The host website and the escalation API, served from one local origin.

    The live-event stream (`/api/v1/conversations/<token>/events`) answers only for tokens
    in `streams`; for the others it is a 404, as from a server without it.
    """

    url: str = ""
    pages: dict[str, str] = field(default_factory=dict)
    conversations: dict[str, dict] = field(default_factory=dict)
    posted: list[tuple[str, dict]] = field(default_factory=list)
    surveys: list[tuple[str, dict]] = field(default_factory=list)  # token, body (accepted ones)
    lookups: list[list[str]] = field(default_factory=list)  # the tokens of each "My tickets" lookup
    requests: list[str] = field(default_factory=list)
    streams: set[str] = field(default_factory=set)
    events: list[tuple[int, str, str, dict]] = field(default_factory=list)  # id, token, kind, data
    stream_requests: list[dict] = field(default_factory=list)
    generation: int = 0  # bumped to drop every open stream
    lock: threading.Condition = field(default_factory=threading.Condition)

    def reset(self) -> None:
        with self.lock:
            self.pages.clear()
            self.conversations.clear()
            self.posted.clear()
            self.surveys.clear()
            self.lookups.clear()
            self.requests.clear()
            self.streams.clear()
            self.events.clear()
            self.stream_requests.clear()
            self.drop_streams()

    def push_event(self, token: str, kind: str, data: dict) -> int:
        with self.lock:
            event_id = len(self.events) + 1
            self.events.append((event_id, token, kind, data))
            self.lock.notify_all()
            return event_id

    def drop_streams(self) -> None:
        with self.lock:
            self.generation += 1
            self.lock.notify_all()

    def add_page(self, html: str) -> str:
        path = f"/page-{len(self.pages) + 1}.html"
        self.pages[path] = html
        return self.url + path

    def polls(self, token: str) -> int:
        with self.lock:
            return self.requests.count(f"GET /api/v1/conversations/{token}")


def make_handler(site: FakeSite):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # keep pytest output clean
            pass

        def send_body(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def send_json(self, status: int, data) -> None:
            self.send_body(status, json.dumps(data).encode(), "application/json")

        def not_found(self, code: str) -> None:
            self.send_json(404, {"error": {"code": code, "message": "not found", "details": {}}})

        def stream(self, token: str, query: dict) -> None:
            after = int(self.headers.get("Last-Event-ID") or query.get("after", ["0"])[0])
            with site.lock:
                site.stream_requests.append(
                    {"token": token, "after": query.get("after", [None])[0],
                     "last_event_id": self.headers.get("Last-Event-ID")}
                )
                generation = site.generation
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            frames = ["retry: 200\n\n"]
            deadline = time.monotonic() + 60
            try:
                while time.monotonic() < deadline:
                    self.wfile.write("".join(frames).encode())
                    self.wfile.flush()
                    with site.lock:
                        site.lock.wait_for(
                            lambda: site.generation != generation
                            or any(e[0] > after and e[1] == token for e in site.events),
                            timeout=1.0,
                        )
                        if site.generation != generation:
                            return
                        pending = [e for e in site.events if e[0] > after and e[1] == token]
                    frames = [": keep-alive\n\n"] if not pending else [
                        f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"
                        for event_id, _token, kind, data in pending
                    ]
                    after = pending[-1][0] if pending else after
            except (BrokenPipeError, ConnectionResetError):
                return

        def do_GET(self):
            parts = urlsplit(self.path)
            path = parts.path
            with site.lock:
                site.requests.append(f"GET {path}")
            if match := re.fullmatch(r"/api/v1/conversations/([^/]+)/events", path):
                if match[1] in site.streams:
                    self.stream(match[1], parse_qs(parts.query))
                else:
                    self.not_found("not_found")
            elif path in ("/carechat.js", "/carechat.js.map"):
                self.send_body(200, (BUNDLE.parent / path[1:]).read_bytes(), "text/javascript")
            elif path in site.pages:
                self.send_body(200, site.pages[path].encode(), "text/html; charset=utf-8")
            elif match := re.fullmatch(r"/api/v1/conversations/([^/]+)", path):
                with site.lock:
                    conversation = site.conversations.get(match[1])
                    body = json.loads(json.dumps(conversation))
                if conversation is None:
                    self.not_found("conversation_not_found")
                else:
                    self.send_json(200, body)
            elif path.startswith("/help/"):
                self.send_body(200, b"<h1>Help article</h1>", "text/html")
            else:
                self.send_body(404, b"not found", "text/plain")

        def error(self, status: int, code: str, message: str) -> None:
            self.send_json(status, {"error": {"code": code, "message": message, "details": {}}})

        def survey(self, token: str, body: dict) -> None:
            """Like the escalation API: once per ticket, and only once it is resolved."""
            with site.lock:
                site.requests.append(f"POST /api/v1/conversations/{token}/survey")
                conversation = site.conversations.get(token)
                rating = body.get("rating")
                if conversation is None:
                    return self.not_found("conversation_not_found")
                if conversation["status"] not in ("resolved", "closed"):
                    return self.error(409, "not_resolved", "You can rate the service once your ticket is resolved.")
                if not isinstance(rating, int) or not 1 <= rating <= 5:
                    return self.error(422, "validation_failed", "The rating is a whole number from 1 (poor) to 5 (excellent).")
                if any(t == token for t, _ in site.surveys):
                    return self.error(409, "already_rated", "Thanks — you already rated this ticket.")
                site.surveys.append((token, body))
            self.send_json(HTTPStatus.CREATED, {"rating": rating, "message": "Thank you for your feedback!"})

        def lookup(self, body: dict) -> None:
            """Like the escalation API: the tickets the tokens unlock; unknown ones left out."""
            tokens = body.get("tokens")
            if not isinstance(tokens, list) or len(tokens) > 20:
                return self.error(422, "validation_failed", "Some fields are missing or invalid: tokens.")
            with site.lock:
                site.requests.append("POST /api/v1/conversations/lookup")
                site.lookups.append(list(tokens))
                found = [
                    {"token": token, "number": c["number"], "subject": c.get("subject", ""),
                     "status": c["status"], "owner": c["owner"], "agent": c.get("agent"),
                     "created_at": c.get("created_at", "2024-05-01T10:00:00+00:00"),
                     "updated_at": c.get("updated_at", "2024-05-01T10:00:00+00:00")}
                    for token in dict.fromkeys(tokens) if (c := site.conversations.get(token)) is not None
                ]
            self.send_json(200, {"tickets": found})

        def do_POST(self):
            path = self.path.split("?")[0]
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if path == "/api/v1/conversations/lookup":
                return self.lookup(body)
            if match := re.fullmatch(r"/api/v1/conversations/([^/]+)/survey", path):
                return self.survey(match[1], body)
            match = re.fullmatch(r"/api/v1/conversations/([^/]+)/messages", path)
            with site.lock:
                site.requests.append(f"POST {path}")
                conversation = site.conversations.get(match[1]) if match else None
                if conversation is not None:
                    site.posted.append((match[1], body))
                    message = {
                        "id": 1000 + len(site.posted),
                        "author": "customer",
                        "author_name": "Laura",
                        "body": body.get("body"),
                        "created_at": "2024-05-01T10:00:00Z",
                    }
                    conversation["messages"].append(message)
            if conversation is None:
                self.not_found("conversation_not_found")
            else:
                self.send_json(HTTPStatus.CREATED, message)

    return Handler


@pytest.fixture(scope="session")
def bundle() -> Path:
    """Build widget/dist/carechat.js from the current sources, once per session."""
    if shutil.which("node") is None:
        pytest.fail("node is not installed: the widget is built with node 20 (see widget/README.md)")
    if not (WIDGET / "node_modules" / "esbuild").is_dir():
        pytest.fail("widget/node_modules is missing: run `npm ci` in widget/ (make widget does)")
    result = subprocess.run(
        ["node", "build.mjs"], cwd=WIDGET, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        pytest.fail(f"node build.mjs failed:\n{result.stdout}\n{result.stderr}")
    return BUNDLE


@pytest.fixture(scope="session")
def _site_server(bundle):
    site = FakeSite()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(site))
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    site.drop_streams()
    server.shutdown()
    server.server_close()


@pytest.fixture
def site(_site_server) -> FakeSite:
    _site_server.reset()
    return _site_server


# `browser` is the session-wide Debian chromium from tests/conftest.py: playwright's sync API
# allows one instance per thread, shared with the end-to-end tests.


@pytest.fixture
def viewport():
    return {"width": 1280, "height": 800}


@pytest.fixture
def page(browser, viewport):
    """A fresh browser context (so fresh localStorage) per test; fails on any page error."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


class Widget:
    """A page with the widget embedded, and the words the tests speak to it in."""

    def __init__(self, page: Page, site: FakeSite):
        self.page = page
        self.site = site

    def get(self, test_id: str):
        return self.page.get_by_test_id(test_id)

    def messages(self, sender: str | None = None):
        selector = '[data-testid="cc-msg"]' + (f'[data-sender="{sender}"]' if sender else "")
        return self.page.locator(selector)

    def bot_says(self, message: dict) -> None:
        """Feed a bot_uttered payload through the (fake) transport."""
        self.page.evaluate("m => window.__cc.events.onMessage(m)", message)

    def sent(self) -> list[str]:
        return self.page.evaluate("() => window.__cc.sent")

    def storage(self, key: str):
        raw = self.page.evaluate("k => localStorage.getItem(k)", key)
        return raw

    def shadow(self, expression: str):
        """Evaluate `expression` with `root` bound to the widget's shadow root."""
        return self.page.evaluate(
            f"() => {{ const root = document.querySelector('carechat-widget').shadowRoot; return {expression}; }}"
        )

    def focused(self) -> str | None:
        return self.shadow("root.activeElement && root.activeElement.dataset.testid")

    def open(self) -> None:
        self.get("cc-launcher").click()
        self.get("cc-panel").wait_for(state="visible")

    def say(self, text: str) -> None:
        self.get("cc-input").fill(text)
        self.get("cc-input").press("Enter")


@pytest.fixture
def embed(page, site):
    """embed(options_js, css='', embed_html=None) -> Widget: load a host page with the widget.

    `options_js` is the JavaScript object literal given to CareChat.init; by default the
    fake transport is used. `embed_html` replaces the two script tags entirely.
    """

    def load(options_js: str = "{transport: window.__ccTransport}", css: str = "",
             embed_html: str | None = None) -> Widget:
        html = PAGE_TEMPLATE.format(
            css=css,
            fake_transport=FAKE_TRANSPORT_JS,
            embed=embed_html if embed_html is not None else default_embed(options_js),
        )
        page.goto(site.add_page(html))
        page.get_by_test_id("cc-launcher").wait_for(state="visible")
        return Widget(page, site)

    return load


@pytest.fixture
def fake_rasa():
    """A socket.io server that behaves like Rasa 3.6's socketio channel (fake_rasa.mjs)."""
    servers: list[FakeRasa] = []

    def start(port: int = 0) -> FakeRasa:
        server = FakeRasa.start(port)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


class FakeRasa:
    def __init__(self, process: subprocess.Popen, port: int):
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    @classmethod
    def start(cls, port: int = 0) -> FakeRasa:
        process = subprocess.Popen(
            ["node", str(FAKE_RASA), str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = process.stdout.readline()
        if not line.startswith("listening "):
            process.kill()
            pytest.fail(f"fake_rasa.mjs did not start: {line}{process.stderr.read()}")
        return cls(process, int(line.split()[1]))

    def log(self) -> list[dict]:
        with urlopen(f"{self.url}/__log", timeout=5) as response:
            return json.load(response)

    def events(self, name: str) -> list[dict]:
        return [entry for entry in self.log() if entry["event"] == name]

    def wait_for(self, name: str, count: int = 1, timeout: float = 10) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(name)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"fake Rasa never saw {count} x {name}: {self.log()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process.stdout.close()
        self.process.stderr.close()
