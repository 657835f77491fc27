"""The ticket form's validation, action_open_ticket (with retries) and ticket status."""

from datetime import datetime

import pytest
from rasa_sdk.events import ReminderCancelled, ReminderScheduled, SlotSet

from actions import escalation_client, tickets
from actions.escalation_client import ApiError, Caller
from actions.tickets import ActionCheckTicketStatus, ActionOpenTicket, ValidateTicketForm
from conftest import bot_event, make_tracker, messages, run, user_event

NOW = datetime(2024, 5, 1, 12, 0, 0)

# A conversation: a question, an answer that did not help, then the ticket form.
CONVERSATION = [
    user_event("I'm locked out after the security update", "ask_question", 0.93, 1700000000.0),
    bot_event("Here's what our help centre says in “Locked out”: Reset your password.",
              1700000001.0),
    bot_event("Did that solve it?", 1700000001.1,
              buttons=[{"title": "Yes", "payload": "/affirm"},
                       {"title": "No", "payload": "/deny"}]),
    user_event("/deny", "deny", 1.0, 1700000010.0),
    bot_event("Sorry that didn't solve it. Let me get a person from our support team to "
              "help you.", 1700000010.5),
    {"event": "active_loop", "timestamp": 1700000010.6, "name": "ticket_form"},
    bot_event("What name should I put on the ticket?", 1700000010.7),
    user_event("Austin Reed", "inform", 0.88, 1700000020.0,
               entities=[{"entity": "name", "value": "Austin Reed"}]),
    bot_event("Thanks, Austin Reed. What's your e-mail address, so we can keep you updated?",
              1700000020.5),
    user_event("austin.reed@example.com", "inform", 0.91, 1700000030.0,
               entities=[{"entity": "email", "value": "austin.reed@example.com"}]),
    {"event": "active_loop", "timestamp": 1700000030.5, "name": None},
]
SLOTS = {
    "customer_name": "Austin Reed",
    "customer_email": "austin.reed@example.com",
    "suggested_articles": ["locked-out-after-security-update", "reset-password"],
}
EXPECTED_PAYLOAD = {
    "name": "Austin Reed",
    "email": "austin.reed@example.com",
    "channel": "web_chat",
    "conversation_id": "conv-1",
    "transcript": [
        {"sender": "user", "text": "I'm locked out after the security update",
         "timestamp": 1700000000.0, "intent": "ask_question", "confidence": 0.93},
        {"sender": "bot", "text": "Here's what our help centre says in “Locked out”: "
         "Reset your password.", "timestamp": 1700000001.0},
        {"sender": "bot", "text": "Did that solve it?", "timestamp": 1700000001.1},
        {"sender": "user", "text": "No", "timestamp": 1700000010.0, "intent": "deny",
         "confidence": 1.0},
        {"sender": "bot", "text": "Sorry that didn't solve it. Let me get a person from our "
         "support team to help you.", "timestamp": 1700000010.5},
        {"sender": "bot", "text": "What name should I put on the ticket?",
         "timestamp": 1700000010.7},
        {"sender": "user", "text": "Austin Reed", "timestamp": 1700000020.0,
         "intent": "inform", "confidence": 0.88},
        {"sender": "bot", "text": "Thanks, Austin Reed. What's your e-mail address, so we "
         "can keep you updated?", "timestamp": 1700000020.5},
        {"sender": "user", "text": "austin.reed@example.com", "timestamp": 1700000030.0,
         "intent": "inform", "confidence": 0.91},
    ],
    "suggested_articles": ["locked-out-after-security-update", "reset-password"],
    "nlu": {"last_intent": "deny", "confidence": 1.0},
}
OPENED = [
    {"response": "utter_ticket_opened", "template": "utter_ticket_opened",
     "ticket": "CR-10001", "email": "austin.reed@example.com"},
    {"custom": {"data": {"handoff": {"ticket": "CR-10001", "token": "token-CR-10001"}}}},
]


@pytest.fixture(autouse=True)
def fixed_time_and_key(monkeypatch):
    monkeypatch.setattr(tickets, "_now", lambda: NOW)
    monkeypatch.setattr(tickets, "new_idempotency_key", lambda: "key-1")


def retry_event(trigger_at: datetime) -> ReminderScheduled:
    return ReminderScheduled("EXTERNAL_retry_ticket", trigger_date_time=trigger_at,
                             name="retry_ticket", kill_on_user_message=False)


