"""The Slack Web API, as the escalation service needs it (one client, base URL a setting).

Slack answers HTTP 200 with ``{"ok": false, "error": ...}`` for most failures, and HTTP 429
with a ``Retry-After`` header when a method's rate limit is reached: :class:`RateLimited`
carries that delay, and callers wait at least that long (the worker reschedules the post;
an interactive call waits once when the delay is short).
"""
from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Mapping

log = logging.getLogger("escalation.slack")

SHORT_WAIT = 3.0  # seconds an interactive call may wait on a 429 before trying once more


class SlackError(Exception):
    """A Web API call failed; ``temporary`` when the same call may succeed later."""

    def __init__(self, message: str, *, code: str = "", temporary: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.temporary = temporary


class RateLimited(SlackError):
    def __init__(self, method: str, retry_after: float) -> None:
        super().__init__(f"{method}: rate limited, retry after {retry_after:g}s", code="ratelimited",
                         temporary=True)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Profile:
    user_id: str
    name: str
    email: str


class SlackClient:
    def __init__(self, base_url: str, token: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.token = token
        self.timeout = timeout

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "SlackClient":
        return cls(config["SLACK_API_URL"], config["SLACK_BOT_TOKEN"], float(config["SLACK_TIMEOUT"]))

    @property
    def configured(self) -> bool:
        return bool(self.token)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """POST ``params`` as JSON to ``<base>/<method>``; the decoded body when ``ok``."""
        request = urllib.request.Request(
            self.base_url + method, data=json.dumps(params).encode(), method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            if exc.code == 429:
                raise RateLimited(method, _retry_after(exc.headers.get("Retry-After"))) from None
            raise SlackError(f"{method}: HTTP {exc.code}", code=f"http_{exc.code}",
                             temporary=exc.code >= 500) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise SlackError(f"{method}: {exc}", code="unreachable", temporary=True) from None
        if not body.get("ok"):
            error = str(body.get("error") or "unknown_error")
            raise SlackError(f"{method}: {error}", code=error, temporary=error in {"internal_error", "fatal_error"})
        return body

    def call_waiting(self, method: str, **params: Any) -> dict[str, Any]:
        """:meth:`call` for a person waiting on a click: one short wait on a 429, then give up."""
        try:
            return self.call(method, **params)
        except RateLimited as exc:
            if exc.retry_after > SHORT_WAIT:
                raise
            time.sleep(exc.retry_after)
            return self.call(method, **params)

    def post_message(self, channel: str, text: str, *, thread_ts: str | None = None,
                     blocks: list[dict[str, Any]] | None = None) -> str:
        params: dict[str, Any] = {"channel": channel, "text": text}
        if thread_ts:
            params["thread_ts"] = thread_ts
        if blocks:
            params["blocks"] = blocks
        return str(self.call("chat.postMessage", **params).get("ts", ""))

    def update_message(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        self.call_waiting("chat.update", channel=channel, ts=ts, text=text, blocks=blocks or [])

    def post_ephemeral(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
        params: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if thread_ts:
            params["thread_ts"] = thread_ts
        self.call_waiting("chat.postEphemeral", **params)

    def profile(self, user_id: str) -> Profile:
        """``users.info``: the person's display name and e-mail (needs ``users:read.email``)."""
        user = self.call_waiting("users.info", user=user_id).get("user") or {}
        profile = user.get("profile") or {}
        return Profile(user_id=user_id, name=str(profile.get("real_name") or user.get("real_name")
                                                  or user.get("name") or ""),
                       email=str(profile.get("email") or "").strip().lower())


def _retry_after(value: str | None) -> float:
    try:
        return max(1.0, float(value or 1))
    except ValueError:
        return 1.0
