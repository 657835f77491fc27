"""The real EscalationClient against a tiny HTTP server running in a thread."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlparse

import pytest

from actions import escalation_client
from actions.escalation_client import (
    ApiError,
    Caller,
    EscalationClient,
    KbHit,
    KbSection,
    ServiceUnavailable,
    TicketInfo,
    TicketReceipt,
)
from conftest import run

Handler = Callable[[str, str, dict[str, str], Any], tuple[int, Any]]


class FakeApi:
    """An HTTP server whose answers a test decides; it records every request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.handler: Handler = lambda method, path, headers, body: (404, None)
        api = self

        class RequestHandler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                headers = dict(self.headers.items())
                api.requests.append(
                    {"method": method, "path": self.path, "headers": headers, "body": body}
                )
                status, reply = api.handler(method, self.path, headers, body)
                data = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeApi":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api():
    with FakeApi() as server:
        yield server


@pytest.fixture
def client(api) -> EscalationClient:
    return EscalationClient(api.url, "secret-token", timeout=0.5)


RECEIPT = {"number": "CR-10001", "token": "tok", "status": "new", "owner": "queued",
           "tracking_url": "http://care.test/track?number=CR-10001"}
PAYLOAD = {"name": "Laura Smith", "email": "laura@example.com", "channel": "web_chat"}


def test_search_kb_sends_the_query_and_reads_hits(api, client):
    api.handler = lambda m, p, h, b: (200, {
        "query": "reset password", "answerable": True,
        "hits": [{"article_id": "reset-password", "title": "Reset your password",
                  "url": "/help/reset-password", "snippet": "Choose Forgot password.",
                  "score": 0.8}],
    })

    result = run(client.search_kb("reset password & 2FA", k=4))

    assert result.answerable is True
    assert result.hits == [KbHit("reset-password", "Reset your password",
                                 "/help/reset-password", "Choose Forgot password.", 0.8)]
    request = api.requests[0]
    url = urlparse(request["path"])
    assert url.path == "/api/v1/kb/search"
    assert parse_qs(url.query) == {"q": ["reset password & 2FA"], "k": ["4"]}
    assert request["headers"]["Authorization"] == "Bearer secret-token"


NO_HITS = {"query": "", "answerable": False, "hits": []}


def test_a_question_longer_than_the_api_takes_is_cut_at_a_word(api, client):
    """The KB API refuses more than 1,000 characters with 422; the start of the question
    is what the customer asked about, so that is what is searched."""
    api.handler = lambda m, p, h, b: (200, NO_HITS) if len(parse_qs(urlparse(p).query)["q"][0]) <= 1000 \
        else (422, {"error": {"code": "validation_failed", "message": "too long", "details": None}})
    question = "my account is locked " * 60  # 1,260 characters

    result = run(client.search_kb(question))

    assert result.answerable is False
    sent = parse_qs(urlparse(api.requests[0]["path"]).query)["q"][0]
    assert 900 < len(sent) <= 1000 and question.startswith(sent) and question[len(sent)] == " "


def test_the_customer_behind_a_call_is_named_in_headers(api, client):
    """The API's per-IP and per-conversation limits for the bot's token key on these."""
    answers = iter([(200, NO_HITS), (201, RECEIPT)])
    api.handler = lambda m, p, h, b: next(answers)
    caller = Caller(client_ip="203.0.113.7", conversation_id="c0ffee")

    run(client.search_kb("reset password", caller=caller))
    run(client.open_ticket(PAYLOAD, "key-1", caller=caller))

    for request in api.requests:
        assert request["headers"]["X-Care-Client-IP"] == "203.0.113.7"
        assert request["headers"]["X-Care-Conversation"] == "c0ffee"


def test_search_kb_sends_the_context_and_reads_the_section(api, client):
    section = {"heading": "Steps", "anchor": "steps", "text": "1. Choose Forgot password.",
               "complete": True, "url": "/help/reset-password#steps"}
    api.handler = lambda m, p, h, b: (200, {
        "query": "and then?", "answerable": True,
        "hits": [{"article_id": "reset-password", "title": "Reset your password",
                  "url": "/help/reset-password", "snippet": "Choose Forgot password.",
                  "score": 0.8, "section": section}],
    })

    result = run(client.search_kb("and then?", k=2, context="reset password"))

    assert result.hits[0].section == KbSection("Steps", "steps", "1. Choose Forgot password.", True,
                                               "/help/reset-password#steps")
    query = parse_qs(urlparse(api.requests[0]["path"]).query)
    assert query == {"q": ["and then?"], "k": ["2"], "context": ["reset password"]}


