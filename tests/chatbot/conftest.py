"""Fixtures for the Rasa custom-action tests (run in .venv-rasa:
`.venv-rasa/bin/python -m pytest tests/chatbot`)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any, Optional

import pytest

CHATBOT_DIR = Path(__file__).resolve().parents[2] / "chatbot"
sys.path.insert(0, str(CHATBOT_DIR))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import warnings  # noqa: E402

with warnings.catch_warnings():
    # sanic-cors (under rasa_sdk.endpoint, care_action_server) compares versions with
    # distutils at import; one import here caches it for every test module. Sanic puts its
    # own "once" filter for DeprecationWarning first when imported, hence the order.
    import sanic  # noqa: E402,F401

    warnings.filterwarnings("ignore", "distutils Version classes are deprecated", DeprecationWarning)
    import sanic_cors  # noqa: E402,F401

from rasa_sdk import Tracker  # noqa: E402
from rasa_sdk.executor import CollectingDispatcher  # noqa: E402

from actions import escalation_client  # noqa: E402
from actions.escalation_client import KbHit, KbSection  # noqa: E402
from fakes import FakeEscalationClient  # noqa: E402

ARTICLES = [
    KbHit(
        "reactivate-inactive-account",
        "Reactivate an account that has been inactive",
        "/help/reactivate-inactive-account",
        "Choose Reactivate a dormant account on the sign-in page.",
        0.82,
        KbSection(
            "How to reactivate your account",
            "how-to-reactivate-your-account",
            "1. Choose Reactivate a dormant account on the sign-in page.\n"
            "2. Open the link we send you.",
            True,
            "/help/reactivate-inactive-account#how-to-reactivate-your-account",
        ),
    ),
    KbHit("reset-password", "Reset your password", "/help/reset-password",
          "Choose Forgot password on the sign-in page.", 0.61),
    KbHit("two-factor-authentication", "Two-factor authentication",
          "/help/two-factor-authentication", "Set up 2FA in Settings > Security.", 0.55),
    KbHit("locked-out-after-security-update", "Locked out after a security update",
          "/help/locked-out-after-security-update", "Reset your password first.", 0.43),
]


@pytest.fixture
def fake_client(monkeypatch: pytest.MonkeyPatch) -> FakeEscalationClient:
    """The actions' escalation client, replaced by the fake (with four KB articles)."""
    client = FakeEscalationClient()
    client.articles = list(ARTICLES)
    monkeypatch.setattr(escalation_client, "_client", client)
    return client


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


def user_event(
    text: str, intent: str, confidence: float = 0.95, timestamp: float = 1700000000.0,
    entities: Optional[list[dict[str, Any]]] = None,
) -> dict[str, Any]:
    return {
        "event": "user",
        "timestamp": timestamp,
        "text": text,
        "parse_data": {
            "text": text,
            "intent": {"name": intent, "confidence": confidence},
            "entities": entities or [],
        },
        "input_channel": "socketio",
    }


def bot_event(text: Optional[str], timestamp: float, **data: Any) -> dict[str, Any]:
    return {"event": "bot", "timestamp": timestamp, "text": text, "data": data}


def make_tracker(
    events: list[dict[str, Any]],
    slots: Optional[dict[str, Any]] = None,
    active_loop: Optional[dict[str, Any]] = None,
    sender_id: str = "conv-1",
) -> Tracker:
    """A Tracker as the action server builds it from Rasa's JSON request."""
    latest = next((e for e in reversed(events) if e["event"] == "user"), None)
    latest_message = dict(latest["parse_data"]) if latest else {}
    return Tracker.from_dict(
        {
            "sender_id": sender_id,
            "slots": slots or {},
            "latest_message": latest_message,
            "events": events,
            "paused": False,
            "followup_action": None,
            "active_loop": active_loop or {},
            "latest_action_name": "action_listen",
        }
    )


def messages(dispatcher: CollectingDispatcher) -> list[dict[str, Any]]:
    """Dispatched messages without the keys rasa-sdk fills with empty defaults."""
    return [
        {key: value for key, value in message.items() if value not in (None, [], {})}
        for message in dispatcher.messages
    ]


def run(coroutine: Any) -> Any:
    """Runs ``coroutine`` in a new event loop, closing that loop's pooled API session after it."""

    async def and_close() -> Any:
        try:
            return await coroutine
        finally:
            await escalation_client.close_session()

    return asyncio.run(and_close())
