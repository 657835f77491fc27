"""Rasa's Slack channel, made safe to run and to test: ``slack_channel.CareSlackInput``.

Rasa 3.6's ``SlackInput`` with what the employee journey needs (credentials.yml enables it):

- **The Web API base URL is a setting** (``CARE_SLACK_API_URL``), so the whole path runs
  against a local fake Slack in the tests. Token and signing secret come from
  ``CARE_SLACK_BOT_TOKEN`` and ``CARE_SLACK_SIGNING_SECRET`` (the escalation service reads
  the same variables). Without a signing secret the channel refuses every request, so a
  stack without Slack still starts.
- **Signatures verified** on every request (Slack's ``v0`` HMAC, at most five minutes old);
  refused with 401.
- **Retried events are processed once.** Slack re-sends an event it thinks failed, with
  ``X-Slack-Retry-Num`` and the same ``event_id``; an ``event_id`` already seen by this
  process is acknowledged and dropped (Rasa's own check drops only ``http_timeout`` retries).
- **429 ``Retry-After`` respected**: the bot's Web API client retries a rate-limited call
  after the delay Slack asks for.
- **Who is writing**: ``users.info`` gives the person's name and e-mail (cached), sent with
  the message as metadata ``slack``: the ticket form then asks for neither, and the ticket
  keeps the workspace, channel and thread.
- **The ticket owns its thread** (ARCHITECTURE.md): a message in a thread is first offered
  to the escalation service (``POST /api/v1/slack/thread-messages``); when a person holds the
  ticket of that thread the message joins the ticket and the bot stays silent.
- Replies go into the thread of the person's message (``use_threads``), one conversation per
  thread (``conversation_granularity: thread``). Buttons become a line of text (the Slack
  app's interactivity URL belongs to the escalation service's desk buttons).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import time
from collections import OrderedDict
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Text

import aiohttp
from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.slack import SlackBot, SlackInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

logger = logging.getLogger(__name__)

# Settings as data: name -> (default, help); the README's configuration table has each one.
SETTINGS: Dict[str, tuple] = {
    "CARE_SLACK_BOT_TOKEN": ("", "Bot token (xoxb-…) of the Slack app."),
    "CARE_SLACK_SIGNING_SECRET": ("", "Signing secret of the Slack app; empty: every request is refused."),
    "CARE_SLACK_API_URL": ("https://slack.com/api/", "Base URL of the Slack Web API."),
    "CARE_API_URL": ("http://127.0.0.1:5000", "Base URL of the escalation service."),
    "CARE_SERVICE_TOKEN": ("dev-service-token", "Bearer token for the escalation API."),
    "CARE_PUBLIC_URL": ("", "Base URL people reach the escalation service at (article links)."),
}
SEEN_EVENTS = 10_000  # event ids remembered for retry detection
PROFILE_TTL = 3600.0  # seconds a users.info answer is reused
RATE_LIMIT_RETRIES = 3
FORWARD_TIMEOUT = 5.0


def setting(name: str, environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(name) or SETTINGS[name][0]


class CareSlackBot(SlackBot):
    """Posts the bot's messages through a client with a configurable base URL and 429 retries."""

    def __init__(self, token: Text, slack_channel: Optional[Text], thread_id: Optional[Text],
                 proxy: Optional[Text], api_url: Text, public_url: Text = "") -> None:
        super().__init__(token, slack_channel, thread_id, proxy)
        self.client = web_client(token, api_url, proxy)
        self.public_url = public_url.rstrip("/")

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await super().send_text_message(recipient_id, self._absolute_links(text), **kwargs)

    async def send_text_with_buttons(self, recipient_id: Text, text: Text,
                                     buttons: List[Dict[Text, Any]], **kwargs: Any) -> None:
        """The choices as words to type: Slack sends button clicks to the desk's URL, not Rasa's."""
        titles = " / ".join(str(button.get("title", "")) for button in buttons if button.get("title"))
        await self.send_text_message(recipient_id, f"{text}\n_(reply {titles})_" if titles else text)

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        data = json_message.get("data")
        if not isinstance(data, dict):
            await super().send_custom_json(recipient_id, json_message, **kwargs)
            return
        articles = data.get("articles") or []
        if articles:
            lines = [f"• <{self._absolute(str(a.get('url', '')))}|{a.get('title', '')}>" for a in articles]
            await self.send_text_message(recipient_id, "Related articles:\n" + "\n".join(lines))
        # {"handoff": …} is for the website widget; in Slack the thread itself is the ticket's

    def _absolute(self, url: str) -> str:
        return f"{self.public_url}{url}" if url.startswith("/") and self.public_url else url

    def _absolute_links(self, text: str) -> str:
        if not self.public_url:
            return text
        return text.replace("Full article: /", f"Full article: {self.public_url}/")