def reminder_tracker(pending):
    events = CONVERSATION + [
        user_event("EXTERNAL: EXTERNAL_retry_ticket", "EXTERNAL_retry_ticket", 1.0, 1700000040.0)
    ]
    return make_tracker(events, slots={**SLOTS, "pending_ticket": pending})


# --- opening a ticket -----------------------------------------------------------------


def test_opens_a_ticket_with_transcript_suggestions_and_nlu(fake_client, dispatcher):
    events = run(ActionOpenTicket().run(dispatcher, make_tracker(CONVERSATION, SLOTS), {}))

    assert fake_client.calls == [
        ("open_ticket", {"payload": EXPECTED_PAYLOAD, "key": "key-1"})
    ]
    assert messages(dispatcher) == OPENED
    assert events == [SlotSet("ticket_number", "CR-10001"), SlotSet("pending_ticket", None)]


def test_the_ticket_request_names_the_customer_s_ip_and_conversation(fake_client, dispatcher):
    """Also on a retry from a reminder, whose own "message" has no IP: the latest one that has."""
    said = [{**e, "metadata": {"client_ip": "198.51.100.4"}} if e["event"] == "user" else e
            for e in CONVERSATION]
    fake_client.down = True
    events = run(ActionOpenTicket().run(dispatcher, make_tracker(said, SLOTS, sender_id="c0ffee"), {}))
    fake_client.down = False
    reminder = said + [user_event("EXTERNAL: EXTERNAL_retry_ticket", "EXTERNAL_retry_ticket", 1.0, 1700000040.0)]
    run(ActionOpenTicket().run(dispatcher, make_tracker(reminder, {**SLOTS, "pending_ticket": events[0]["value"]},
                                                        sender_id="c0ffee"), {}))

    assert fake_client.callers == [Caller(client_ip="198.51.100.4", conversation_id="c0ffee")] * 2


def test_service_down_keeps_the_request_and_schedules_a_retry(fake_client, dispatcher):
    fake_client.down = True

    events = run(ActionOpenTicket().run(dispatcher, make_tracker(CONVERSATION, SLOTS), {}))

    assert messages(dispatcher) == [
        {"response": "utter_ticket_service_down", "template": "utter_ticket_service_down"}
    ]
    assert events == [
        SlotSet("pending_ticket",
                {"idempotency_key": "key-1", "payload": EXPECTED_PAYLOAD, "attempts": 1}),
        retry_event(datetime(2024, 5, 1, 12, 0, 5)),
    ]


def test_a_retry_sends_the_same_key_and_body_and_opens_the_ticket(fake_client, dispatcher):
    pending = {"idempotency_key": "key-0", "payload": EXPECTED_PAYLOAD, "attempts": 1}

    events = run(ActionOpenTicket().run(dispatcher, reminder_tracker(pending), {}))

    assert fake_client.calls == [
        ("open_ticket", {"payload": EXPECTED_PAYLOAD, "key": "key-0"})
    ]
    assert messages(dispatcher) == OPENED
    assert events == [
        SlotSet("ticket_number", "CR-10001"),
        SlotSet("pending_ticket", None),
        ReminderCancelled(name="retry_ticket"),
    ]


def test_a_retry_after_a_lost_response_gets_the_same_ticket(fake_client, dispatcher):
    # The first request created the ticket but its answer never arrived (timeout).
    run(fake_client.open_ticket(EXPECTED_PAYLOAD, "key-0"))
    pending = {"idempotency_key": "key-0", "payload": EXPECTED_PAYLOAD, "attempts": 1}

    events = run(ActionOpenTicket().run(dispatcher, reminder_tracker(pending), {}))

    assert len(fake_client.tickets) == 1
    assert messages(dispatcher) == OPENED
    assert events[0] == SlotSet("ticket_number", "CR-10001")


def test_failed_retries_are_silent_until_they_are_used_up(fake_client, dispatcher):
    fake_client.down = True
    pending = {"idempotency_key": "key-0", "payload": EXPECTED_PAYLOAD, "attempts": 2}

    events = run(ActionOpenTicket().run(dispatcher, reminder_tracker(pending), {}))

    assert messages(dispatcher) == []
    assert events == [
        SlotSet("pending_ticket", {**pending, "attempts": 3}),
        retry_event(datetime(2024, 5, 1, 12, 0, 45)),
    ]


