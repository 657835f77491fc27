"""The ticket transcript, read from tracker events."""

from actions.transcript import build_transcript, find_handoff, handoff_trigger
from conftest import bot_event, user_event

BUTTONS = [{"title": "Yes, connect me", "payload": "/request_human"},
           {"title": "No, thanks", "payload": "/deny"}]


def test_transcript_keeps_texts_in_order_and_skips_everything_else():
    events = [
        {"event": "action", "timestamp": 1.0, "name": "action_session_start"},
        user_event("can I pay in bitcoin", "nlu_fallback", 0.41234567, 2.0),
        {"event": "slot", "timestamp": 2.5, "name": "kb_outcome", "value": "no_answer"},
        bot_event("I couldn't find an answer. Would you like a person?", 3.0, buttons=BUTTONS),
        bot_event(None, 3.1, custom={"data": {"articles": []}}),
        user_event("/request_human", "request_human", 1.0, 4.0),
        user_event("EXTERNAL: EXTERNAL_retry_ticket", "EXTERNAL_retry_ticket", 1.0, 5.0),
    ]

    assert build_transcript(events) == [
        {"sender": "user", "text": "can I pay in bitcoin", "timestamp": 2.0,
         "intent": "nlu_fallback", "confidence": 0.4123},
        {"sender": "bot", "text": "I couldn't find an answer. Would you like a person?",
         "timestamp": 3.0},
        {"sender": "user", "text": "Yes, connect me", "timestamp": 4.0,
         "intent": "request_human", "confidence": 1.0},
    ]


def test_a_typed_slash_command_without_a_button_stays_as_typed():
    events = [user_event("/restart", "restart", 1.0, 1.0)]

    assert build_transcript(events)[0]["text"] == "/restart"


def test_handoff_trigger_is_the_last_user_message_before_the_form():
    events = [
        user_event("agent please", "request_human", 0.97, 1.0),
        {"event": "active_loop", "timestamp": 1.1, "name": "ticket_form"},
        user_event("Laura Smith", "inform", 0.9, 2.0),
    ]

    assert handoff_trigger(events)["text"] == "agent please"
    assert handoff_trigger(events[2:])["text"] == "Laura Smith"
    assert handoff_trigger([]) is None


def test_find_handoff_returns_the_latest_payload():
    events = [
        bot_event(None, 1.0, custom={"data": {"handoff": {"ticket": "CR-1", "token": "a"}}}),
        bot_event(None, 2.0, custom={"data": {"handoff": {"ticket": "CR-2", "token": "b"}}}),
        bot_event("hello", 3.0),
    ]

    assert find_handoff(events) == {"ticket": "CR-2", "token": "b"}
    assert find_handoff(events[2:]) is None