def web_client(token: Text, api_url: Text, proxy: Optional[Text] = None) -> AsyncWebClient:
    return AsyncWebClient(token, base_url=api_url.rstrip("/") + "/", proxy=proxy,
                          retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)])


class CareSlackInput(SlackInput):
    @classmethod
    def name(cls) -> Text:
        return "slack"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "CareSlackInput":
        credentials = credentials or {}
        return cls(
            slack_token=credentials.get("slack_token") or setting("CARE_SLACK_BOT_TOKEN"),
            slack_channel=credentials.get("slack_channel"),
            proxy=credentials.get("proxy"),
            slack_retry_reason_header=credentials.get("slack_retry_reason_header", "x-slack-retry-reason"),
            slack_retry_number_header=credentials.get("slack_retry_number_header", "x-slack-retry-num"),
            errors_ignore_retry=credentials.get("errors_ignore_retry"),
            use_threads=credentials.get("use_threads", True),
            slack_signing_secret=credentials.get("slack_signing_secret") or setting("CARE_SLACK_SIGNING_SECRET"),
            conversation_granularity=credentials.get("conversation_granularity", "thread"),
            api_url=credentials.get("api_url") or setting("CARE_SLACK_API_URL"),
        )

    def __init__(self, *args: Any, api_url: Text = SETTINGS["CARE_SLACK_API_URL"][0], **kwargs: Any) -> None:
        self.api_url = api_url
        self._seen_events: "OrderedDict[str, float]" = OrderedDict()
        self._profiles: Dict[str, tuple] = {}
        super().__init__(*args, **kwargs)
        # Rasa drops every retry whose reason is "http_timeout", even one whose first delivery
        # never arrived; here a retry is dropped when its event id was seen, whatever the reason.
        self.errors_ignore_retry = tuple(kwargs.get("errors_ignore_retry") or ())

    def _validate_credentials(self) -> None:
        if not self.slack_signing_secret:
            logger.info("Slack: no CARE_SLACK_SIGNING_SECRET, so /webhooks/slack/webhook refuses every request")

    def is_request_from_slack_authentic(self, request: Request) -> bool:
        return bool(self.slack_signing_secret) and super().is_request_from_slack_authentic(request)

    def get_output_channel(self, channel: Optional[Text] = None, thread_id: Optional[Text] = None) -> OutputChannel:
        return CareSlackBot(self.slack_token, channel or self.slack_channel, thread_id, self.proxy, self.api_url,
                            setting("CARE_PUBLIC_URL") or setting("CARE_API_URL"))

    # ---- retries -------------------------------------------------------------------------

    def first_delivery(self, event_id: str) -> bool:
        """True the first time this process sees ``event_id`` (no await: atomic in the loop)."""
        if not event_id:
            return True
        if event_id in self._seen_events:
            return False
        self._seen_events[event_id] = time.monotonic()
        while len(self._seen_events) > SEEN_EVENTS:
            self._seen_events.popitem(last=False)
        return True

    # ---- who is writing ------------------------------------------------------------------

    async def profile(self, user_id: str) -> Dict[str, str]:
        """The Slack user's name and e-mail from ``users.info`` ({} when Slack does not say)."""
        cached = self._profiles.get(user_id)
        if cached and time.monotonic() - cached[0] < PROFILE_TTL:
            return cached[1]
        try:
            answer = await web_client(self.slack_token, self.api_url, self.proxy).users_info(user=user_id)
        except (SlackApiError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            logger.warning("Slack users.info %s failed: %s", user_id, exc)
            return {}
        user = answer.get("user") or {}
        prof = user.get("profile") or {}
        found = {"name": str(prof.get("real_name") or user.get("real_name") or user.get("name") or ""),
                 "email": str(prof.get("email") or "")}
        self._profiles[user_id] = (time.monotonic(), found)
        return found

    # ---- the ticket owns its thread ------------------------------------------------------

    async def forward_to_ticket(self, slack: Dict[str, str], text: str) -> bool:
        """True when the escalation service took the message for the thread's ticket."""
        body = {"team": slack.get("team", ""), "channel": slack["channel"], "thread_ts": slack["thread_ts"],
                "user": slack["user"], "text": text}
        url = setting("CARE_API_URL").rstrip("/") + "/api/v1/slack/thread-messages"
        headers = {"Authorization": f"Bearer {setting('CARE_SERVICE_TOKEN')}"}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT)) as session:
                async with session.post(url, json=body, headers=headers) as answer:
                    status = answer.status
                    await answer.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            logger.warning("could not offer a thread message to the escalation service: %r", exc)
            return False
        if status == HTTPStatus.CREATED:
            return True
        if status != HTTPStatus.NOT_FOUND:
            logger.warning("the escalation service answered %s to a thread message", status)
        return False

    # ---- the webhook ---------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        slack_webhook = Blueprint("slack_webhook", __name__)

        @slack_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @slack_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.is_request_from_slack_authentic(request):
                return response.json({"error": {"code": "bad_slack_signature",
                                                "message": "The request is not signed with this app's "
                                                           "Slack signing secret.", "details": {}}},
                                     status=HTTPStatus.UNAUTHORIZED)
            if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
                # Buttons go to the escalation service's interactivity URL, not here.
                return response.text("ignored")
            return await self.handle_event(request, request.json or {}, on_new_message)

        return slack_webhook

    async def handle_event(self, request: Request, output: Dict[str, Any],
                           on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        if output.get("type") == "url_verification":
            return response.json({"challenge": output.get("challenge")})
        if not self.first_delivery(str(output.get("event_id") or "")):
            logger.info("Slack retry #%s of %s: already processed", request.headers.get(self.retry_num_header),
                        output.get("event_id"))
            return response.text("", headers={"X-Slack-No-Retry": "1"})
        if not self._is_user_message(output):
            return response.text("Bot message delivered.")
        event = output["event"]
        metadata = self.get_metadata(request)
        user = str(event.get("user", ""))
        thread_ts = str(event.get("thread_ts") or event.get("ts") or "")
        slack = {"team": str(output.get("team_id") or event.get("team") or ""),
                 "channel": str(event.get("channel", "")), "thread_ts": thread_ts, "user": user,
                 "event_id": str(output.get("event_id") or "")}
        text = self._sanitize_user_message(str(event.get("text", "")), metadata["users"])
        if event.get("thread_ts") and event.get("thread_ts") != event.get("ts"):
            if await self.forward_to_ticket(slack, text):
                return response.text("")
        if not self._is_supported_channel(output, metadata):
            return response.text("channel not supported.")
        slack.update(await self.profile(user))
        metadata["slack"] = slack
        return await self.process_message(request, on_new_message, text=text,
                                          sender_id=self._get_conversation_id(user, slack["channel"], thread_ts),
                                          metadata=metadata)


def signed_headers(secret: str, body: bytes, timestamp: Optional[int] = None) -> Dict[str, str]:
    """The headers Slack would send with ``body`` (for tests and local tools)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/json"}