def test_after_the_last_retry_the_customer_is_told_and_the_request_kept(
    fake_client, dispatcher
):
    fake_client.down = True
    pending = {"idempotency_key": "key-0", "payload": EXPECTED_PAYLOAD, "attempts": 3}

    events = run(ActionOpenTicket().run(dispatcher, reminder_tracker(pending), {}))

    assert messages(dispatcher) == [
        {"response": "utter_ticket_service_still_down",
         "template": "utter_ticket_service_still_down"}
    ]
    assert events == [SlotSet("pending_ticket", {**pending, "attempts": 0})]


def test_a_reminder_without_a_pending_request_does_nothing(fake_client, dispatcher):
    events = run(ActionOpenTicket().run(dispatcher, reminder_tracker(None), {}))

    assert (events, messages(dispatcher), fake_client.calls) == ([], [], [])


def test_a_refused_request_is_dropped_and_the_customer_told(fake_client, dispatcher):
    fake_client.reject_with = ApiError(422, "validation_error", "email is invalid")

    events = run(ActionOpenTicket().run(dispatcher, make_tracker(CONVERSATION, SLOTS), {}))

    assert messages(dispatcher) == [
        {"response": "utter_ticket_rejected", "template": "utter_ticket_rejected"}
    ]
    assert events == [SlotSet("pending_ticket", None)]


def test_no_second_ticket_while_an_agent_has_the_first(fake_client, dispatcher):
    receipt = run(fake_client.open_ticket({"name": "Austin"}, "key-0"))
    fake_client.calls.clear()
    tracker = make_tracker(CONVERSATION, {**SLOTS, "ticket_number": receipt.number})

    events = run(ActionOpenTicket().run(dispatcher, tracker, {}))

    assert fake_client.calls == [("get_ticket", "CR-10001")]
    assert messages(dispatcher) == [
        {"response": "utter_ticket_already_open", "template": "utter_ticket_already_open",
         "ticket": "CR-10001"}
    ]
    assert events == []


# --- the form ---------------------------------------------------------------------------

ASKED_FOR_NAME = {"requested_slot": "customer_name"}


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Laura Smith", "Laura Smith"),
        ("my name is Laura Smith.", "Laura Smith"),
        ("I'm Tim", "Tim"),
        ("Olivia Brown here", "Olivia Brown"),
        ("Terrence O'Brien", "Terrence O'Brien"),
        ("", None),
        ("laura@example.com", None),
        ("how long does delivery take?", None),
        ("I have been waiting for my parcel for a very long time now", None),
        ("order 55120", None),
    ],
)
def test_name_validation(typed, expected, dispatcher):
    tracker = make_tracker([user_event(typed, "inform")], slots=ASKED_FOR_NAME,
                           active_loop={"name": "ticket_form"})

    result = ValidateTicketForm().validate_customer_name(typed, dispatcher, tracker, {})

    assert result == {"customer_name": expected}
    expected_messages = [] if expected else [
        {"response": "utter_invalid_name", "template": "utter_invalid_name"}
    ]
    assert messages(dispatcher) == expected_messages


@pytest.mark.parametrize(
    ("typed", "entity", "expected"),
    [
        ("Sam Jones", "Jones", "Sam Jones"),  # DIET found part of the name
        ("Hi, my name is Laura Smith and I need help with my order", "Laura Smith",
         "Laura Smith"),
    ],
)
def test_name_validation_combines_the_message_and_the_entity(typed, entity, expected,
                                                             dispatcher):
    tracker = make_tracker([user_event(typed, "inform",
                                       entities=[{"entity": "name", "value": entity}])],
                           slots=ASKED_FOR_NAME)

    result = ValidateTicketForm().validate_customer_name(entity, dispatcher, tracker, {})

    assert result == {"customer_name": expected}
    assert messages(dispatcher) == []


def test_asking_for_a_person_again_is_not_taken_as_a_name(dispatcher):
    tracker = make_tracker([user_event("agent please", "request_human")], slots=ASKED_FOR_NAME)

    result = ValidateTicketForm().validate_customer_name("agent please", dispatcher, tracker, {})

    assert result == {"customer_name": None}
    assert messages(dispatcher) == [
        {"response": "utter_name_needed_first", "template": "utter_name_needed_first"}
    ]


