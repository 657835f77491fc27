"""Who writes from Slack, and from which thread: the ``slack`` metadata of the user's message.

Rasa's Slack channel (``chatbot/slack_channel.py``) adds ``{"team", "channel", "thread_ts",
"user", "name", "email"}`` to every message it passes on; the name and e-mail come from the
person's Slack profile (``users.info``), so the ticket form does not ask for them.
"""

from __future__ import annotations

from typing import Any, Optional

from rasa_sdk import Tracker

SLACK = "slack"


def slack_context(tracker: Tracker) -> Optional[dict[str, Any]]:
    """The Slack metadata of the latest user message, or None outside Slack."""
    if tracker.get_latest_input_channel() != SLACK:
        return None
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            slack = (event.get("metadata") or {}).get(SLACK)
            return slack if isinstance(slack, dict) and slack.get("channel") else None
    return None


def kb_audience(tracker: Tracker) -> str:
    """Employees in Slack get the employee articles too; the website's visitors public ones only."""
    return "employee" if tracker.get_latest_input_channel() == SLACK else "public"


def thread_of(slack: dict[str, Any]) -> dict[str, str]:
    """Where the ticket lives: the body's ``slack`` field of ``POST /api/v1/tickets``."""
    return {"team": str(slack.get("team") or ""), "channel": str(slack["channel"]),
            "thread_ts": str(slack["thread_ts"]), "user": str(slack["user"])}
