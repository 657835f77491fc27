"""The bot names every status the service has, and no other (its wording lives in the Rasa
environment, which cannot import the service: read as data from the action's source)."""
from __future__ import annotations

import ast
from pathlib import Path

from escalation.models import STATUSES

ACTIONS = Path(__file__).resolve().parents[2] / "chatbot" / "actions" / "tickets.py"


def bot_status_text() -> dict[str, str]:
    for node in ast.parse(ACTIONS.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "STATUS_TEXT" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("chatbot/actions/tickets.py has no STATUS_TEXT")


def test_the_bot_has_words_for_exactly_the_service_statuses():
    assert sorted(bot_status_text()) == sorted(STATUSES)