def test_a_name_known_before_the_form_started_is_kept(dispatcher):
    # "agent please" again, after an earlier ticket: the form starts with the name filled.
    tracker = make_tracker([user_event("agent please", "request_human")],
                           slots={"customer_name": "Laura Smith", "requested_slot": None})

    result = ValidateTicketForm().validate_customer_name("Laura Smith", dispatcher, tracker, {})

    assert result == {"customer_name": "Laura Smith"}
    assert messages(dispatcher) == []


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("laura@example.com", "laura@example.com"),
        ("my email is sam+support@example.org.", "sam+support@example.org"),
        ("t.baker@example.co.uk", "t.baker@example.co.uk"),
        ("laura at example dot com", None),
        ("laura@example", None),
        ("", None),
    ],
)
def test_email_validation(typed, expected, dispatcher):
    tracker = make_tracker([user_event(typed, "inform")])

    result = ValidateTicketForm().validate_customer_email(typed, dispatcher, tracker, {})

    assert result == {"customer_email": expected}
    expected_messages = [] if expected else [
        {"response": "utter_invalid_email", "template": "utter_invalid_email"}
    ]
    assert messages(dispatcher) == expected_messages


# --- ticket status ------------------------------------------------------------------------


def status_tracker(text, entities=None, slots=None, sender_id="conv-1"):
    return make_tracker([user_event(text, "check_ticket_status", entities=entities)], slots,
                        sender_id=sender_id)


def elsewhere(number):
    return [
        {"response": "utter_ticket_status_elsewhere", "template": "utter_ticket_status_elsewhere",
         "ticket": number, "track_url": f"http://care.test/track?number={number}"}
    ]


def test_status_of_a_ticket_opened_in_this_conversation(fake_client, dispatcher):
    # The slot is gone (e.g. a new session without it), but the service says this
    # conversation opened the ticket.
    run(fake_client.open_ticket({"name": "Laura", "conversation_id": "conv-1"}, "key-0"))
    tracker = status_tracker("status of cr-10001?",
                             [{"entity": "ticket_number", "value": "cr-10001"}])

    events = run(ActionCheckTicketStatus().run(dispatcher, tracker, {}))

    assert fake_client.calls[-1] == ("get_ticket", "CR-10001")
    assert messages(dispatcher) == [
        {"response": "utter_ticket_status", "template": "utter_ticket_status",
         "ticket": "CR-10001", "status_text": "open and waiting for an agent"}
    ]
    assert events == []


def test_status_defaults_to_this_conversations_ticket(fake_client, dispatcher):
    run(fake_client.open_ticket({"name": "Laura", "conversation_id": "conv-1"}, "key-0"))
    tracker = status_tracker("any update on my ticket?", slots={"ticket_number": "CR-10001"})

    events = run(ActionCheckTicketStatus().run(dispatcher, tracker, {}))

    assert fake_client.calls[-1] == ("get_ticket", "CR-10001")
    assert messages(dispatcher) == [
        {"response": "utter_ticket_status", "template": "utter_ticket_status",
         "ticket": "CR-10001", "status_text": "open and waiting for an agent"}
    ]
    assert events == []


def test_the_number_in_the_slot_is_this_conversations_ticket(fake_client, dispatcher):
    # Opened by this conversation's action_open_ticket: its number is in the slot.
    run(fake_client.open_ticket({"name": "Laura"}, "key-0"))
    tracker = status_tracker("status of CR-10001", slots={"ticket_number": "CR-10001"},
                             sender_id="conv-2")

    run(ActionCheckTicketStatus().run(dispatcher, tracker, {}))

    assert messages(dispatcher) == [
        {"response": "utter_ticket_status", "template": "utter_ticket_status",
         "ticket": "CR-10001", "status_text": "open and waiting for an agent"}
    ]


def test_another_conversations_ticket_gets_no_status(fake_client, dispatcher):
    run(fake_client.open_ticket({"name": "Laura", "conversation_id": "conv-1"}, "key-0"))
    tracker = status_tracker("status of CR-10001",
                             [{"entity": "ticket_number", "value": "CR-10001"}],
                             sender_id="conv-2")

    events = run(ActionCheckTicketStatus().run(dispatcher, tracker, {}))

    assert messages(dispatcher) == elsewhere("CR-10001")
    assert "waiting" not in str(messages(dispatcher))
    assert events == []


