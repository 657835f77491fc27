"""The desk is not a relay: ticket creation is limited per client IP and per conversation, and
KB search has a per-IP fair-use limit (issue 12, finding 7). With the service token the limits
key on the client the bot names (``X-Care-Client-IP``, ``X-Care-Conversation``); without it
such headers are ignored and the request's own address counts."""
from __future__ import annotations

import threading
import time

import pytest
from flask import Flask
from sqlalchemy import func, select

from escalation.db import db
from escalation.models import OutboxMail, Ticket
from escalation.ratelimit import MemoryLimiter

from .conftest import ticket_body
from .test_ratelimit import REDIS_URL, Clock, redis_prefix  # noqa: F401  (a fixture)
from .test_security_routes import StubIndex


@pytest.fixture
def clock(app: Flask) -> Clock:
    clock = Clock()
    app.extensions["care_ratelimit"] = MemoryLimiter(clock=clock)
    app.extensions["care_kb"] = StubIndex()
    return clock


def open_ticket(client, bot_headers, n: int, ip: str | None = "203.0.113.5", conversation: str | None = None,
                key: str | None = None):
    headers = {**bot_headers, "Idempotency-Key": key or f"abuse-{n}"}
    if ip is not None:
        headers["X-Care-Client-IP"] = ip
    if conversation is not None:
        headers["X-Care-Conversation"] = conversation
    return client.post("/api/v1/tickets", json=ticket_body(email=f"victim{n}@example.com", conversation_id=f"c-{n}"),
                       headers=headers)


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def assert_limited(response, retry_after: int) -> None:
    assert response.status_code == 429
    error = response.get_json()["error"]
    assert error["code"] == "rate_limited" and error["details"]["retry_after"] == retry_after
    assert response.headers["Retry-After"] == str(retry_after)


def test_tickets_are_limited_per_client_ip_named_by_the_bot(app, client, bot_headers, clock):
    app.config.update(RATE_LIMIT_TICKETS_PER_IP=3, RATE_LIMIT_TICKETS_WINDOW=3600)
    assert [open_ticket(client, bot_headers, n).status_code for n in range(3)] == [201] * 3
    assert_limited(open_ticket(client, bot_headers, 3), 3600)
    assert count(app, Ticket) == 3 and count(app, OutboxMail) == 3  # no ticket, no confirmation mail
    # another customer (another IP the bot names) is not affected
    assert open_ticket(client, bot_headers, 4, ip="198.51.100.20").status_code == 201
    clock.now += 3601
    assert open_ticket(client, bot_headers, 5).status_code == 201


def test_tickets_are_limited_per_conversation(app, client, bot_headers, clock):
    app.config.update(RATE_LIMIT_TICKETS_PER_CONVERSATION=2, RATE_LIMIT_TICKETS_PER_IP=100)
    statuses = [open_ticket(client, bot_headers, n, ip=f"203.0.113.{n}", conversation="conv-x").status_code
                for n in range(3)]
    assert statuses == [201, 201, 429]
    assert open_ticket(client, bot_headers, 9, conversation="conv-y").status_code == 201


def test_the_conversation_in_the_body_counts_when_the_bot_names_none(app, client, bot_headers, clock):
    app.config.update(RATE_LIMIT_TICKETS_PER_CONVERSATION=1)
    body = ticket_body(email="a@example.com", conversation_id="same")
    first = client.post("/api/v1/tickets", json=body, headers={**bot_headers, "Idempotency-Key": "b1"})
    second = client.post("/api/v1/tickets", json={**body, "email": "b@example.com"},
                         headers={**bot_headers, "Idempotency-Key": "b2"})
    assert (first.status_code, second.status_code) == (201, 429)


def test_a_retried_request_is_not_counted_twice(app, client, bot_headers, clock):
    app.config.update(RATE_LIMIT_TICKETS_PER_IP=1)
    assert open_ticket(client, bot_headers, 1, key="same-key").status_code == 201
    replay = open_ticket(client, bot_headers, 1, key="same-key")
    assert replay.status_code == 200  # the stored answer, not a 429
    assert open_ticket(client, bot_headers, 2).status_code == 429


