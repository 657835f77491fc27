"""On the customer portal the widget sends a signed identity: the ticket form takes name and
e-mail from the account once the escalation service confirms it, and asks as before when it
does not (forged, expired, signed out) or when nothing but clear text came from the browser."""

from actions.escalation_client import Identity
from actions.tickets import ValidateTicketForm
from conftest import make_tracker, run, user_event
from rasa_sdk.events import SlotSet

DOMAIN = {"forms": {"ticket_form": {"required_slots": ["customer_name", "customer_email"]}},
          "slots": {"customer_name": {"mappings": [{"type": "from_text"}]},
                    "customer_email": {"mappings": [{"type": "from_text"}]}}}
LAURA = Identity(customer_id=7, email="laura@example.com", name="Laura Smith")


def portal_event(text: str, intent: str, metadata: dict) -> dict:
    event = user_event(text, intent)
    event["metadata"] = metadata
    return event


def filled(events: list) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot" and e.get("value")}


def test_a_confirmed_identity_fills_name_and_email(dispatcher, fake_client):
    fake_client.identities["signed-laura"] = LAURA
    tracker = make_tracker([portal_event("I want to talk to a person", "request_human",
                                         {"identity": "signed-laura"})])
    events = run(ValidateTicketForm().run(dispatcher, tracker, DOMAIN))
    assert SlotSet("customer_name", "Laura Smith") in events
    assert SlotSet("customer_email", "laura@example.com") in events
    assert dispatcher.messages == []
    assert ("verify_identity", "signed-laura") in fake_client.calls


def test_a_forged_or_expired_identity_is_ignored_and_the_form_asks(dispatcher, fake_client):
    tracker = make_tracker([portal_event("I want to talk to a person", "request_human",
                                         {"identity": "forged-or-expired"})])
    events = run(ValidateTicketForm().run(dispatcher, tracker, DOMAIN))
    assert filled(events) == {}
    assert ("verify_identity", "forged-or-expired") in fake_client.calls


def test_a_name_and_email_in_clear_from_the_browser_are_not_trusted(dispatcher, fake_client):
    tracker = make_tracker([portal_event("I want to talk to a person", "request_human",
                                         {"user": {"name": "Mallory", "email": "laura@example.com"}})])
    events = run(ValidateTicketForm().run(dispatcher, tracker, DOMAIN))
    assert filled(events) == {}
    assert not [c for c in fake_client.calls if c[0] == "verify_identity"]


def test_the_service_away_means_asking(dispatcher, fake_client):
    fake_client.identities["signed-laura"] = LAURA
    fake_client.down = True
    tracker = make_tracker([portal_event("I want to talk to a person", "request_human",
                                         {"identity": "signed-laura"})])
    assert filled(run(ValidateTicketForm().run(dispatcher, tracker, DOMAIN))) == {}


def test_once_the_form_asked_the_answer_counts_not_the_identity(dispatcher, fake_client):
    fake_client.identities["signed-laura"] = LAURA
    tracker = make_tracker([portal_event("laura.home@example.org", "inform", {"identity": "signed-laura"})],
                           slots={"requested_slot": "customer_email", "customer_name": "Laura Smith"},
                           active_loop={"name": "ticket_form"})
    events = run(ValidateTicketForm().run(dispatcher, tracker, DOMAIN))
    assert not [c for c in fake_client.calls if c[0] == "verify_identity"]
    assert filled(events).get("customer_email") != "laura@example.com"
