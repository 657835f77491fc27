"""Client for the escalation service's HTTP API (`/api/v1`, see docs/interfaces.md).

The custom actions never talk HTTP themselves: they call `get_client()`, which builds one
`EscalationClient` from the environment on first use (never at import time). Unit tests
swap in the fake twin from `tests/chatbot/fakes.py`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import weakref
from typing import Any, Mapping, Optional
from urllib.parse import quote, urlencode

import aiohttp

logger = logging.getLogger(__name__)

# Settings as data: name -> (default, help). The README documents every one (a test checks).
SETTINGS: dict[str, tuple[str, str]] = {
    "CARE_API_URL": (
        "http://127.0.0.1:5000",
        "Base URL of the escalation service, as seen by the action server.",
    ),
    "CARE_SERVICE_TOKEN": (
        "dev-service-token",
        "Bearer token the actions use for the escalation API's service endpoints.",
    ),
    "CARE_API_TIMEOUT": (
        "5",
        "Seconds before a call to the escalation API counts as failed (connect + read).",
    ),
}
# Base URL customers reach the escalation service at (its /track page). Not one of SETTINGS:
# it is the escalation service's own `CARE_PUBLIC_URL` (README.md), which `make run` passes
# to every process; when it is unset, the tracking links are built from `CARE_API_URL`.
PUBLIC_URL_SETTING = "CARE_PUBLIC_URL"
# The longest question `GET /api/v1/kb/search` takes (escalation/api/kb.py MAX_QUERY); a
# longer one is cut before it is sent (a 422 is no outage).
MAX_QUERY_CHARS = 1000


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who the request is really for: the customer behind the conversation. The API keys its
    per-IP and per-conversation limits for the bot's service token on these headers."""

    client_ip: str = ""
    conversation_id: str = ""

    def headers(self) -> dict[str, str]:
        out = {}
        if self.client_ip:
            out["X-Care-Client-IP"] = self.client_ip
        if self.conversation_id:
            out["X-Care-Conversation"] = self.conversation_id
        return out


class EscalationError(Exception):
    """A call to the escalation API did not succeed."""


class ServiceUnavailable(EscalationError):
    """Connection refused, timeout or 5xx: the same request may succeed later."""


