"""Customer accounts: register once, verify the address, sign in, reset, sign out.

One service function per use case; the portal's routes only call these. Rules:

- **No enumeration.** :func:`register`, :func:`request_link` and :func:`request_reset` answer
  the same (``None``) whether the address is known or not; what differs is only the mail the
  address's owner receives. :func:`authenticate` does the same hashing work for an unknown
  address as for a known one.
- **Links work once and expire.** Every e-mailed link is signed (``itsdangerous``, salted per
  purpose, with ``SECRET_KEY``), carries the account id and its ``link_nonce`` and is refused
  after its max age; using a link changes the nonce, so the link (and any other still-unused
  one) is dead afterwards.
- **Signing out really ends the session.** The session cookie holds the account id and its
  ``session_version``; :func:`session_account` refuses a cookie whose version is not the
  current one, and :func:`sign_out` (and a password reset) increments it.
- Passwords: werkzeug's ``generate_password_hash`` (scrypt, memory-hard), as for staff.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .. import audit
from ..errors import ValidationFailed
from ..models import Customer, CustomerAccount, Ticket, utcnow
from ..tickets import find_or_create_customer

PURPOSES = ("verify", "sign_in", "reset", "erase")
MIN_PASSWORD = 10
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class LinkRefused(ValidationFailed):
    """An e-mailed link that is forged, expired, already used or for another purpose."""

    code = "link_refused"


@dataclass(frozen=True)
class LinkSettings:
    secret_key: str
    max_age: dict[str, int]  # purpose -> seconds


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254 or any(c.isspace() for c in email):
        raise ValidationFailed("Enter your e-mail address, like laura@example.com.", details={"field": "email"})
    return email


def check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise ValidationFailed(f"Choose a password of at least {MIN_PASSWORD} characters.",
                               details={"field": "password"})
    if len(password) > 200:
        raise ValidationFailed("That password is longer than 200 characters.", details={"field": "password"})


def _audit(session: Session, account: CustomerAccount, action: str, **details: object) -> None:
    # by customer id, never by address (as escalation.privacy does)
    audit.record(session, None, f"customer:{account.customer_id}", action, **details)


def find(session: Session, email: str) -> CustomerAccount | None:
    return session.scalar(select(CustomerAccount).join(Customer).where(Customer.email == email))


# ---- e-mailed links ------------------------------------------------------------------------

def make_link_token(settings: LinkSettings, account: CustomerAccount, purpose: str) -> str:
    serializer = URLSafeTimedSerializer(settings.secret_key, salt=f"care-portal-{purpose}")
    return serializer.dumps([account.id, account.link_nonce])


def use_link(session: Session, settings: LinkSettings, token: str, purpose: str) -> CustomerAccount:
    """The account a link is for; the link (and every other unused one) stops working."""
    serializer = URLSafeTimedSerializer(settings.secret_key, salt=f"care-portal-{purpose}")
    try:
        account_id, nonce = serializer.loads(token, max_age=settings.max_age[purpose])
    except SignatureExpired:
        raise LinkRefused("This link has expired. Ask for a new one below.") from None
    except (BadSignature, ValueError, TypeError):
        raise LinkRefused("This link is not valid. Ask for a new one below.") from None
    account = session.get(CustomerAccount, account_id) if isinstance(account_id, int) else None
    if account is None or not isinstance(nonce, str) or not secrets.compare_digest(account.link_nonce, nonce):
        raise LinkRefused("This link was already used or replaced. Ask for a new one below.")
    account.link_nonce = secrets.token_hex(16)
    return account


# ---- use cases ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Registration:
    """What :func:`register` did, for the mail to send; the page shows the same either way."""

    account: CustomerAccount
    already_verified: bool


def register(session: Session, *, name: str, email: str, password: str) -> Registration:
    """Register ``email``. A verified account is left alone (its owner gets a "you already have
    an account" mail); an unverified one takes the new name and password (whoever can read
    the verification mail decides)."""
    email = normalise_email(email)
    check_password(password)
    name = (name or "").strip()[:120]
    if not name:
        raise ValidationFailed("Tell us your name.", details={"field": "name"})
    password_hash = generate_password_hash(password)  # always: the time taken tells nothing either
    account = find(session, email)
    if account is not None and account.verified_at is not None:
        return Registration(account, already_verified=True)
    if account is None:
        customer = find_or_create_customer(session, "", email)
        if not customer.name:
            customer.name = name
        account = CustomerAccount(customer=customer, customer_id=customer.id, password_hash=password_hash,
                                  session_version=1, link_nonce=secrets.token_hex(16))
        session.add(account)
        session.flush()
        _audit(session, account, "portal_register")
    else:
        account.password_hash = password_hash
        account.link_nonce = secrets.token_hex(16)  # earlier verification links stop working
        if not _has_tickets(session, account):  # an unproven owner never renames a ticket's customer
            account.customer.name = name
    return Registration(account, already_verified=False)


def _has_tickets(session: Session, account: CustomerAccount) -> bool:
    return session.scalar(select(Ticket.id).where(Ticket.customer_id == account.customer_id).limit(1)) is not None


def verify(session: Session, settings: LinkSettings, token: str) -> CustomerAccount:
    account = use_link(session, settings, token, "verify")
    if account.verified_at is None:
        account.verified_at = utcnow()
        _audit(session, account, "portal_verify")
    return account


def authenticate(session: Session, email: str, password: str) -> CustomerAccount | None:
    """The verified account for this address and password, else None (same work either way)."""
    try:
        email = normalise_email(email)
    except ValidationFailed:
        email = ""
    account = find(session, email) if email else None
    if account is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(account.password_hash, password or "") or account.verified_at is None:
        return None
    return account


def unverified_with_password(session: Session, email: str, password: str) -> CustomerAccount | None:
    """An account whose owner knows the password but has not verified yet (to resend the link)."""
    try:
        account = find(session, normalise_email(email))
    except ValidationFailed:
        return None
    if account is None or account.verified_at is not None:
        return None
    return account if check_password_hash(account.password_hash, password or "") else None


def signed_in(session: Session, account: CustomerAccount, how: str) -> tuple[int, int]:
    """Record a sign-in; returns what goes in the session cookie: (account id, session version)."""
    account.last_sign_in_at = utcnow()
    _audit(session, account, "portal_sign_in", method=how)
    return account.id, account.session_version


def session_account(session: Session, value: object) -> CustomerAccount | None:
    """The account a session cookie's value stands for, if that session is still current."""
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        return None
    account = session.get(CustomerAccount, value[0])
    if account is None or account.verified_at is None or account.session_version != value[1]:
        return None
    return account


def sign_out(session: Session, account: CustomerAccount) -> None:
    """End every session of this account (this browser's and any copy of its cookie)."""
    account.session_version += 1
    _audit(session, account, "portal_sign_out")


def request_link(session: Session, email: str) -> CustomerAccount | None:
    """The verified account to mail a one-time sign-in link to, if any (the caller says the same
    thing either way)."""
    try:
        account = find(session, normalise_email(email))
    except ValidationFailed:
        return None
    return account if account is not None and account.verified_at is not None else None


def reset_password(session: Session, settings: LinkSettings, token: str, password: str) -> CustomerAccount:
    check_password(password)
    account = use_link(session, settings, token, "reset")
    account.password_hash = generate_password_hash(password)
    if account.verified_at is None:
        account.verified_at = utcnow()  # the link came to this address: it is verified now
    account.session_version += 1  # signed out everywhere else
    _audit(session, account, "portal_password_reset")
    return account
