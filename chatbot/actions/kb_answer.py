"""Answer a customer's question from the knowledge base (`action_answer_from_kb`)."""

from __future__ import annotations

import logging
import re
from typing import Any, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from . import escalation_client, transcript
from .escalation_client import ApiError, Caller, EscalationError, KbHit
from .slack_context import kb_audience

logger = logging.getLogger(__name__)

SEARCH_K = 4  # the best hit is the answer, the next ones become suggestion cards
MAX_CONTEXT_CHARS = 1000  # the search API's limit for the previous question
# A message that only makes sense after the previous question: it starts like a
# continuation ("and if …", "what about …") or is short and points back ("does that
# work on the app?").
FOLLOW_UP_START = re.compile(
    r"^\s*(and|but|also|so|then|ok(ay)? and|what about|how about|what if|what else)\b", re.I
)
POINTS_BACK = re.compile(r"\b(that|this|it|those|these|them|there|same)\b", re.I)
SHORT_FOLLOW_UP_WORDS = 8
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
        context = follow_up_context(tracker, query)
        try:
            result = await client.search_kb(query, k=SEARCH_K, caller=caller_of(tracker), context=context,
                                            audience=kb_audience(tracker))
        except ApiError as exc:
            if exc.status == 422:
                # the API refused the question itself: no outage, there is just no answer to it
                logger.info("KB search refused the question of %s: %s", tracker.sender_id, exc)
                dispatcher.utter_message(response="utter_kb_no_answer")
                return [SlotSet("kb_outcome", "no_answer")]
            logger.warning("KB search failed for %s: %s", tracker.sender_id, exc)
            dispatcher.utter_message(response="utter_kb_unavailable")
            return [SlotSet("kb_outcome", "unavailable")]
        except EscalationError as exc:
            logger.warning("KB search failed for %s: %s", tracker.sender_id, exc)
            dispatcher.utter_message(response="utter_kb_unavailable")
            return [SlotSet("kb_outcome", "unavailable")]

        if not result.answerable or not result.hits:
            dispatcher.utter_message(response="utter_kb_no_answer")
            await record_unanswered(tracker.sender_id, query)
            return [SlotSet("kb_outcome", "no_answer")]

        best, more = result.hits[0], result.hits[1:SEARCH_K]
        dispatcher.utter_message(
            response="utter_kb_answer", title=best.title, answer=answer_text(best), url=best.url
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


async def record_unanswered(conversation_id: str, question: str) -> None:
    """Count a question the KB could not answer (the admin's KB-gap report groups them). Best
    effort: the customer's turn does not depend on it."""
    try:
        await escalation_client.get_client().record_outcome(conversation_id, "unanswered", question[:2000])
    except EscalationError as exc:
        logger.warning("could not record the unanswered question of %s: %s", conversation_id, exc)


def answer_text(hit: KbHit) -> str:
    """The answering section as the customer reads it: its heading (unless it is the
    article's title), then the section, whole (steps one a line, "1. ..."), or its
    start and a link to the rest. Without a section (an older service): the snippet."""
    section = hit.section
    if section is None:
        return hit.snippet
    lines = [] if section.heading == hit.title else [section.heading]
    lines.append(section.text)
    if not section.complete:
        lines.append(f"Read the rest of this section: {section.url}")
    return "\n".join(lines)


def follow_up_context(tracker: Tracker, query: str) -> Optional[str]:
    """The previous question when `query` follows up on the KB's last answer, else None.

    Only right after an answer (`kb_outcome` is "answered"), and only for a message that
    reads as a continuation: it starts with "and", "what about", "what if" … or is short
    and points back ("that", "it", "there"). A new, complete question is searched alone.
    """
    if tracker.get_slot("kb_outcome") != "answered":
        return None
    previous = answered_question(tracker)
    if not previous or previous.strip() == query:
        return None
    words = query.split()
    if not (FOLLOW_UP_START.search(query)
            or (len(words) <= SHORT_FOLLOW_UP_WORDS and POINTS_BACK.search(query))):
        return None
    return previous.strip()[-MAX_CONTEXT_CHARS:]


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


def caller_of(tracker: Tracker) -> Caller:
    """The customer this conversation is for, as the escalation API's limits count them."""
    return Caller(client_ip=transcript.latest_client_ip(tracker.events),
                  conversation_id=tracker.sender_id or "")


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
