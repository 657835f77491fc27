"""action_answer_from_kb: answers, no answer, service down, an agent owns the conversation."""

import pytest
from rasa_sdk.events import SlotSet

from actions.escalation_client import ApiError, Caller, KbHit, KbSection
from actions.kb_answer import ActionAnswerFromKb, answer_text
from conftest import bot_event, make_tracker, messages, run, user_event

QUESTION = "How do I reactivate my account? I haven't used it in two years"


def test_answers_with_best_article_suggestions_and_a_question(fake_client, dispatcher):
    tracker = make_tracker([user_event(QUESTION, "ask_question", 0.97)])

    events = run(ActionAnswerFromKb().run(dispatcher, tracker, {}))

    assert fake_client.calls == [("search_kb", {"query": QUESTION, "k": 4, "audience": "public"})]
    assert messages(dispatcher) == [
        {
            "response": "utter_kb_answer",
            "template": "utter_kb_answer",
            "title": "Reactivate an account that has been inactive",
            "answer": "How to reactivate your account\n"
            "1. Choose Reactivate a dormant account on the sign-in page.\n"
            "2. Open the link we send you.",
            "url": "/help/reactivate-inactive-account",
        },
        {
            "custom": {
                "data": {
                    "articles": [
                        {
                            "article_id": "reset-password",
                            "title": "Reset your password",
                            "url": "/help/reset-password",
                            "snippet": "Choose Forgot password on the sign-in page.",
                        },
                        {
                            "article_id": "two-factor-authentication",
                            "title": "Two-factor authentication",
                            "url": "/help/two-factor-authentication",
                            "snippet": "Set up 2FA in Settings > Security.",
                        },
                        {
                            "article_id": "locked-out-after-security-update",
                            "title": "Locked out after a security update",
                            "url": "/help/locked-out-after-security-update",
                            "snippet": "Reset your password first.",
                        },
                    ]
                }
            }
        },
        {"response": "utter_did_that_help", "template": "utter_did_that_help"},
    ]
    assert events == [
        SlotSet("kb_outcome", "answered"),
        SlotSet(
            "suggested_articles",
            [
                "reactivate-inactive-account",
                "reset-password",
                "two-factor-authentication",
                "locked-out-after-security-update",
            ],
        ),
    ]


def test_a_single_hit_sends_no_suggestion_cards_and_keeps_earlier_suggestions(
    fake_client, dispatcher
):
    fake_client.articles = fake_client.articles[1:2]
    tracker = make_tracker(
        [user_event("I forgot my password", "ask_question")],
        slots={"suggested_articles": ["reactivate-inactive-account", "reset-password"]},
    )

    events = run(ActionAnswerFromKb().run(dispatcher, tracker, {}))

    assert [m.get("response") for m in messages(dispatcher)] == [
        "utter_kb_answer",
        "utter_did_that_help",
    ]
    assert events == [
        SlotSet("kb_outcome", "answered"),
        SlotSet("suggested_articles", ["reactivate-inactive-account", "reset-password"]),
    ]


def test_not_answerable_says_so_and_offers_a_person(fake_client, dispatcher):
    fake_client.answerable = False
    tracker = make_tracker([user_event("can I pay in bitcoin", "nlu_fallback", 0.41)])

    events = run(ActionAnswerFromKb().run(dispatcher, tracker, {}))

    assert messages(dispatcher) == [
        {"response": "utter_kb_no_answer", "template": "utter_kb_no_answer"}
    ]
    assert events == [SlotSet("kb_outcome", "no_answer")]
    # counted for the admin's KB-gap report
    assert ("record_outcome", (tracker.sender_id, "unanswered", "can I pay in bitcoin", None)) in fake_client.calls


def test_service_down_says_so_plainly(fake_client, dispatcher):
    fake_client.down = True
    tracker = make_tracker([user_event(QUESTION, "ask_question")])

    events = run(ActionAnswerFromKb().run(dispatcher, tracker, {}))

    assert messages(dispatcher) == [
        {"response": "utter_kb_unavailable", "template": "utter_kb_unavailable"}
    ]
    assert events == [SlotSet("kb_outcome", "unavailable")]


def test_a_question_the_api_refuses_is_no_outage(fake_client, dispatcher):
    """A 422 (the question itself was refused) is not "I can't reach our help centre"."""
    fake_client.search_reject_with = ApiError(422, "validation_failed", "The question is too long")
    tracker = make_tracker([user_event("why " * 400, "nlu_fallback", 0.3)])

    events = run(ActionAnswerFromKb().run(dispatcher, tracker, {}))

    assert messages(dispatcher) == [
        {"response": "utter_kb_no_answer", "template": "utter_kb_no_answer"}
    ]
    assert events == [SlotSet("kb_outcome", "no_answer")]


def test_the_search_names_the_customer_s_ip_and_conversation(fake_client, dispatcher):
    """The channel put the browser's IP in the metadata; the API limits count it."""
    asked = {**user_event(QUESTION, "ask_question"), "metadata": {"client_ip": "198.51.100.4"}}
    tracker = make_tracker([asked], sender_id="c0ffee")

    run(ActionAnswerFromKb().run(dispatcher, tracker, {}))

    assert fake_client.callers == [Caller(client_ip="198.51.100.4", conversation_id="c0ffee")]


