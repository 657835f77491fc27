"""The conversation as the escalation service stores it, read from Rasa tracker events.

Events are the plain dicts of `Tracker.events` (`{"event": "user", "text": ...}`).
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

# Reminders and other external events reach the tracker as user messages with this prefix.
EXTERNAL_PREFIX = "EXTERNAL: "
FORM_NAME = "ticket_form"


def latest_client_ip(events: Sequence[dict[str, Any]]) -> str:
    """The customer's IP as the chat channel saw it (metadata `client_ip` of the latest user
    message that has one; care_channels.py puts it there); "" when unknown."""
    for event in reversed(events):
        if event.get("event") == "user":
            ip = (event.get("metadata") or {}).get("client_ip")
            if isinstance(ip, str) and ip:
                return ip
    return ""


def build_transcript(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """User and bot messages in order, with timestamps; user lines carry intent and confidence.

    A quick-reply payload such as "/affirm" is written as the title of the button the
    customer pressed ("Yes"), so an agent reads what the customer saw.
    """
    transcript: list[dict[str, Any]] = []
    last_buttons: list[dict[str, Any]] = []
    for event in events:
        kind = event.get("event")
        if kind == "user":
            text = event.get("text") or ""
            if not text or _is_external(event):
                continue
            intent = (event.get("parse_data") or {}).get("intent") or {}
            transcript.append(
                {
                    "sender": "user",
                    "text": _button_title(text, last_buttons),
                    "timestamp": event.get("timestamp"),
                    "intent": intent.get("name"),
                    "confidence": round_confidence(intent.get("confidence")),
                }
            )
        elif kind == "bot":
            data = event.get("data") or {}
            if data.get("buttons"):
                last_buttons = data["buttons"]
            text = event.get("text")
            if text:
                transcript.append(
                    {"sender": "bot", "text": text, "timestamp": event.get("timestamp")}
                )
    return transcript


def handoff_trigger(events: Sequence[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """The user message that led to the handoff: the last one before the ticket form began.

    Falls back to the latest user message when the form never ran.
    """
    form_start = None
    for index, event in enumerate(events):
        if event.get("event") == "active_loop" and event.get("name") == FORM_NAME:
            form_start = index
    candidates = events[:form_start] if form_start is not None else events
    for event in reversed(candidates):
        if event.get("event") == "user" and not _is_external(event):
            return event
    return None


def find_handoff(events: Iterable[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """The latest `{"ticket", "token"}` handoff payload the bot sent, if any."""
    handoff = None
    for event in events:
        if event.get("event") != "bot":
            continue
        custom = (event.get("data") or {}).get("custom") or {}
        found = (custom.get("data") or {}).get("handoff")
        if found:
            handoff = found
    return handoff


def _is_external(event: dict[str, Any]) -> bool:
    text = event.get("text") or ""
    metadata = event.get("metadata") or {}
    return text.startswith(EXTERNAL_PREFIX) or bool(metadata.get("is_external"))


def _button_title(text: str, buttons: list[dict[str, Any]]) -> str:
    if text.startswith("/"):
        for button in buttons:
            if button.get("payload") == text:
                return button.get("title") or text
    return text


def round_confidence(value: Any) -> Optional[float]:
    return round(float(value), 4) if value is not None else None
