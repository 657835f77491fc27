"""Rate limits against ticket enumeration (/track, conversation tokens) and login brute force."""
from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask

from escalation import ratelimit
from escalation.ratelimit import MemoryLimiter, RedisLimiter

from .conftest import DEMO_PASSWORD, ticket_body

REDIS_URL = "redis://127.0.0.1:6379/0"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app: Flask) -> Clock:
    clock = Clock()
    app.extensions["care_ratelimit"] = MemoryLimiter(clock=clock)
    return clock


@pytest.fixture
def opened(client, bot_headers) -> dict:
    return client.post("/api/v1/tickets", json=ticket_body(),
                       headers={**bot_headers, "Idempotency-Key": "rl"}).get_json()


def wrong_track(client, i: int = 0, **kw):
    return client.post("/track", data={"number": f"CR-{20000 + i}", "email": "laura@example.com"}, **kw)


# ---- the limiter itself ----------------------------------------------------------------------

def test_memory_limiter_blocks_after_the_limit_until_the_window_ends():
    clock = Clock()
    limiter = MemoryLimiter(clock=clock)
    for _ in range(3):
        assert not limiter.check("b", "ip", 3).blocked
        limiter.fail("b", "ip", 600)
    verdict = limiter.check("b", "ip", 3)
    assert verdict.blocked and verdict.retry_after == 600
    clock.now += 599.5
    assert limiter.check("b", "ip", 3) == ratelimit.Verdict(True, 1)
    assert not limiter.check("b", "other-ip", 3).blocked and not limiter.check("other", "ip", 3).blocked
    clock.now += 1
    assert not limiter.check("b", "ip", 3).blocked
    limiter.fail("b", "ip", 600)  # a new window starts from this failure
    assert not limiter.check("b", "ip", 3).blocked


def test_retry_message_says_when():
    from datetime import datetime, timezone

    now = datetime(2030, 1, 2, 14, 0, tzinfo=timezone.utc)
    assert ratelimit.when_to_retry(420, now) == "Try again in 7 minutes (after 14:07 UTC)."
    assert ratelimit.when_to_retry(30, now) == "Try again in 30 seconds (after 14:00 UTC)."
    assert ratelimit.when_to_retry(60, now) == "Try again in 1 minute (after 14:01 UTC)."


# ---- /track ----------------------------------------------------------------------------------

