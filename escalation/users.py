"""Console users: creation, password checks, presence and the demo accounts."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cache

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from . import audit
from .errors import ValidationFailed
from .models import PRESENCES, ROLES, User


MIN_PASSWORD = 8


def _check_password_length(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(f"Passwords need at least {MIN_PASSWORD} characters.", details={"field": "password"})


def create_user(session: Session, *, username: str, name: str, email: str, role: str, password: str,
                skills: list[str] | None = None, capacity: int = 5) -> User:
    if role not in ROLES:
        raise ValidationFailed(f"Role must be one of {', '.join(ROLES)}.", details={"role": role})
    _check_password_length(password)
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ValidationFailed(f"The username {username!r} is taken.", details={"field": "username"})
    # werkzeug's default is scrypt, a memory-hard KDF
    user = User(username=username, name=name, email=email, role=role,
                password_hash=generate_password_hash(password), skills=skills or [], capacity=capacity)
    session.add(user)
    return user


@cache
def _dummy_hash() -> str:
    """A hash of a random password, made once per process with the default method (the one
    every user's hash is made with), for :func:`authenticate` to check unknown users against."""
    return generate_password_hash(secrets.token_urlsafe(16))


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, else None.

    Exactly one password hash is computed whether the username exists or not (and whether
    the password is right), so the response time does not tell which usernames exist.
    """
    user = session.scalar(select(User).where(User.username == username.strip()))
    matches = check_password_hash(user.password_hash if user is not None else _dummy_hash(), password)
    return user if user is not None and user.active and matches else None


def end_sessions(session: Session, user: User) -> None:
    """Every console session of ``user`` stops working (logout, password change): they name
    the old ``session_version`` (:func:`escalation.auth.load_user`)."""
    session.execute(update(User).where(User.id == user.id)
                    .values(session_version=User.session_version + 1))
    session.refresh(user, ["session_version"])


def set_password(session: Session, user: User, password: str) -> None:
    """A new password for ``user``; every session they had is ended."""
    _check_password_length(password)
    user.password_hash = generate_password_hash(password)
    end_sessions(session, user)
    audit.record(session, None, user.username, "password_change")


PRESENCE_HELP = {
    "online": "taking tickets: automatic assignment and the admin's list prefer you",
    "away": "back soon: you keep your tickets, automatic assignment skips you",
    "offline": "not working: automatic assignment skips you",
}


def set_presence(session: Session, user: User, presence: str) -> bool:
    """An agent (or admin) says whether they are online, away or offline; False when unchanged.

    Assignment ranks by it (:mod:`escalation.assignment`): only online agents get tickets
    automatically.
    """
    presence = (presence or "").strip()
    if presence not in PRESENCES:
        raise ValidationFailed(f"Presence is one of {', '.join(PRESENCES)}.",
                               details={"field": "presence", "allowed": list(PRESENCES)})
    if user.presence == presence:
        return False
    audit.record(session, None, user.username, "presence", **{"from": user.presence, "to": presence})
    user.presence = presence
    return True


@dataclass(frozen=True)
class DemoAccount:
    username: str
    name: str
    role: str
    skills: tuple[str, ...]


DEMO_ACCOUNTS = (
    DemoAccount("kim", "Kim Admin", "admin", ()),
    DemoAccount("tim", "Tim Agent", "agent", ("account-access", "technical", "general")),
    DemoAccount("terrence", "Terrence Agent", "agent", ("billing", "orders-delivery", "returns-refunds")),
)


def seed_demo_users(session: Session, password: str | None = None) -> dict[str, str]:
    """Create the demo admin and agents if missing; returns {username: password} of those created."""
    created: dict[str, str] = {}
    for account in DEMO_ACCOUNTS:
        if session.scalar(select(User).where(User.username == account.username)) is not None:
            continue
        secret = password or secrets.token_urlsafe(9)
        create_user(session, username=account.username, name=account.name,
                    email=f"{account.username}@support.example.com", role=account.role,
                    password=secret, skills=list(account.skills))
        created[account.username] = secret
    return created