def test_another_ticket_than_the_one_in_the_slot_gets_no_status(fake_client, dispatcher):
    run(fake_client.open_ticket({"name": "Laura", "conversation_id": "conv-1"}, "key-0"))
    run(fake_client.open_ticket({"name": "Sam", "conversation_id": "conv-2"}, "key-1"))
    tracker = status_tracker("and CR-10002?", slots={"ticket_number": "CR-10001"})

    run(ActionCheckTicketStatus().run(dispatcher, tracker, {}))

    assert messages(dispatcher) == elsewhere("CR-10002")


def test_a_ticket_the_bot_did_not_open_gets_no_status(fake_client, dispatcher):
    # E-mail tickets have no conversation: no chat is theirs.
    run(fake_client.open_ticket({"name": "Laura", "conversation_id": None}, "key-0"))

    run(ActionCheckTicketStatus().run(dispatcher, status_tracker("status of CR-10001"), {}))

    assert messages(dispatcher) == elsewhere("CR-10001")


def test_an_unknown_number_gets_the_same_answer_as_someone_elses_ticket(fake_client, dispatcher):
    run(fake_client.open_ticket({"name": "Laura", "conversation_id": "conv-1"}, "key-0"))
    someone_elses, unknown = dispatcher, type(dispatcher)()

    run(ActionCheckTicketStatus().run(
        someone_elses, status_tracker("status of CR-10001", sender_id="conv-2"), {}))
    events = run(ActionCheckTicketStatus().run(
        unknown, status_tracker("what about CR-10002", sender_id="conv-2"), {}))

    assert messages(unknown) == elsewhere("CR-10002")
    assert messages(someone_elses) == elsewhere("CR-10001")
    assert events == []


def test_this_conversations_ticket_unknown_to_the_service(fake_client, dispatcher):
    tracker = status_tracker("any update?", slots={"ticket_number": "CR-10001"})

    run(ActionCheckTicketStatus().run(dispatcher, tracker, {}))

    assert messages(dispatcher) == [
        {"response": "utter_ticket_not_found", "template": "utter_ticket_not_found",
         "ticket": "CR-10001"}
    ]


def test_no_ticket_number_asks_for_one(fake_client, dispatcher):
    events = run(ActionCheckTicketStatus().run(dispatcher, status_tracker("ticket status"), {}))

    assert messages(dispatcher) == [
        {"response": "utter_ask_ticket_number", "template": "utter_ask_ticket_number"}
    ]
    assert (events, fake_client.calls) == ([], [])


@pytest.mark.parametrize("slots", [None, {"ticket_number": "CR-10001"}])
def test_status_lookup_with_the_service_down(fake_client, dispatcher, slots):
    fake_client.down = True

    events = run(ActionCheckTicketStatus().run(
        dispatcher, status_tracker("status of CR-10001", slots=slots), {}))

    assert messages(dispatcher) == [
        {"response": "utter_ticket_status_unavailable",
         "template": "utter_ticket_status_unavailable"}
    ]
    assert events == []


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"CARE_API_URL": "http://10.0.0.5:5000", "CARE_PUBLIC_URL": "https://care.example.com/"},
         "https://care.example.com/track?number=CR-10001"),
        # No public URL: the tracking link is built from the API URL.
        ({"CARE_API_URL": "http://10.0.0.5:5000/"}, "http://10.0.0.5:5000/track?number=CR-10001"),
        ({}, "http://127.0.0.1:5000/track?number=CR-10001"),
    ],
)
def test_the_tracking_link_uses_the_public_url(environ, expected):
    client = escalation_client.EscalationClient.from_env(environ)

    assert client.tracking_url("CR-10001") == expected


def test_the_confirmation_says_when_to_expect_a_first_reply(fake_client, dispatcher, monkeypatch):
    wait = "Expect a first reply within about 20 minutes: 2 requests ahead of yours, 1 agent online now."
    opened = fake_client.open_ticket

    async def with_wait(payload, key, **options):
        receipt = await opened(payload, key, **options)
        return type(receipt)(**{**receipt.__dict__, "expected_wait": wait})

    monkeypatch.setattr(fake_client, "open_ticket", with_wait)
    run(ActionOpenTicket().run(dispatcher, make_tracker(CONVERSATION, SLOTS), {}))
    assert messages(dispatcher) == [OPENED[0], {"text": wait}, OPENED[1]]
