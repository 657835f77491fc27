"""The signed identity a portal page hands the chat widget, so the bot does not ask a signed-in
customer for their name and e-mail again.

The page puts a short-lived token (``itsdangerous``, signed with ``SECRET_KEY``, its own salt,
``PORTAL_WIDGET_IDENTITY_MINUTES``) carrying the account id and its ``session_version`` into the
widget's options; the widget sends it with every message as metadata; the bot's ticket form
asks the escalation API (``POST /api/v1/identity/verify``, service token) what it stands for.
Only the service can read a token into a name and a verified address: a forged, expired or
altered token, or one of a session that has since signed out, is refused, and the bot asks as
before. The name and e-mail a browser sends in clear (the widget's ``user`` option) are never
trusted for this.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from .errors import ValidationFailed
from .models import CustomerAccount

SALT = "care-widget-identity"


@dataclass(frozen=True)
class Identity:
    customer_id: int
    email: str
    name: str


def _serializer(config: Any) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(config["SECRET_KEY"], salt=SALT)


def issue(config: Any, account: CustomerAccount) -> str:
    """The token for a signed-in, verified customer's widget."""
    return _serializer(config).dumps({"a": account.id, "v": account.session_version})


def check(session: Session, config: Any, token: str) -> Identity:
    """Who ``token`` stands for; ValidationFailed (``identity_invalid``) when it is not a current one."""
    refused = ValidationFailed("This identity is not valid (forged, expired or signed out); ask the customer.",
                               code="identity_invalid")
    try:
        data = _serializer(config).loads(token, max_age=int(config["PORTAL_WIDGET_IDENTITY_MINUTES"]) * 60)
    except (SignatureExpired, BadSignature):
        raise refused from None
    if not (isinstance(data, dict) and isinstance(data.get("a"), int) and isinstance(data.get("v"), int)):
        raise refused
    account = session.get(CustomerAccount, data["a"])
    if account is None or account.verified_at is None or account.session_version != data["v"] \
            or not account.customer.email:
        raise refused
    customer = account.customer
    return Identity(customer_id=customer.id, email=customer.email, name=customer.name or "")