def test_an_agent_owned_conversation_is_not_answered_and_the_handoff_is_resent(
    fake_client, dispatcher
):
    receipt = run(fake_client.open_ticket({"name": "Laura"}, "key-1"))
    handoff = {"ticket": receipt.number, "token": receipt.token}
    tracker = make_tracker(
        [
            bot_event(f"Your ticket number is {receipt.number}.", 1700000010.0),
            bot_event(None, 1700000010.1, custom={"data": {"handoff": handoff}}),
            user_event("hello? is anyone there", "greet", timestamp=1700000060.0),
        ],
        slots={"ticket_number": receipt.number},
    )
    fake_client.calls.clear()

    events = run(ActionAnswerFromKb().run(dispatcher, tracker, {}))

    assert fake_client.calls == [("get_ticket", "CR-10001")]
    assert messages(dispatcher) == [
        {
            "response": "utter_agent_has_conversation",
            "template": "utter_agent_has_conversation",
            "ticket": "CR-10001",
        },
        {"custom": {"data": {"handoff": {"ticket": "CR-10001", "token": "token-CR-10001"}}}},
    ]
    assert events == [SlotSet("kb_outcome", "agent_owned")]


def test_a_resolved_ticket_gives_the_conversation_back_to_the_bot(fake_client, dispatcher):
    receipt = run(fake_client.open_ticket({"name": "Laura"}, "key-1"))
    info = fake_client.tickets[receipt.number]
    fake_client.tickets[receipt.number] = info.__class__(
        **{**info.__dict__, "status": "resolved", "owner": "bot"}
    )
    tracker = make_tracker(
        [user_event(QUESTION, "ask_question")], slots={"ticket_number": receipt.number}
    )

    events = run(ActionAnswerFromKb().run(dispatcher, tracker, {}))

    assert events[0] == SlotSet("kb_outcome", "answered")
    assert messages(dispatcher)[0]["response"] == "utter_kb_answer"


def _answered_then_yes():
    return [
        user_event(QUESTION, "ask_question", 0.97),
        {"event": "action", "timestamp": 1700000001.0, "name": "action_answer_from_kb"},
        bot_event("Here's what our help centre says", 1700000002.0),
        user_event("yes it did, thanks", "affirm", 0.99, timestamp=1700000010.0),
    ]


def test_yes_closes_warmly_and_records_self_served(fake_client, dispatcher):
    from actions.kb_answer import ActionRecordSelfServed

    tracker = make_tracker(_answered_then_yes(), slots={"suggested_articles": ["reactivate-inactive-account"]})

    events = run(ActionRecordSelfServed().run(dispatcher, tracker, {}))

    assert events == []
    assert messages(dispatcher) == [{"response": "utter_glad_it_helped", "template": "utter_glad_it_helped"}]
    assert fake_client.calls == [
        ("record_outcome", ("conv-1", "self_served", QUESTION, "reactivate-inactive-account"))
    ]


def test_self_served_close_survives_the_service_being_down(fake_client, dispatcher):
    from actions.kb_answer import ActionRecordSelfServed

    fake_client.down = True
    events = run(ActionRecordSelfServed().run(dispatcher, make_tracker(_answered_then_yes()), {}))

    assert events == []
    assert messages(dispatcher) == [{"response": "utter_glad_it_helped", "template": "utter_glad_it_helped"}]


def test_a_long_section_shows_its_start_and_a_link_to_the_rest():
    hit = KbHit("a", "Title", "/help/a", "snip", 0.9,
                KbSection("Steps", "steps", "1. One …", False, "/help/a#steps"))
    assert answer_text(hit) == "Steps\n1. One …\nRead the rest of this section: /help/a#steps"
    intro = KbHit("a", "Title", "/help/a", "snip", 0.9,
                  KbSection("Title", "title", "All of it.", True, "/help/a#title"))
    assert answer_text(intro) == "All of it."              # no heading that repeats the title
    assert answer_text(KbHit("a", "Title", "/help/a", "snip", 0.9)) == "snip"   # older service


def _after_an_answer(follow_up: str):
    return make_tracker(
        [
            user_event(QUESTION, "ask_question", 0.97),
            {"event": "action", "timestamp": 1700000001.0, "name": "action_answer_from_kb"},
            bot_event("Here's what our help centre says", 1700000002.0),
            bot_event("Did that solve it?", 1700000002.1),
            user_event(follow_up, "ask_question", 0.6, timestamp=1700000010.0),
        ],
        slots={"kb_outcome": "answered"},
    )


@pytest.mark.parametrize("follow_up", [
    "and if I no longer have that email?",
    "what about after five years?",
    "does that work in the app too",
])
def test_a_follow_up_is_searched_with_the_question_before_it(fake_client, dispatcher, follow_up):
    run(ActionAnswerFromKb().run(dispatcher, _after_an_answer(follow_up), {}))

    assert fake_client.calls == [("search_kb", {"query": follow_up, "k": 4, "audience": "public", "context": QUESTION})]


@pytest.mark.parametrize("question", [
    "How long does standard delivery take to Scotland and do you deliver on Saturdays?",
    QUESTION,                                        # the same question again
])
def test_a_new_question_after_an_answer_is_searched_alone(fake_client, dispatcher, question):
    run(ActionAnswerFromKb().run(dispatcher, _after_an_answer(question), {}))

    assert fake_client.calls == [("search_kb", {"query": question, "k": 4, "audience": "public"})]


def test_no_context_when_the_last_search_did_not_answer(fake_client, dispatcher):
    tracker = _after_an_answer("and what about that?")
    tracker.slots["kb_outcome"] = "no_answer"

    run(ActionAnswerFromKb().run(dispatcher, tracker, {}))

    assert fake_client.calls == [("search_kb", {"query": "and what about that?", "k": 4, "audience": "public"})]
