"""Answer a customer's question from the knowledge base (`action_answer_from_kb`)."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from . import escalation_client, transcript
from .escalation_client import EscalationError, KbHit
from .slack_context import kb_audience

logger = logging.getLogger(__name__)

SEARCH_K = 4  # the best hit is the answer, the next ones become suggestion cards
# Ticket owner states in which a person, not the bot, answers the customer.
AGENT_OWNERS = frozenset({"queued", "agent"})


class ActionAnswerFromKb(Action):
    def name(self) -> str:
        return "action_answer_from_kb"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        client = escalation_client.get_client()

        if await agent_owns_conversation(tracker):
            ticket = tracker.get_slot("ticket_number")
            dispatcher.utter_message(response="utter_agent_has_conversation", ticket=ticket)
            resend_handoff(dispatcher, tracker)
            return [SlotSet("kb_outcome", "agent_owned")]

        query = (tracker.latest_message.get("text") or "").strip()
        try:
            result = await client.search_kb(query, k=SEARCH_K, audience=kb_audience(tracker))
        except EscalationError as exc:
            logger.warning("KB search failed for %s: %s", tracker.sender_id, exc)
            dispatcher.utter_message(response="utter_kb_unavailable")
            return [SlotSet("kb_outcome", "unavailable")]

        if not result.answerable or not result.hits:
            dispatcher.utter_message(response="utter_kb_no_answer")
            return [SlotSet("kb_outcome", "no_answer")]

        best, more = result.hits[0], result.hits[1:SEARCH_K]
        dispatcher.utter_message(
            response="utter_kb_answer", title=best.title, snippet=best.snippet, url=best.url
        )
        if more:
            # Rasa's socket.io channel emits the contents of "data" as the bot_uttered message.
            dispatcher.utter_message(
                json_message={"data": {"articles": [article_card(hit) for hit in more]}}
            )
        dispatcher.utter_message(response="utter_did_that_help")

        suggested = list(tracker.get_slot("suggested_articles") or [])
        for hit in result.hits[:SEARCH_K]:
            if hit.article_id not in suggested:
                suggested.append(hit.article_id)
        return [SlotSet("kb_outcome", "answered"), SlotSet("suggested_articles", suggested)]


async def agent_owns_conversation(tracker: Tracker) -> bool:
    """True when this conversation's ticket is queued for or held by a person.

    Asks the escalation service every time: ownership is server-side state. When the
    service cannot be asked, the bot goes on (the KB search will tell the customer).
    """
    ticket = tracker.get_slot("ticket_number")
    if not ticket:
        return False
    try:
        info = await escalation_client.get_client().get_ticket(ticket)
    except EscalationError as exc:
        logger.warning("could not check the owner of %s: %s", ticket, exc)
        return False
    return info is not None and info.owner in AGENT_OWNERS


def resend_handoff(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Send the handoff payload again, so a widget that lost it reconnects to the ticket."""
    handoff = transcript.find_handoff(tracker.events)
    if handoff and handoff.get("ticket") == tracker.get_slot("ticket_number"):
        dispatcher.utter_message(json_message={"data": {"handoff": handoff}})


def article_card(hit: KbHit) -> dict[str, str]:
    return {
        "article_id": hit.article_id,
        "title": hit.title,
        "url": hit.url,
        "snippet": hit.snippet,
    }


class ActionRecordSelfServed(Action):
    """The answer solved it: close warmly and count the conversation as self-served.

    The record feeds the dashboard's self-service rate. It is best effort: if the
    escalation service cannot be reached the customer still gets the warm close.
    """

    def name(self) -> str:
        return "action_record_self_served"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_glad_it_helped")
        suggested = tracker.get_slot("suggested_articles") or []
        question = answered_question(tracker)
        try:
            await escalation_client.get_client().record_outcome(
                tracker.sender_id, "self_served", question, suggested[0] if suggested else None)
        except EscalationError as exc:
            logger.warning("could not record the self-served outcome of %s: %s", tracker.sender_id, exc)
        return []


def answered_question(tracker: Tracker) -> str:
    """The customer's text that the latest KB answer replied to."""
    last_user, question = "", ""
    for event in tracker.events:
        if event.get("event") == "user":
            last_user = event.get("text") or ""
        elif event.get("event") == "action" and event.get("name") == "action_answer_from_kb":
            question = last_user
    return question
