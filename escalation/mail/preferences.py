"""What each customer hears about by e-mail, and the signed links in our mails.

A customer's ``notify_pref`` is ``all`` (every notice), ``important`` (what needs them or
ends the ticket: the acknowledgement, agents' replies, resolved, the auto-close warning and
the closed notice) or ``none`` (nothing at all). Every mail to a customer carries a one-click
unsubscribe (``List-Unsubscribe`` + ``List-Unsubscribe-Post``, RFC 8058) whose link is
signed with ``SECRET_KEY``: it sets ``none``; the same page offers the other choices.

The resolved mail carries one-click ratings: a signed link per rating that expires after
``CARE_SURVEY_LINK_DAYS``. No sign-in: the signature is the credential, and it names one
ticket only.
"""
from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..errors import NotFound, ServiceError
from ..models import NOTIFY_PREFS, Customer, Ticket

IMPORTANT = frozenset({"acknowledgement", "agent_reply", "resolved", "close_warning", "closed"})
"""The customer mails sent under ``important``; ``all`` adds allocated and reopened."""

PREF_LABELS = {"all": "Everything: each step of my tickets",
               "important": "Only important mail: replies, resolved and closing notices",
               "none": "Nothing"}
assert set(PREF_LABELS) == set(NOTIFY_PREFS)

RATINGS = {5: "Great", 4: "Good", 3: "Okay", 2: "Poor", 1: "Bad"}


class LinkExpired(ServiceError):
    status = 410
    code = "link_expired"


def wants(customer: Customer, kind: str) -> bool:
    """True when ``customer``'s preference lets a ``kind`` mail through."""
    pref = customer.notify_pref or "all"
    if pref == "none":
        return False
    return pref == "all" or kind in IMPORTANT


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _public_url() -> str:
    return str(current_app.config["PUBLIC_URL"]).rstrip("/")


# --- unsubscribe ---------------------------------------------------------------------------

def unsubscribe_token(customer: Customer) -> str:
    # the address is signed too: after an erasure or a change of address the old link does nothing
    return _serializer("care-unsubscribe").dumps({"c": customer.id, "e": customer.email})


def unsubscribe_url(customer: Customer) -> str:
    return f"{_public_url()}/mail/unsubscribe/{unsubscribe_token(customer)}"


def customer_for(session: Any, token: str) -> Customer:
    """The customer an unsubscribe link names (it never expires), or NotFound."""
    try:
        data = _serializer("care-unsubscribe").loads(token)
    except BadSignature:
        data = None
    customer = session.get(Customer, data.get("c")) if isinstance(data, dict) else None
    if customer is None or customer.email != data.get("e"):
        raise NotFound("This link is not valid (it may be incomplete). Use the link in your latest e-mail from us.",
                       code="link_not_valid")
    return customer


def set_pref(customer: Customer, pref: str) -> None:
    if pref not in NOTIFY_PREFS:
        raise ValueError(pref)
    customer.notify_pref = pref


# --- ratings -------------------------------------------------------------------------------

def rating_token(ticket: Ticket) -> str:
    return _serializer("care-rating").dumps({"t": ticket.id})


def rating_urls(ticket: Ticket) -> list[tuple[int, str, str]]:
    """(rating, label, one-click URL) from 5 down to 1; the rating is in the link."""
    token = rating_token(ticket)
    return [(rating, label, f"{_public_url()}/mail/rate/{token}/{rating}") for rating, label in RATINGS.items()]


def comment_url(ticket: Ticket) -> str:
    return f"{_public_url()}/mail/rate/{rating_token(ticket)}"


def ticket_for_rating(session: Any, token: str) -> Ticket:
    max_age = int(float(current_app.config["SURVEY_LINK_DAYS"]) * 86400)
    try:
        data = _serializer("care-rating").loads(token, max_age=max_age)
    except SignatureExpired:
        raise LinkExpired("This rating link has expired. Thank you all the same: you can still reply to "
                          "the e-mail to tell us how we did.") from None
    except BadSignature:
        data = None
    ticket = session.get(Ticket, data.get("t")) if isinstance(data, dict) else None
    if ticket is None:
        raise NotFound("This rating link is not valid (it may be incomplete). Use the link in the e-mail.",
                       code="link_not_valid")
    return ticket
