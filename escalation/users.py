"""Console users: creation, password checks, presence and the demo accounts."""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .errors import ValidationFailed
from .models import PRESENCES, ROLES, AuditEntry, User


def create_user(session: Session, *, username: str, name: str, email: str, role: str, password: str,
                skills: list[str] | None = None, capacity: int = 5) -> User:
    if role not in ROLES:
        raise ValidationFailed(f"Role must be one of {', '.join(ROLES)}.", details={"role": role})
    if len(password) < 8:
        raise ValidationFailed("Passwords need at least 8 characters.", details={"field": "password"})
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ValidationFailed(f"The username {username!r} is taken.", details={"field": "username"})
    # werkzeug's default is scrypt, a memory-hard KDF
    user = User(username=username, name=name, email=email, role=role,
                password_hash=generate_password_hash(password), skills=skills or [], capacity=capacity)
    session.add(user)
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.active:
        # same work for unknown users, so response time does not reveal them
        check_password_hash(generate_password_hash("x"), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


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
    session.add(AuditEntry(ticket_id=None, actor=user.username, action="presence", from_status=None,
                           to_status=None, details={"from": user.presence, "to": presence}))
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
