"""Rate limits on failed guesses: ticket lookups (enumeration) and console logins (brute force).

Only *failures* count: ``RATE_LIMIT_LOOKUPS`` failed lookups (``POST /track`` with a wrong
number/e-mail, or an unknown conversation token on ``/api/v1/conversations/<token>/…``) or
``RATE_LIMIT_LOGINS`` failed sign-ins from one client IP within ``RATE_LIMIT_WINDOW`` seconds
(counted from the first failure) block that bucket for that IP until the window ends. While
blocked, every request of the bucket gets 429 with ``Retry-After``, even a correct one, so a
blocked client learns nothing more.

Counters live in this process's memory by default; with ``CARE_REDIS_URL`` set they live in
Redis, shared by every service process. If Redis cannot be reached the process falls back to
its own memory (and logs it) rather than failing open.

The guard is wired by request endpoint in :func:`init_app` (called from ``escalation.http``), so
the routes themselves stay unaware of it; ``GUARDED`` below is the one place that says which
requests count.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from flask import Flask, Response, current_app, jsonify, render_template, request

log = logging.getLogger(__name__)

LOOKUP = "lookup"
LOGIN = "login"


@dataclass(frozen=True)
class Verdict:
    blocked: bool
    retry_after: int  # seconds until the window ends (0 when not blocked)


class Limiter(Protocol):
    def check(self, bucket: str, key: str, limit: int) -> Verdict: ...

    def fail(self, bucket: str, key: str, window: int) -> None: ...


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


def client_key() -> str:
    # request.remote_addr is the peer; behind a reverse proxy, wrap the app in
    # werkzeug's ProxyFix so this is the client's address and not the proxy's.
    return request.remote_addr or "unknown"


def limiter(app: Flask | None = None) -> Limiter:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return app.extensions["care_ratelimit"]


def when_to_retry(retry_after: int, now: datetime | None = None) -> str:
    at = (now or datetime.now(timezone.utc)) + timedelta(seconds=retry_after)
    minutes = math.ceil(retry_after / 60)
    span = f"{retry_after} seconds" if retry_after < 60 else \
        f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"Try again in {span} (after {at.strftime('%H:%M')} UTC)."


def _too_many(guard: Guard, retry_after: int) -> Response:
    from .http import wants_json

    what = "sign-in attempts" if guard.bucket == LOGIN else "lookups that found nothing"
    message = f"Too many {what} from your network. {when_to_retry(retry_after)}"
    if request.blueprint == "api" or wants_json():
        response = jsonify({"error": {"code": "rate_limited", "message": message,
                                      "details": {"retry_after": retry_after}}})
        response.status_code = 429
    elif guard.bucket == LOOKUP:
        from .public import tracked_number

        response = Response(render_template("public/track.html", number=tracked_number(),
                                            ticket=None, error=message), status=429)
    else:
        from flask import flash

        from .auth import LoginForm

        flash(message, "error")
        response = Response(render_template("auth/login.html", form=LoginForm()), status=429)
    response.headers["Retry-After"] = str(retry_after)
    return response


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
            return _too_many(guard, verdict.retry_after)
        return None

    @app.after_request
    def count_failures(response: Response) -> Response:
        guard = guard_for_request()
        if guard is not None and response.status_code == guard.failure_status:
            count_failure(guard)
        return response