def test_open_ticket_sends_the_idempotency_key_and_reuses_it(api, client):
    answers = iter([(201, RECEIPT), (200, RECEIPT)])
    api.handler = lambda m, p, h, b: next(answers)

    first = run(client.open_ticket(PAYLOAD, "key-123"))
    again = run(client.open_ticket(PAYLOAD, "key-123"))

    assert first == TicketReceipt("CR-10001", "tok", "new", "queued",
                                  "http://care.test/track?number=CR-10001", created=True)
    assert again == TicketReceipt(**{**first.__dict__, "created": False})
    assert [(r["method"], r["path"], r["headers"]["Idempotency-Key"], r["body"])
            for r in api.requests] == [
        ("POST", "/api/v1/tickets", "key-123", PAYLOAD),
        ("POST", "/api/v1/tickets", "key-123", PAYLOAD),
    ]


def test_a_timeout_is_service_unavailable(api, client):
    def slow(method, path, headers, body):
        time.sleep(1.5)
        return 201, RECEIPT

    api.handler = slow
    started = time.monotonic()

    with pytest.raises(ServiceUnavailable):
        run(client.open_ticket(PAYLOAD, "key-123"))

    assert time.monotonic() - started < 1.4


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_service_unavailable(api, client, status):
    api.handler = lambda m, p, h, b: (status, "<html>Bad gateway</html>")

    with pytest.raises(ServiceUnavailable):
        run(client.open_ticket(PAYLOAD, "key-123"))


def test_connection_refused_is_service_unavailable():
    with FakeApi() as stopped:
        url = stopped.url
    client = EscalationClient(url, "secret-token", timeout=0.5)

    with pytest.raises(ServiceUnavailable):
        run(client.search_kb("hello"))


def test_an_api_error_carries_its_code_and_message(api, client):
    api.handler = lambda m, p, h, b: (409, {"error": {
        "code": "idempotency_key_reused", "message": "This key was used for another body.",
        "details": {"key": "key-123"}}})

    with pytest.raises(ApiError) as raised:
        run(client.open_ticket(PAYLOAD, "key-123"))

    error = raised.value
    assert (error.status, error.code, error.message, error.details) == (
        409, "idempotency_key_reused", "This key was used for another body.",
        {"key": "key-123"})


def test_get_ticket_reads_the_status_and_404_is_none(api, client):
    api.handler = lambda m, p, h, b: (
        (200, {"number": "CR-10001", "status": "assigned", "owner": "agent",
               "subject": "Locked out", "created_at": "2024-05-01T12:00:00Z",
               "assignee": "Tim"})
        if p == "/api/v1/tickets/CR-10001"
        else (404, {"error": {"code": "ticket_not_found", "message": "No such ticket.",
                              "details": {}}})
    )

    assert run(client.get_ticket("CR-10001")) == TicketInfo(
        "CR-10001", "assigned", "agent", "Locked out", "2024-05-01T12:00:00Z", "Tim")
    assert run(client.get_ticket("CR-404")) is None


def test_the_client_is_built_on_first_use_from_the_environment(monkeypatch):
    monkeypatch.setattr(escalation_client, "_client", None)
    monkeypatch.setenv("CARE_API_URL", "http://care.test:8000/")
    monkeypatch.setenv("CARE_SERVICE_TOKEN", "t0ken")
    monkeypatch.delenv("CARE_API_TIMEOUT", raising=False)

    client = escalation_client.get_client()

    assert (client.base_url, client.token, client.timeout) == ("http://care.test:8000", "t0ken", 5.0)
    assert escalation_client.get_client() is client


def test_the_receipt_carries_the_expected_wait_in_words(api, client):
    wait = {"target_minutes": 240, "queue_ahead": 0, "agents_online": 2, "open_now": True, "opens_at": None,
            "estimate_minutes": 12, "text": "Expect a first reply within about 12 minutes."}
    api.handler = lambda m, p, h, b: (201, {**RECEIPT, "expected_wait": wait})
    assert run(client.open_ticket(PAYLOAD, "key-w")).expected_wait == wait["text"]
