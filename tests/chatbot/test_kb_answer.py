"""action_answer_from_kb: answers, no answer, service down, an agent owns the conversation."""

from rasa_sdk.events import SlotSet

from actions.kb_answer import ActionAnswerFromKb
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
            "snippet": "Choose Reactivate a dormant account on the sign-in page.",
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


def test_service_down_says_so_plainly(fake_client, dispatcher):
    fake_client.down = True
    tracker = make_tracker([user_event(QUESTION, "ask_question")])

    events = run(ActionAnswerFromKb().run(dispatcher, tracker, {}))

    assert messages(dispatcher) == [
        {"response": "utter_kb_unavailable", "template": "utter_kb_unavailable"}
    ]
    assert events == [SlotSet("kb_outcome", "unavailable")]


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
