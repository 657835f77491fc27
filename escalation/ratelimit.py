"""Rate limits on failed guesses: ticket lookups (enumeration) and console logins (brute force).

Only *failures* count: ``RATE_LIMIT_LOOKUPS`` failed lookups (``POST /track`` with a wrong
number/e-mail, or an unknown conversation token on ``/api/v1/conversations/<token>/…``) or
``RATE_LIMIT_LOGINS`` failed sign-ins from one client IP within ``RATE_LIMIT_WINDOW`` seconds
(counted from the first failure) block that bucket for that IP until the window ends. While
blocked, every request of the bucket gets 429 with ``Retry-After``, even a correct one, so a
blocked client learns nothing more.

Quotas (issue 12) are different: they count *every* request, not failures. Ticket creation
through the API (the bot's ``POST /api/v1/tickets``) is limited per client IP
(``RATE_LIMIT_TICKETS_PER_IP``) and per conversation (``RATE_LIMIT_TICKETS_PER_CONVERSATION``)
per ``RATE_LIMIT_TICKETS_WINDOW``; KB search per client IP (``RATE_LIMIT_KB_SEARCHES`` per
``RATE_LIMIT_KB_WINDOW``). Past a quota the request gets 429 with ``Retry-After``. The
action server calls from loopback with the service token on behalf of a browser: with a valid
token the client is the one it names in ``X-Care-Client-IP`` and ``X-Care-Conversation`` (else
the body's ``conversation_id``); without the token those headers are ignored and the
request's own address counts. A token holder that names no client IP is a server-side
integration holding the desk's secret: it is not limited per IP. A retried ticket request
(an ``Idempotency-Key`` already answered) is not counted again.

A refusal is slowed down, not only refused (a tarpit, as express-slow-down or nginx's
``limit_req`` delay do): the 429 of a quota or a blocked guard is answered after
``RATE_LIMIT_TARPIT_SECONDS``, the thread sleeping (no CPU, no lock held). A client that
ignores ``Retry-After`` and loops gets one answer a second per connection instead of
hundreds, so the cores stay with the customers being served (``bench/bench_abuse.py``).
At most ``RATE_LIMIT_TARPIT_MAX`` refusals sleep at once in a process; past that they are
answered at once, so a flood cannot take the service's threads either.

Counters live in this process's memory by default; with ``CARE_REDIS_URL`` set they live in
Redis, shared by every service process. If Redis cannot be reached the process falls back to
its own memory (and logs it) rather than failing open.

The guard is wired by request endpoint in :func:`init_app` (called from ``create_app``), so
the routes themselves stay unaware of it; :func:`guard_for_request` below is the one place that says which
requests count.
"""
from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from flask import Flask, Response, current_app, request

from .errors import RateLimited

log = logging.getLogger(__name__)

LOOKUP = "lookup"
LOGIN = "login"


@dataclass(frozen=True)
class Verdict:
    blocked: bool
    retry_after: int  # seconds until the window ends (0 when not blocked)


class Tarpit:
    """Holds a refusal for a moment before it is sent, a bounded number at a time."""

    def __init__(self, seconds: float, most: int) -> None:
        self.seconds = seconds
        self._slots = threading.BoundedSemaphore(max(1, most))

    def hold(self) -> bool:
        """Sleep before the refusal goes out; False (at once) when every slot is taken."""
        if self.seconds <= 0 or not self._slots.acquire(blocking=False):
            return False
        try:
            time.sleep(self.seconds)
        finally:
            self._slots.release()
        return True


class Limiter(Protocol):
    def check(self, bucket: str, key: str, limit: int) -> Verdict: ...

    def fail(self, bucket: str, key: str, window: int) -> None: ...

    def hit(self, bucket: str, key: str, limit: int, window: int) -> Verdict:
        """Count one request, atomically; blocked once more than ``limit`` came in the window."""
        ...


class MemoryLimiter:
    """Fixed windows per (bucket, key), started by the first failure; one process only."""

    MAX_KEYS = 100_000  # expired windows are swept when there are more than this many keys

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], tuple[int, float]] = {}  # (bucket, key) -> (failures, ends_at)

    def check(self, bucket: str, key: str, limit: int) -> Verdict:
        now = self._clock()
        with self._lock:
            count, ends_at = self._windows.get((bucket, key), (0, now))
        if ends_at <= now or count < limit:
            return Verdict(False, 0)
        return Verdict(True, max(1, math.ceil(ends_at - now)))

    def fail(self, bucket: str, key: str, window: int) -> None:
        now = self._clock()
        with self._lock:
            count, ends_at = self._windows.get((bucket, key), (0, now))
            if ends_at <= now:
                count, ends_at = 0, now + window
            self._windows[(bucket, key)] = (count + 1, ends_at)
            if len(self._windows) > self.MAX_KEYS:
                self._windows = {k: v for k, v in self._windows.items() if v[1] > now}

    def hit(self, bucket: str, key: str, limit: int, window: int) -> Verdict:
        now = self._clock()
        with self._lock:
            count, ends_at = self._windows.get((bucket, key), (0, now))
            if ends_at <= now:
                count, ends_at = 0, now + window
            if count >= limit:  # a refused request does not count: the window still ends on time
                return Verdict(True, max(1, math.ceil(ends_at - now)))
            self._windows[(bucket, key)] = (count + 1, ends_at)
            if len(self._windows) > self.MAX_KEYS:
                self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
        return Verdict(False, 0)


