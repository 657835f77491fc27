"""Hand the customer over to a person: the ticket form, opening a ticket, ticket status."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime, timedelta
from typing import Any, Optional

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, ReminderCancelled, ReminderScheduled, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from . import escalation_client, transcript
from .escalation_client import ApiError, EscalationError, ServiceUnavailable, TicketInfo
from .kb_answer import agent_owns_conversation, caller_of, resend_handoff
from .slack_context import slack_context, thread_of

logger = logging.getLogger(__name__)

EMAIL_RE = re.compile(r"[^\s@<>(),;:\"']+@[^\s@<>(),;:\"']+\.[A-Za-z]{2,}")
TICKET_RE = re.compile(r"\bCR-\d{4,}\b", re.IGNORECASE)
NAME_PREFIX_RE = re.compile(
    r"^(hi|hello|hey)?[,!\s]*(my name is|my name's|name:|i am|i'm|im|it's|its|this is|call me)\s+",
    re.IGNORECASE,
)
NAME_SUFFIX_RE = re.compile(r"[,\s]+(here|speaking)$", re.IGNORECASE)
MAX_NAME_WORDS = 5
MAX_NAME_LENGTH = 80

RETRY_INTENT = "EXTERNAL_retry_ticket"
RETRY_REMINDER = "retry_ticket"
# Seconds to wait before each automatic retry when the escalation service is down.
RETRY_DELAYS = (5, 15, 45)

# How a ticket status reads in a sentence ("Ticket CR-10001 is <...>.").
# One phrase per status of the escalation service (escalation/models.py STATUSES);
# tests/escalation/test_bot_wording.py fails when the two lists differ.
STATUS_TEXT = {
    "new": "open and waiting for an agent",
    "assigned": "with an agent, who will pick it up shortly",
    "acknowledged": "with an agent, who is looking at it",
    "in_progress": "being worked on by an agent",
    "waiting_on_customer": "waiting for a reply from you — check your e-mail",
    "resolved": "resolved",
    "closed": "closed",
}


def _now() -> datetime:
    return datetime.now()


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


class ValidateTicketForm(FormValidationAction):
    """Checks the customer's name and e-mail; a rejected value is asked for again.

    In Slack both come from the person's Slack profile (the message's metadata), so the
    form completes at once and asks nothing. On the customer portal the widget sends a signed
    identity as metadata: when the escalation service confirms it, both come from the
    customer's account (verified e-mail) and nothing is asked; a forged or expired one is
    ignored. A name or e-mail the browser sends in clear is never taken.
    """

    def name(self) -> str:
        return "validate_ticket_form"

    async def extract_customer_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return _from_slack_profile(tracker, "customer_name", "name") or \
            await _from_portal_identity(tracker, "customer_name", "name")

    async def extract_customer_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return _from_slack_profile(tracker, "customer_email", "email") or \
            await _from_portal_identity(tracker, "customer_email", "email")

    def validate_customer_name(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "customer_name":
            # A name known before the form started (an earlier ticket): keep it if valid.
            return {"customer_name": clean_name(slot_value)}
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        has_entity = bool(list(tracker.get_latest_entity_values("name")))
        if intent == "request_human" and not has_entity:
            dispatcher.utter_message(response="utter_name_needed_first")
            return {"customer_name": None}
        # The whole short answer beats DIET's entity, which may hold only part of a name
        # ("Jones" of "Sam Jones"); the entity helps when the answer is a longer sentence.
        name = clean_name(tracker.latest_message.get("text")) or clean_name(slot_value)
        if name is None:
            dispatcher.utter_message(response="utter_invalid_name")
        return {"customer_name": name}

    def validate_customer_email(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        match = EMAIL_RE.search(str(slot_value or ""))
        if match is None:
            dispatcher.utter_message(response="utter_invalid_email")
            return {"customer_email": None}
        return {"customer_email": match.group(0).rstrip(".")}


def _from_slack_profile(tracker: Tracker, slot: str, field: str) -> dict[str, Any]:
    slack = slack_context(tracker)
    if tracker.get_slot(slot) or not slack or not str(slack.get(field) or "").strip():
        return {}
    return {slot: str(slack[field]).strip()}


IDENTITY_KEY = "identity"


def identity_token(tracker: Tracker) -> Optional[str]:
    """The signed identity the widget sent with the latest user message (portal pages), if any."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            token = (event.get("metadata") or {}).get(IDENTITY_KEY)
            return token if isinstance(token, str) and token else None
    return None


