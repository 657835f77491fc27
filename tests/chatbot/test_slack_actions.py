"""In Slack the bot knows who is writing: no name or e-mail asked, a `slack` ticket that
keeps its thread, and the employee articles in the KB answers."""

from actions.kb_answer import ActionAnswerFromKb
from actions.tickets import ValidateTicketForm, build_ticket_payload
from conftest import make_tracker, run, user_event
from rasa_sdk.events import SlotSet

SLACK = {"team": "T1", "channel": "D42", "thread_ts": "1700000000.000100", "user": "U_AUSTIN",
         "event_id": "Ev1", "name": "Austin Coy", "email": "austin.coy@northwind.example"}
DOMAIN = {"forms": {"ticket_form": {"required_slots": ["customer_name", "customer_email"]}},
          "slots": {"customer_name": {"mappings": [{"type": "from_text"}]},
                    "customer_email": {"mappings": [{"type": "from_text"}]}}}


def slack_event(text: str, intent: str, slack=SLACK) -> dict:
    event = user_event(text, intent)
    event["input_channel"] = "slack"
    event["metadata"] = {"out_channel": slack["channel"], "thread_id": slack["thread_ts"], "slack": slack}
    return event


def test_the_form_takes_name_and_email_from_the_slack_profile(dispatcher):
    tracker = make_tracker([slack_event("I want to talk to a person", "request_human")])
    events = run(ValidateTicketForm().run(dispatcher, tracker, DOMAIN))
    assert SlotSet("customer_name", "Austin Coy") in events
    assert SlotSet("customer_email", "austin.coy@northwind.example") in events
    assert dispatcher.messages == []  # nothing asked, nothing refused


def test_the_website_form_still_asks(dispatcher):
    tracker = make_tracker([user_event("I want to talk to a person", "request_human")])
    events = run(ValidateTicketForm().run(dispatcher, tracker, DOMAIN))
    assert not [e for e in events if e.get("name") in {"customer_name", "customer_email"} and e.get("value")]


def test_a_slack_profile_without_email_leaves_the_email_to_ask(dispatcher):
    tracker = make_tracker([slack_event("agent please", "request_human", {**SLACK, "email": ""})])
    events = run(ValidateTicketForm().run(dispatcher, tracker, DOMAIN))
    assert SlotSet("customer_name", "Austin Coy") in events
    assert not [e for e in events if e.get("name") == "customer_email" and e.get("value")]


def test_a_slack_ticket_keeps_its_workspace_channel_and_thread():
    tracker = make_tracker([slack_event("I can't log in", "ask_question"),
                            slack_event("I want to talk to a person", "request_human")],
                           slots={"customer_name": "Austin Coy", "customer_email": "austin.coy@northwind.example"},
                           sender_id="U_AUSTIN_D42_1700000000.000100")
    payload = build_ticket_payload(tracker)
    assert payload["channel"] == "slack"
    assert payload["slack"] == {"team": "T1", "channel": "D42", "thread_ts": "1700000000.000100", "user": "U_AUSTIN"}
    assert payload["conversation_id"] == "U_AUSTIN_D42_1700000000.000100"


def test_a_website_ticket_has_no_slack_thread():
    tracker = make_tracker([user_event("I want to talk to a person", "request_human")],
                           slots={"customer_name": "Laura", "customer_email": "laura@example.com"})
    payload = build_ticket_payload(tracker)
    assert payload["channel"] == "web_chat" and "slack" not in payload


def test_slack_searches_employee_and_public_articles(fake_client, dispatcher):
    run(ActionAnswerFromKb().run(dispatcher, make_tracker([slack_event("vpn does not connect", "ask_question")]), {}))
    run(ActionAnswerFromKb().run(dispatcher, make_tracker([user_event("vpn does not connect", "ask_question")]), {}))
    audiences = [call[1]["audience"] for call in fake_client.calls if call[0] == "search_kb"]
    assert audiences == ["employee", "public"]