class ApiError(EscalationError):
    """The API answered with an error (4xx); repeating the request will not help."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


@dataclasses.dataclass(frozen=True)
class KbSection:
    """The section of a hit's article that answers the question (plain text, steps
    numbered one a line); `complete` is False when `text` is only its start."""

    heading: str
    anchor: str
    text: str
    complete: bool
    url: str

    @classmethod
    def from_json(cls, data: Optional[Mapping[str, Any]]) -> Optional["KbSection"]:
        if not data:
            return None
        return cls(
            heading=str(data["heading"]),
            anchor=str(data["anchor"]),
            text=str(data["text"]),
            complete=bool(data["complete"]),
            url=str(data["url"]),
        )


@dataclasses.dataclass(frozen=True)
class KbHit:
    article_id: str
    title: str
    url: str
    snippet: str
    score: float
    section: Optional[KbSection] = None


@dataclasses.dataclass(frozen=True)
class KbSearchResult:
    answerable: bool
    hits: list[KbHit]


@dataclasses.dataclass(frozen=True)
class TicketReceipt:
    """What `POST /api/v1/tickets` returns (201 for a new ticket, 200 for a replay)."""

    number: str
    token: str
    status: str
    owner: str
    tracking_url: Optional[str]
    created: bool
    expected_wait: Optional[str] = None  # when to expect a first reply, in words (escalation.expected_wait)


@dataclasses.dataclass(frozen=True)
class TicketInfo:
    number: str
    status: str
    owner: str
    subject: Optional[str]
    created_at: Optional[str]
    assignee: Optional[str]
    # The Rasa sender id of the conversation that opened the ticket (None: not the bot).
    conversation_id: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Identity:
    """A customer signed in to the portal, as the service vouches for them (verified e-mail)."""

    customer_id: int
    email: str
    name: str


class EscalationClient:
    """The escalation API, as the assistant needs it: KB search, open and look up tickets."""

    def __init__(
        self, base_url: str, token: str, timeout: float, public_url: Optional[str] = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.public_url = (public_url or base_url).rstrip("/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "EscalationClient":
        def setting(name: str) -> str:
            return environ.get(name) or SETTINGS[name][0]

        return cls(
            base_url=setting("CARE_API_URL"),
            token=setting("CARE_SERVICE_TOKEN"),
            timeout=float(setting("CARE_API_TIMEOUT")),
            public_url=environ.get(PUBLIC_URL_SETTING) or None,
        )

    def tracking_url(self, number: str) -> str:
        """The customer's tracking page for a ticket (number + e-mail); no API call."""
        return f"{self.public_url}/track?{urlencode({'number': number})}"

    async def search_kb(
        self, query: str, k: int = 4, caller: Optional[Caller] = None, context: Optional[str] = None,
        audience: str = "public",
    ) -> KbSearchResult:
        """`GET /api/v1/kb/search`: the articles `audience` may read that best answer `query`
        ("public" on the website; "employee" adds the employee articles, for Slack);
        `context`: the previous question, when `query` follows up on it.

        A question longer than the API takes is cut to its first `MAX_QUERY_CHARS` (at a word
        boundary): the start of a long message usually says what it is about.
        """
        params = {"q": shorten(query, MAX_QUERY_CHARS), "k": str(k)}
        if context:
            params["context"] = shorten(context, MAX_QUERY_CHARS)
        if audience != "public":
            params["audience"] = audience
        status, body = await self._request(
            "GET", "/api/v1/kb/search", params=params, headers=caller.headers() if caller else None,
        )
        self._expect(status, body, ok=(200,))
        hits = [
            KbHit(
                article_id=hit["article_id"],
                title=hit["title"],
                url=hit["url"],
                snippet=hit["snippet"],
                score=float(hit["score"]),
                section=KbSection.from_json(hit.get("section")),
            )
            for hit in body["hits"]
        ]
        return KbSearchResult(answerable=bool(body["answerable"]), hits=hits)

    async def open_ticket(
        self, payload: Mapping[str, Any], idempotency_key: str, caller: Optional[Caller] = None
    ) -> TicketReceipt:
        """`POST /api/v1/tickets`. Safe to repeat with the same key and the same payload."""
        status, body = await self._request(
            "POST",
            "/api/v1/tickets",
            json_body=payload,
            headers={"Idempotency-Key": idempotency_key, **(caller.headers() if caller else {})},
        )
        self._expect(status, body, ok=(200, 201))
        return TicketReceipt(
            number=body["number"],
            token=body["token"],
            status=body["status"],
            owner=body["owner"],
            tracking_url=body.get("tracking_url"),
            created=status == 201,
            expected_wait=(body.get("expected_wait") or {}).get("text"),
        )

    async def record_outcome(
        self, conversation_id: str, outcome: str, question: str = "", article_id: Optional[str] = None
    ) -> None:
        """`POST /api/v1/bot/outcomes`: how a conversation ended (self-service metrics)."""
        status, body = await self._request(
            "POST",
            "/api/v1/bot/outcomes",
            json_body={"conversation_id": conversation_id, "outcome": outcome,
                       "question": question[:2000], "article_id": article_id},
        )
        self._expect(status, body, ok=(201,))

    async def get_ticket(self, number: str) -> Optional[TicketInfo]:
        """`GET /api/v1/tickets/<number>`; None when no such ticket exists."""
        status, body = await self._request(
            "GET", f"/api/v1/tickets/{quote(number, safe='')}"
        )
        if status == 404:
            return None
        self._expect(status, body, ok=(200,))
        return TicketInfo(
            number=body["number"],
            status=body["status"],
            owner=body["owner"],
            subject=body.get("subject"),
            created_at=body.get("created_at"),
            assignee=body.get("assignee"),
            conversation_id=body.get("conversation_id"),
        )

    async def verify_identity(self, token: str) -> Optional[Identity]:
        """`POST /api/v1/identity/verify`: who a widget's signed identity stands for; None when
        the service refuses it (forged, expired, signed out)."""
        status, body = await self._request("POST", "/api/v1/identity/verify", json_body={"token": token[:1000]})
        if status in (400, 422):
            return None
        self._expect(status, body, ok=(200,))
        return Identity(customer_id=int(body["customer_id"]), email=str(body["email"]), name=str(body["name"]))

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Optional[Mapping[str, str]] = None,
        json_body: Optional[Mapping[str, Any]] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> tuple[int, Any]:
        """Sends one request; returns (status, decoded JSON body or None)."""
        all_headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        all_headers.update(headers or {})
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with session().request(
                method,
                self.base_url + path,
                params=params,
                json=json_body,
                headers=all_headers,
                timeout=timeout,
            ) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            logger.warning("escalation API %s %s failed: %r", method, path, exc)
            raise ServiceUnavailable(f"{method} {path}: {exc!r}") from exc
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = None
        return status, body

    @staticmethod
    def _expect(status: int, body: Any, ok: tuple[int, ...]) -> None:
        if status in ok and isinstance(body, dict):
            return
        if status >= 500:
            raise ServiceUnavailable(f"escalation API answered {status}")
        error = body.get("error", {}) if isinstance(body, dict) else {}
        if status in ok:
            raise ApiError(status, "invalid_response", "the response was not a JSON object")
        raise ApiError(
            status,
            error.get("code", "http_error"),
            error.get("message", f"HTTP {status}"),
            error.get("details"),
        )


def shorten(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its start, cut at the last space."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip()


_client: Optional[EscalationClient] = None
# One pooled HTTP session per event loop (a session cannot cross loops): the action server
# has one loop, so its calls reuse kept-alive connections to the API instead of a new TCP
# connection and session per call (bench/bench_chat_open.py, docs/benchmarks.md).
_sessions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession]" = (
    weakref.WeakKeyDictionary()
)


def session() -> aiohttp.ClientSession:
    """This event loop's session, made on first use (never at import time)."""
    loop = asyncio.get_running_loop()
    current = _sessions.get(loop)
    if current is None or current.closed:
        current = _sessions[loop] = aiohttp.ClientSession()
    return current


async def close_session() -> None:
    """Closes this event loop's session (the action server at shutdown; tests after a run)."""
    current = _sessions.pop(asyncio.get_running_loop(), None)
    if current is not None:
        await current.close()


def get_client() -> EscalationClient:
    """The process-wide client, built from the environment the first time it is needed."""
    global _client
    if _client is None:
        _client = EscalationClient.from_env()
    return _client