def test_client_headers_without_the_service_token_are_ignored(app, client, bot_headers, clock):
    app.config.update(RATE_LIMIT_KB_SEARCHES=2)
    spoofed = [client.get("/api/v1/kb/search?q=refund", headers={"X-Care-Client-IP": f"192.0.2.{n}"}).status_code
               for n in range(3)]
    assert spoofed == [200, 200, 429]  # all from this address, whatever the header says


def test_kb_search_has_a_per_ip_fair_use_limit(app, client, bot_headers, clock):
    app.config.update(RATE_LIMIT_KB_SEARCHES=5, RATE_LIMIT_KB_WINDOW=60)
    assert [client.get("/api/v1/kb/search?q=refund").status_code for _ in range(5)] == [200] * 5
    blocked = client.get("/api/v1/kb/search?q=refund")
    assert_limited(blocked, 60)
    assert blocked.headers["Access-Control-Allow-Origin"] == "*"  # the widget can read it
    # the bot searching for another customer is not affected, nor another address
    for_other = client.get("/api/v1/kb/search?q=refund", headers={**bot_headers, "X-Care-Client-IP": "198.51.100.7"})
    assert for_other.status_code == 200
    assert client.get("/api/v1/kb/search?q=refund", environ_base={"REMOTE_ADDR": "198.51.100.8"}).status_code == 200
    clock.now += 61
    assert client.get("/api/v1/kb/search?q=refund").status_code == 200


def test_the_default_kb_limit_lets_a_page_suggest_articles_while_someone_types(app, client, clock):
    # a help-centre page asking on every keystroke of a 60-character question, twice a minute
    for _ in range(2):
        for n in range(1, 61):
            assert client.get("/api/v1/kb/search", query_string={"q": "r" * n}).status_code == 200


def test_concurrent_ticket_requests_cannot_overshoot_the_limit(app, bot_headers, clock):
    app.config.update(RATE_LIMIT_TICKETS_PER_IP=3)
    statuses: list[int] = []
    start = threading.Barrier(10)

    def attempt(n: int) -> None:
        own = app.test_client()
        start.wait()
        statuses.append(open_ticket(own, bot_headers, n).status_code)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [201] * 3 + [429] * 7


def test_the_redis_limiter_counts_hits_across_processes(redis_prefix):
    from escalation.ratelimit import RedisLimiter

    one, two = RedisLimiter(REDIS_URL, prefix=redis_prefix), RedisLimiter(REDIS_URL, prefix=redis_prefix)
    verdicts = [one.hit("kb", "ip", 2, 60), two.hit("kb", "ip", 2, 60), one.hit("kb", "ip", 2, 60)]
    assert [v.blocked for v in verdicts] == [False, False, True]
    assert 0 < verdicts[2].retry_after <= 60
    assert not two.hit("kb", "other-ip", 2, 60).blocked


def test_a_refusal_is_held_before_it_is_sent(app, client, clock):
    from escalation.ratelimit import Tarpit

    app.extensions["care_tarpit"] = Tarpit(0.3, 10)
    app.config.update(RATE_LIMIT_KB_SEARCHES=1)
    assert client.get("/api/v1/kb/search?q=refund").status_code == 200
    started = time.perf_counter()
    refused = client.get("/api/v1/kb/search?q=refund")
    assert_limited(refused, 60)
    assert time.perf_counter() - started >= 0.3  # slept before answering: a looping client is slowed down


def test_a_full_tarpit_answers_at_once():
    from escalation.ratelimit import Tarpit

    tarpit = Tarpit(0.5, 1)
    held = threading.Thread(target=tarpit.hold)
    held.start()
    time.sleep(0.05)
    assert tarpit.hold() is False  # the one slot is taken: this refusal is not held
    held.join()
    assert Tarpit(0, 5).hold() is False  # 0 seconds: never held