async def _from_portal_identity(tracker: Tracker, slot: str, field: str) -> dict[str, Any]:
    """The slot from the signed-in portal customer's account, once the service confirms the
    identity; nothing (so the form asks) when there is none, it is refused or the service is away."""
    token = identity_token(tracker)
    if token is None or tracker.get_slot("requested_slot") is not None:
        return {}  # asked already: the customer's answer is what counts now
    try:
        who = await escalation_client.get_client().verify_identity(token)
    except EscalationError as exc:
        logger.warning("could not check the widget's identity (%s); asking the customer", exc)
        return {}
    value = getattr(who, field, "") if who is not None else ""
    if not value or tracker.get_slot(slot) == value:
        return {}
    return {slot: value}


def clean_name(value: Any) -> Optional[str]:
    """'my name is Laura Smith.' -> 'Laura Smith'; None when it does not look like a name."""
    text = NAME_PREFIX_RE.sub("", str(value or "").strip()).strip(" .,!")
    text = NAME_SUFFIX_RE.sub("", text).strip(" .,!")
    if (
        not text
        or len(text) > MAX_NAME_LENGTH
        or len(text.split()) > MAX_NAME_WORDS
        or any(char.isdigit() or char in "@?/" for char in text)
    ):
        return None
    return text


class ActionOpenTicket(Action):
    """Opens the ticket, or retries a request that could not be delivered yet.

    The request (key + body) is frozen in the `pending_ticket` slot at the first attempt,
    so every retry sends the same `Idempotency-Key` with the same body; the escalation
    service then creates at most one ticket. The customer is told of a ticket only after
    the service confirmed it.
    """

    def name(self) -> str:
        return "action_open_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        client = escalation_client.get_client()
        from_reminder = (tracker.latest_message.get("intent") or {}).get("name") == RETRY_INTENT
        pending = tracker.get_slot("pending_ticket")

        if pending is None:
            if from_reminder:
                return []  # opened meanwhile, or the customer cancelled
            if await self._already_with_agent(dispatcher, tracker):
                return []
            pending = {
                "idempotency_key": new_idempotency_key(),
                "payload": build_ticket_payload(tracker),
                "attempts": 0,
            }

        attempts = pending["attempts"] + 1
        try:
            receipt = await client.open_ticket(pending["payload"], pending["idempotency_key"],
                                               caller=caller_of(tracker))
        except ServiceUnavailable as exc:
            logger.warning("opening a ticket for %s failed (attempt %d): %s",
                           tracker.sender_id, attempts, exc)
            return self._retry_later(dispatcher, pending, attempts, from_reminder)
        except ApiError as exc:
            logger.error("the escalation API refused a ticket for %s: %s", tracker.sender_id, exc)
            dispatcher.utter_message(response="utter_ticket_rejected")
            return [SlotSet("pending_ticket", None)]

        dispatcher.utter_message(
            response="utter_ticket_opened",
            ticket=receipt.number,
            email=pending["payload"]["email"],
        )
        if receipt.expected_wait:
            dispatcher.utter_message(text=receipt.expected_wait)
        dispatcher.utter_message(
            json_message={"data": {"handoff": {"ticket": receipt.number, "token": receipt.token}}}
        )
        events: list[EventType] = [
            SlotSet("ticket_number", receipt.number),
            SlotSet("pending_ticket", None),
        ]
        if pending["attempts"]:
            events.append(ReminderCancelled(name=RETRY_REMINDER))
        return events

    async def _already_with_agent(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> bool:
        """A second request while a person already has this conversation opens nothing."""
        if not await agent_owns_conversation(tracker):
            return False
        dispatcher.utter_message(response="utter_ticket_already_open", ticket=tracker.get_slot("ticket_number"))
        resend_handoff(dispatcher, tracker)
        return True

    @staticmethod
    def _retry_later(
        dispatcher: CollectingDispatcher,
        pending: dict[str, Any],
        attempts: int,
        from_reminder: bool,
    ) -> list[EventType]:
        if attempts > len(RETRY_DELAYS):
            # Automatic retries are used up: keep the request (same key) for the
            # customer's next "talk to a person", which starts a new round.
            dispatcher.utter_message(response="utter_ticket_service_still_down")
            return [SlotSet("pending_ticket", {**pending, "attempts": 0})]
        if not from_reminder:
            dispatcher.utter_message(response="utter_ticket_service_down")
        return [
            SlotSet("pending_ticket", {**pending, "attempts": attempts}),
            ReminderScheduled(
                RETRY_INTENT,
                trigger_date_time=_now() + timedelta(seconds=RETRY_DELAYS[attempts - 1]),
                name=RETRY_REMINDER,
                kill_on_user_message=False,
            ),
        ]


def build_ticket_payload(tracker: Tracker) -> dict[str, Any]:
    """The `POST /api/v1/tickets` body for this conversation (docs/interfaces.md)."""
    events = tracker.events_after_latest_restart()
    trigger = transcript.handoff_trigger(events) or {}
    intent = (trigger.get("parse_data") or {}).get("intent") or {}
    slack = slack_context(tracker)
    payload = {
        "name": tracker.get_slot("customer_name"),
        "email": tracker.get_slot("customer_email"),
        "channel": "slack" if slack else "web_chat",
        "conversation_id": tracker.sender_id,
        "transcript": transcript.build_transcript(events),
        "suggested_articles": list(tracker.get_slot("suggested_articles") or []),
        "nlu": {
            "last_intent": intent.get("name"),
            "confidence": transcript.round_confidence(intent.get("confidence")),
        },
    }
    if slack:
        payload["slack"] = thread_of(slack)
    return payload


class ActionCheckTicketStatus(Action):
    """Tells the status of this conversation's own ticket, and of no other.

    Ticket numbers are sequential, so telling the status of any number typed in the chat would
    let anyone enumerate every customer's tickets. A ticket is this conversation's when it is
    the `ticket_number` slot (set only by action_open_ticket) or when the service says this
    conversation (`sender_id`) opened it. Any other number — someone else's ticket or no
    ticket at all — gets the same answer, pointing to the tracking page (number + e-mail) and
    the widget's "My tickets", so the answer does not even say whether the number exists.
    """

    def name(self) -> str:
        return "action_check_ticket_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        number = requested_ticket_number(tracker)
        if number is None:
            dispatcher.utter_message(response="utter_ask_ticket_number")
            return []
        client = escalation_client.get_client()
        try:
            info = await client.get_ticket(number)
        except EscalationError as exc:
            logger.warning("ticket lookup %s failed: %s", number, exc)
            dispatcher.utter_message(response="utter_ticket_status_unavailable")
            return []
        if not is_own_ticket(tracker, number, info):
            dispatcher.utter_message(
                response="utter_ticket_status_elsewhere",
                ticket=number,
                track_url=client.tracking_url(number),
            )
            return []
        if info is None:
            # The slot's ticket, unknown to the service (e.g. its database was replaced).
            dispatcher.utter_message(response="utter_ticket_not_found", ticket=number)
            return []
        status_text = STATUS_TEXT.get(info.status, info.status.replace("_", " "))
        dispatcher.utter_message(
            response="utter_ticket_status", ticket=info.number, status_text=status_text
        )
        return []


def is_own_ticket(tracker: Tracker, number: str, info: Optional[TicketInfo]) -> bool:
    """Whether `number` is the ticket opened in this conversation."""
    own_number = str(tracker.get_slot("ticket_number") or "").upper()
    if own_number and number.upper() == own_number:
        return True
    return bool(
        info is not None and tracker.sender_id and info.conversation_id == tracker.sender_id
    )


def requested_ticket_number(tracker: Tracker) -> Optional[str]:
    """The ticket number in the latest message, else this conversation's own ticket.

    Only a number; whether the customer may hear its status is `is_own_ticket`'s call.
    """
    for value in tracker.get_latest_entity_values("ticket_number"):
        match = TICKET_RE.search(str(value))
        if match:
            return match.group(0).upper()
    match = TICKET_RE.search(tracker.latest_message.get("text") or "")
    if match:
        return match.group(0).upper()
    return tracker.get_slot("ticket_number")
