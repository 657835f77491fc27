"""Canned responses: saved replies an agent inserts into the reply box.

Admins manage them at ``/admin/canned``. A body may use three placeholders —
``{{ customer_name }}``, ``{{ ticket_number }}`` and ``{{ agent_name }}`` — which are filled
in by plain text substitution (:func:`fill`), never by running a template, so a response
cannot reach anything but those three values. Unknown placeholders are refused on save.
The filled text goes into the reply box; the agent can edit it before sending, and what is
sent is what was seen.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from . import audit
from .errors import NotFound, ValidationFailed
from .models import CannedResponse, Ticket, User, utcnow
from .triage import CATEGORIES

PLACEHOLDERS: dict[str, str] = {
    "customer_name": "the customer's name (\"there\" when we do not know it)",
    "ticket_number": "the ticket number, e.g. CR-10042",
    "agent_name": "your name, as the customer sees it",
}
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
MAX_TITLE, MAX_BODY = 120, 10_000

DEMO_RESPONSES: tuple[tuple[str, str | None, str], ...] = (
    ("Greeting", None,
     "Hello {{ customer_name }},\n\nthank you for your patience. I'm {{ agent_name }} and I'm looking "
     "into ticket {{ ticket_number }} now."),
    ("Password reset link", "account-access",
     "Hello {{ customer_name }},\n\nI've sent a new password reset link to the e-mail address on your "
     "account. It works for 30 minutes; if it does not arrive, check your spam folder and reply here."),
    ("Refund under way", "returns-refunds",
     "Hello {{ customer_name }},\n\nyour refund is on its way. It usually shows on your statement within "
     "5 to 10 working days. Quote {{ ticket_number }} if you ask your bank about it."),
    ("Need more details", None,
     "Hello {{ customer_name }},\n\nto help you further I need a little more information: what did you "
     "do just before the problem, and what exactly did you see? A screenshot helps too.\n\n"
     "{{ agent_name }}"),
)


class CannedRefused(ValidationFailed):
    """A response that cannot be saved; ``errors`` maps a form field to what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("The canned response was not saved: " + "; ".join(errors.values()),
                         details={"fields": errors})
        self.errors = errors


@dataclass(frozen=True)
class Draft:
    title: str
    body: str
    category: str | None

    @classmethod
    def of(cls, title: str, body: str, category: str | None) -> Draft:
        return cls(title=(title or "").strip(), body=(body or "").replace("\r\n", "\n").strip(),
                   category=(category or "").strip() or None)


def unknown_placeholders(body: str) -> list[str]:
    return sorted({m.group(1) for m in PLACEHOLDER.finditer(body) if m.group(1) not in PLACEHOLDERS})


def validate(session: Session, draft: Draft, *, current_id: int | None = None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not draft.title:
        errors["title"] = "Give the response a title: agents pick it by its title."
    elif len(draft.title) > MAX_TITLE:
        errors["title"] = f"The title is too long ({len(draft.title)} characters, at most {MAX_TITLE})."
    else:
        clash = session.scalar(select(CannedResponse.id).where(
            func.lower(CannedResponse.title) == draft.title.lower(),
            CannedResponse.id != (current_id or 0)))
        if clash is not None:
            errors["title"] = f"There already is a response called “{draft.title}”. Choose another title."
    if not draft.body:
        errors["body"] = "Write the text of the response."
    elif len(draft.body) > MAX_BODY:
        errors["body"] = f"The text is too long ({len(draft.body)} characters, at most {MAX_BODY})."
    else:
        unknown = unknown_placeholders(draft.body)
        if unknown:
            errors["body"] = ("Unknown placeholder " + ", ".join("{{ %s }}" % u for u in unknown)
                              + "; use " + ", ".join("{{ %s }}" % p for p in PLACEHOLDERS) + ".")
    if draft.category is not None and draft.category not in CATEGORIES:
        errors["category"] = f"Choose a category from the list ({', '.join(CATEGORIES)}) or none."
    return errors


def listing(session: Session) -> list[CannedResponse]:
    return list(session.scalars(select(CannedResponse).order_by(func.lower(CannedResponse.title))))


def get(session: Session, response_id: int) -> CannedResponse:
    row = session.get(CannedResponse, response_id)
    if row is None:
        raise NotFound("That canned response does not exist (any more). Pick one from the list.",
                       code="canned_not_found", details={"id": response_id})
    return row


def _audit(session: Session, actor: str, action: str, **details: object) -> None:
    audit.record(session, None, actor, action, **details)


def create(session: Session, draft: Draft, actor: str) -> CannedResponse:
    errors = validate(session, draft)
    if errors:
        raise CannedRefused(errors)
    row = CannedResponse(title=draft.title, body=draft.body, category=draft.category, updated_at=utcnow(),
                         updated_by=actor)
    session.add(row)
    session.flush()
    _audit(session, actor, "canned_create", id=row.id, title=row.title)
    return row


def update(session: Session, response_id: int, draft: Draft, actor: str) -> CannedResponse:
    row = get(session, response_id)
    errors = validate(session, draft, current_id=row.id)
    if errors:
        raise CannedRefused(errors)
    previous = {"title": row.title, "body": row.body, "category": row.category}
    row.title, row.body, row.category = draft.title, draft.body, draft.category
    row.updated_at, row.updated_by = utcnow(), actor
    _audit(session, actor, "canned_update", id=row.id, previous=previous)
    session.flush()
    return row


def delete(session: Session, response_id: int, actor: str) -> str:
    row = get(session, response_id)
    title = row.title
    _audit(session, actor, "canned_delete", id=row.id, previous={"title": row.title, "body": row.body,
                                                                  "category": row.category})
    session.delete(row)
    session.flush()
    return title


def values_for(ticket: Ticket, agent: User) -> dict[str, str]:
    customer = ticket.customer_name
    return {"customer_name": customer.strip() or "there", "ticket_number": ticket.number,
            "agent_name": agent.name}


def fill(body: str, values: dict[str, str]) -> str:
    """Replace the known placeholders by their values: plain text, nothing is evaluated."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), body)


@dataclass(frozen=True)
class Filled:
    id: int
    title: str
    category: str | None
    text: str


def for_ticket(session: Session, ticket: Ticket, agent: User) -> list[Filled]:
    """Every response filled in for ``ticket``; those for its category first."""
    values = values_for(ticket, agent)
    rows = session.scalars(select(CannedResponse).order_by(
        case((CannedResponse.category == ticket.category, 0), else_=1), func.lower(CannedResponse.title)))
    return [Filled(r.id, r.title, r.category, fill(r.body, values)) for r in rows]


def filled(session: Session, response_id: int, ticket: Ticket, agent: User) -> str:
    return fill(get(session, response_id).body, values_for(ticket, agent))


def seed_demo(session: Session, actor: str = "demo") -> list[str]:
    """Add the demo responses that are missing (by title); returns the titles added."""
    added = []
    for title, category, body in DEMO_RESPONSES:
        if session.scalar(select(CannedResponse.id).where(CannedResponse.title == title)) is None:
            session.add(CannedResponse(title=title, body=body, category=category, updated_at=utcnow(),
                                       updated_by=actor))
            added.append(title)
    session.flush()
    return added