class RedisLimiter:
    """The same windows in Redis (``INCR`` + ``EXPIRE``), shared by every process."""

    def __init__(self, url: str, prefix: str = "care:ratelimit:", fallback: MemoryLimiter | None = None) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._prefix = prefix
        self._fallback = fallback or MemoryLimiter()
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)

    def _key(self, bucket: str, key: str) -> str:
        return f"{self._prefix}{bucket}:{key}"

    def check(self, bucket: str, key: str, limit: int) -> Verdict:
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.get(self._key(bucket, key))
            pipe.pttl(self._key(bucket, key))
            raw, pttl = pipe.execute()
        except self._errors as exc:
            log.warning("rate limit: redis unreachable (%s); using this process's own counters", type(exc).__name__)
            return self._fallback.check(bucket, key, limit)
        fallback = self._fallback.check(bucket, key, limit)
        if raw is None or int(raw) < limit or pttl is None or pttl <= 0:
            return fallback
        return Verdict(True, max(1, math.ceil(pttl / 1000)))

    def fail(self, bucket: str, key: str, window: int) -> None:
        name = self._key(bucket, key)
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.set(name, 0, ex=window, nx=True)  # starts the window with the first failure
            pipe.incr(name)
            pipe.execute()
        except self._errors as exc:
            log.warning("rate limit: redis unreachable (%s); counting in this process", type(exc).__name__)
            self._fallback.fail(bucket, key, window)

    def hit(self, bucket: str, key: str, limit: int, window: int) -> Verdict:
        name = self._key(bucket, key)
        try:
            pipe = self._redis.pipeline(transaction=True)  # MULTI/EXEC: every process sees one count
            pipe.set(name, 0, ex=window, nx=True)
            pipe.incr(name)
            pipe.pttl(name)
            _, count, pttl = pipe.execute()
        except self._errors as exc:
            log.warning("rate limit: redis unreachable (%s); counting in this process", type(exc).__name__)
            return self._fallback.hit(bucket, key, limit, window)
        if int(count) <= limit:
            return Verdict(False, 0)
        return Verdict(True, max(1, math.ceil((pttl if pttl and pttl > 0 else window * 1000) / 1000)))


# ---- which requests count ----------------------------------------------------------------

@dataclass(frozen=True)
class Guard:
    bucket: str
    failure_status: int  # a response with this status is a failed guess
    limit_setting: str


GUARD_LOOKUP = Guard(LOOKUP, 404, "RATE_LIMIT_LOOKUPS")
GUARD_LOGIN = Guard(LOGIN, 401, "RATE_LIMIT_LOGINS")


def guard_for_request() -> Guard | None:
    """The guard that applies to this request, if any (the single list of guarded requests)."""
    if request.method == "POST" and request.endpoint == "auth.login":
        return GUARD_LOGIN
    if request.method == "POST" and request.endpoint in ("public.track", "api.conversations_lookup"):
        return GUARD_LOOKUP  # the lookup route counts each unknown token itself (count_failure)
    # every API route that takes a conversation token: the token is the credential
    if request.blueprint == "api" and request.method in {"GET", "HEAD", "POST"} \
            and "token" in (request.view_args or {}):
        return GUARD_LOOKUP
    return None


def count_failure(guard: Guard) -> None:
    """One failed guess by this client (the lookup route calls it once per unknown token)."""
    limiter().fail(guard.bucket, client_key(), int(current_app.config["RATE_LIMIT_WINDOW"]))


# ---- quotas: every request counts ---------------------------------------------------------

@dataclass(frozen=True)
class Quota:
    bucket: str
    limit_setting: str
    window_setting: str
    what: str  # for the message: "Too many {what} …"


QUOTA_TICKETS_IP = Quota("tickets-ip", "RATE_LIMIT_TICKETS_PER_IP", "RATE_LIMIT_TICKETS_WINDOW",
                         "new tickets from your network")
QUOTA_TICKETS_CONVERSATION = Quota("tickets-conversation", "RATE_LIMIT_TICKETS_PER_CONVERSATION",
                                   "RATE_LIMIT_TICKETS_WINDOW", "new tickets from this conversation")
QUOTA_KB_SEARCH = Quota("kb-search", "RATE_LIMIT_KB_SEARCHES", "RATE_LIMIT_KB_WINDOW",
                        "help-centre searches from your network")

CLIENT_IP_HEADER = "X-Care-Client-IP"
CONVERSATION_HEADER = "X-Care-Conversation"