def test_track_is_limited_after_ten_failed_lookups(client, clock, opened):
    for i in range(10):
        assert wrong_track(client, i).status_code == 404
    blocked = wrong_track(client, 10)
    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"] == "600"
    assert blocked.mimetype == "text/html"
    page = blocked.get_data(as_text=True)
    assert "Too many lookups" in page and "Try again in 10 minutes" in page
    # while blocked, even a right number + e-mail is refused: the answer must not tell them apart
    right = client.post("/track", data={"number": opened["number"], "email": "laura@example.com"})
    assert right.status_code == 429
    # asking for JSON gets the one error shape
    as_json = wrong_track(client, headers={"Accept": "application/json"})
    assert as_json.status_code == 429 and as_json.get_json()["error"]["code"] == "rate_limited"
    # another IP is not affected; the window ends, and the customer gets in again
    other = client.post("/track", data={"number": opened["number"], "email": "laura@example.com"},
                        environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert other.status_code == 200
    clock.now += 601
    assert client.post("/track", data={"number": opened["number"], "email": "laura@example.com"}).status_code == 200


def test_successful_lookups_and_the_form_do_not_count(client, clock, opened):
    for _ in range(15):
        assert client.post("/track", data={"number": opened["number"], "email": "laura@example.com"}).status_code == 200
        assert client.get("/track").status_code == 200
    assert wrong_track(client).status_code == 404


# ---- conversation tokens ---------------------------------------------------------------------

@pytest.mark.parametrize("method,path,body", [
    ("GET", "/api/v1/conversations/{t}", None),
    ("GET", "/api/v1/conversations/{t}/events", None),
    ("POST", "/api/v1/conversations/{t}/messages", {"body": "hi"}),
    ("POST", "/api/v1/conversations/{t}/survey", {"rating": 5}),
])
def test_unknown_tokens_are_limited_on_every_conversation_endpoint(client, clock, opened, method, path, body):
    for i in range(10):
        response = client.open(path.format(t=f"guess-{i}"), method=method, json=body)
        assert response.status_code == 404
    blocked = client.open(path.format(t="guess-x"), method=method, json=body)
    assert blocked.status_code == 429
    error = blocked.get_json()["error"]
    assert error["code"] == "rate_limited" and error["details"] == {"retry_after": 600}
    assert re.search(r"Try again in 10 minutes \(after \d\d:\d\d UTC\)", error["message"])
    assert blocked.headers["Retry-After"] == "600"
    assert blocked.headers["Access-Control-Allow-Origin"] == "*"  # the widget can read it cross-origin
    assert client.get(f"/api/v1/conversations/{opened['token']}").status_code == 429
    assert client.get(f"/api/v1/conversations/{opened['token']}",
                      environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 200


def test_lookups_share_one_budget_and_known_tokens_do_not_count(client, clock, opened):
    for _ in range(20):
        assert client.get(f"/api/v1/conversations/{opened['token']}").status_code == 200
    for i in range(5):
        assert wrong_track(client, i).status_code == 404
        assert client.get(f"/api/v1/conversations/nope-{i}").status_code == 404
    assert client.get("/api/v1/conversations/nope").status_code == 429
    assert wrong_track(client).status_code == 429


def test_the_limit_is_a_setting(app, client, clock):
    app.config["RATE_LIMIT_LOOKUPS"] = 2
    app.config["RATE_LIMIT_WINDOW"] = 30
    assert [client.get(f"/api/v1/conversations/n{i}").status_code for i in range(3)] == [404, 404, 429]
    assert client.get("/api/v1/conversations/n").headers["Retry-After"] == "30"


# ---- console login ---------------------------------------------------------------------------

def test_console_login_is_limited_after_ten_failures(client, clock):
    for _ in range(10):
        assert client.post("/login", data={"username": "kim", "password": "guess"}).status_code == 401
    blocked = client.post("/login", data={"username": "kim", "password": DEMO_PASSWORD})
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "600"
    assert "Too many sign-in attempts" in blocked.get_data(as_text=True)
    assert "Try again in 10 minutes" in blocked.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302  # not signed in
    assert client.get("/login").status_code == 200  # the page itself still shows
    clock.now += 600
    assert client.post("/login", data={"username": "kim", "password": DEMO_PASSWORD}).status_code == 302


def test_successful_logins_do_not_count(client, clock, auth):
    for _ in range(12):
        assert auth.login().status_code == 302
        auth.logout()


# ---- Redis -----------------------------------------------------------------------------------

@pytest.fixture
def redis_prefix() -> Iterator[str]:
    import redis

    server = redis.Redis.from_url(REDIS_URL)
    try:
        server.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({exc}). Start it: redis-server --daemonize yes")
    prefix = f"care-test:{uuid.uuid4().hex}:"
    yield prefix
    keys = list(server.scan_iter(match=prefix + "*"))
    if keys:
        server.delete(*keys)
    server.close()


def test_redis_limiter_counts_across_processes(redis_prefix):
    one, two = RedisLimiter(REDIS_URL, prefix=redis_prefix), RedisLimiter(REDIS_URL, prefix=redis_prefix)
    for i in range(4):
        (one if i % 2 else two).fail("lookup", "10.0.0.1", 600)
    verdict = two.check("lookup", "10.0.0.1", 4)
    assert verdict.blocked and 598 <= verdict.retry_after <= 600
    assert not one.check("lookup", "10.0.0.1", 5).blocked
    assert not one.check("lookup", "10.0.0.2", 4).blocked and not one.check("login", "10.0.0.1", 4).blocked
    other_prefix = RedisLimiter(REDIS_URL, prefix=redis_prefix + "x:")
    assert not other_prefix.check("lookup", "10.0.0.1", 4).blocked


def test_redis_window_expires(redis_prefix):
    limiter = RedisLimiter(REDIS_URL, prefix=redis_prefix)
    limiter.fail("login", "ip", 1)
    assert limiter.check("login", "ip", 1) == ratelimit.Verdict(True, 1)
    time.sleep(1.2)
    assert not limiter.check("login", "ip", 1).blocked


def test_redis_limits_the_app(app, client, redis_prefix):
    app.extensions["care_ratelimit"] = RedisLimiter(REDIS_URL, prefix=redis_prefix)
    for i in range(10):
        assert client.get(f"/api/v1/conversations/g{i}").status_code == 404
    blocked = client.get("/api/v1/conversations/g")
    assert blocked.status_code == 429 and 598 <= int(blocked.headers["Retry-After"]) <= 600
    import redis

    assert int(redis.Redis.from_url(REDIS_URL).get(f"{redis_prefix}lookup:127.0.0.1")) == 10


def test_redis_url_selects_the_redis_limiter():
    bare = Flask(__name__)
    bare.config.update(REDIS_URL=REDIS_URL, RATE_LIMIT_REDIS_PREFIX="care-test-select:")
    ratelimit.init_app(bare)
    assert isinstance(bare.extensions["care_ratelimit"], RedisLimiter)
    bare = Flask(__name__)
    bare.config.update(REDIS_URL="", RATE_LIMIT_REDIS_PREFIX="x")
    ratelimit.init_app(bare)
    assert isinstance(bare.extensions["care_ratelimit"], MemoryLimiter)


def test_redis_down_falls_back_to_this_process(caplog):
    limiter = RedisLimiter("redis://127.0.0.1:1/0", prefix="care-test-down:")
    with caplog.at_level(logging.WARNING, logger="escalation.ratelimit"):
        for _ in range(2):
            limiter.fail("lookup", "ip", 600)
        assert limiter.check("lookup", "ip", 2).blocked
    assert "redis unreachable" in caplog.text


def test_the_limiter_raises_and_the_one_error_handler_answers(app):
    """ratelimit builds no envelope and renders no page: it raises RateLimited, which the one
    error handler (escalation.http) answers, and the sign-in and tracking pages render."""
    import ast
    from pathlib import Path

    from escalation.errors import RateLimited

    tree = ast.parse(Path(ratelimit.__file__).read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | \
        {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert not names & {"jsonify", "render_template", "make_response"}
    with app.test_request_context("/api/v1/tickets", method="POST"):
        response = app.handle_user_exception(RateLimited("Too many.", retry_after=42))
    assert response.status_code == 429 and response.headers["Retry-After"] == "42"
    assert response.get_json() == {"error": {"code": "rate_limited", "message": "Too many.",
                                             "details": {"retry_after": 42}}}
