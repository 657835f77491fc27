"""The trained model, the real action server and the escalation service: a ticket is
created exactly once even when the first call times out after the API created it."""
from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import create_engine, text

from ..scaleout.rasa_nodes import tracker
from ..scaleout.rasa_nodes import say as rest_say
from .conftest import RunningStack

pytestmark = pytest.mark.e2e


def say(stack: RunningStack, sender: str, message: str) -> list[str]:
    return rest_say(stack.config.rasa_url, sender, message, stack.config.chat_secret)


def bot_texts(stack: RunningStack, sender: str) -> list[str]:
    events = tracker(stack.config.rasa_url, sender, stack.config.rasa_token)["events"]
    return [e.get("text") or "" for e in events if e["event"] == "bot"]


def tickets_for(stack: RunningStack, sender: str) -> list[str]:
    engine = create_engine(stack.config.database_url or "")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT number FROM tickets WHERE conversation_id = :c"), {"c": sender}).all()
    engine.dispose()
    return [r[0] for r in rows]


def test_timeout_after_creation_is_retried_with_the_same_key(live_stack: RunningStack) -> None:
    sender = f"exactly-once-{uuid.uuid4().hex[:8]}"
    say(live_stack, sender, "I want to talk to a person")
    say(live_stack, sender, "Austin Employee")
    earlier = len(live_stack.proxy.posts("/api/v1/tickets"))  # other tests share the stack
    live_stack.proxy.slow_next_post("/api/v1/tickets", 8.0)  # > CARE_API_TIMEOUT=3
    replies = say(live_stack, sender, "austin@example.com")
    # the bot does not claim a ticket exists: it says the service is slow and it will retry
    assert not any("ticket number is" in r.lower() for r in replies), replies
    assert replies, "the bot said nothing while the service was slow"

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        confirmations = [t for t in bot_texts(live_stack, sender) if "ticket number is" in t.lower()]
        if confirmations:
            break
        time.sleep(1)
    numbers = tickets_for(live_stack, sender)
    assert len(numbers) == 1, numbers
    assert len(confirmations) == 1 and numbers[0] in confirmations[0]
    posts = live_stack.proxy.posts("/api/v1/tickets")[earlier:]
    assert len(posts) >= 2, posts                      # the first call timed out and was retried
    assert len({key for _, _, key, _ in posts}) == 1   # … with the same Idempotency-Key
    assert [status for *_, status in posts][:2] == [201, 200]  # the retry got the stored answer