def forwarded_client() -> tuple[str | None, str | None]:
    """(client IP, conversation) that this request's quotas count against; None: not limited on it.

    Only a caller with the service token (the action server) may name the browser it acts for;
    anyone else is their own address, whatever headers they send.
    """
    from .auth import has_service_token

    if not has_service_token():
        return client_key(), None
    raw_ip = (request.headers.get(CLIENT_IP_HEADER) or "").strip()
    try:
        ip = str(ipaddress.ip_address(raw_ip)) if raw_ip else None
    except ValueError:
        ip = None
    conversation = (request.headers.get(CONVERSATION_HEADER) or "").strip()[:120] or None
    if conversation is None and request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # refused as too deep by escalation.http, after this hook
            body = None
        value = body.get("conversation_id") if isinstance(body, dict) else None
        conversation = value.strip()[:120] or None if isinstance(value, str) else None
    return ip, conversation


def _is_replay() -> bool:
    """A ticket request whose Idempotency-Key was answered already: the stored answer comes back
    and nothing is created, so it does not count again."""
    from .db import db
    from .models import IdempotencyRecord

    key = request.headers.get("Idempotency-Key") or ""
    return bool(key.strip()) and len(key) <= 200 and db.session.get(IdempotencyRecord, key) is not None


def quotas_for_request() -> list[tuple[Quota, str]]:
    """The quotas this request spends, with the key of each (the single list of limited requests)."""
    if request.method == "POST" and request.endpoint == "api.create_ticket":
        if _is_replay():
            return []
        ip, conversation = forwarded_client()
        return [(quota, key) for quota, key in ((QUOTA_TICKETS_IP, ip), (QUOTA_TICKETS_CONVERSATION, conversation))
                if key is not None]
    if request.method == "GET" and request.endpoint == "api.kb_search":
        ip, _ = forwarded_client()
        return [(QUOTA_KB_SEARCH, ip)] if ip is not None else []
    return []


def client_key() -> str:
    # request.remote_addr is the peer; behind a reverse proxy, wrap the app in
    # werkzeug's ProxyFix so this is the client's address and not the proxy's.
    return request.remote_addr or "unknown"


def tarpit() -> Tarpit:
    """This process's tarpit, made from the settings on first use."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions.get("care_tarpit")
    if found is None:
        found = app.extensions.setdefault("care_tarpit", Tarpit(float(app.config["RATE_LIMIT_TARPIT_SECONDS"]),
                                                               int(app.config["RATE_LIMIT_TARPIT_MAX"])))
    return found


def limiter(app: Flask | None = None) -> Limiter:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return app.extensions["care_ratelimit"]


def when_to_retry(retry_after: int, now: datetime | None = None) -> str:
    at = (now or datetime.now(timezone.utc)) + timedelta(seconds=retry_after)
    minutes = math.ceil(retry_after / 60)
    span = f"{retry_after} seconds" if retry_after < 60 else \
        f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"Try again in {span} (after {at.strftime('%H:%M')} UTC)."


def init_app(app: Flask) -> None:
    if app.config.get("REDIS_URL"):
        app.extensions["care_ratelimit"] = RedisLimiter(app.config["REDIS_URL"],
                                                        prefix=app.config["RATE_LIMIT_REDIS_PREFIX"])
    else:
        app.extensions["care_ratelimit"] = MemoryLimiter()

    @app.before_request
    def refuse_when_blocked() -> Any:
        guard = guard_for_request()
        if guard is None:
            return None
        verdict = limiter().check(guard.bucket, client_key(), int(current_app.config[guard.limit_setting]))
        if verdict.blocked:
            log.info("rate limit: %s blocked for %s s (%s)", guard.bucket, verdict.retry_after, request.endpoint)
            tarpit().hold()
            what = "sign-in attempts" if guard.bucket == LOGIN else "lookups that found nothing"
            raise RateLimited(f"Too many {what} from your network. {when_to_retry(verdict.retry_after)}",
                              retry_after=verdict.retry_after)
        return None

    @app.before_request
    def refuse_over_quota() -> Any:
        for quota, key in quotas_for_request():
            verdict = limiter().hit(quota.bucket, key, int(current_app.config[quota.limit_setting]),
                                    int(current_app.config[quota.window_setting]))
            if verdict.blocked:
                log.info("rate limit: %s over quota for %s s (%s)", quota.bucket, verdict.retry_after,
                         request.endpoint)
                tarpit().hold()
                raise RateLimited(f"Too many {quota.what}. {when_to_retry(verdict.retry_after)}",
                                  retry_after=verdict.retry_after, details={"limit": quota.limit_setting})
        return None

    @app.after_request
    def count_failures(response: Response) -> Response:
        guard = guard_for_request()
        if guard is not None and response.status_code == guard.failure_status:
            count_failure(guard)
        return response


def tracked_number() -> str:
    """The ticket number being looked up on /track: the form's on POST (the page's URL may name
    another), the URL's on GET. Here, not in the public blueprint, because the lookup guard
    needs it too (and the public pages already build on this module)."""
    return ((request.form if request.method == "POST" else request.args).get("number") or "").strip()
