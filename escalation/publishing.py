"""Save a ticket's fix back into the KB, so the bot answers it next time.

The article is stored in the escalation database (it survives index rebuilds) and upserted
into the live index right after the commit, so it is searchable at once.
"""
from __future__ import annotations

import re
import unicodedata

from sqlalchemy.orm import Session

from . import audit
from .errors import Forbidden, ValidationFailed
from .lifecycle import DONE_STATUSES
from .models import PublishedArticle, Ticket, User


def slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:100] or "article"


def publish(session: Session, ticket: Ticket, agent: User, *, title: str, body: str,
            audience: str = "public") -> PublishedArticle:
    if ticket.assignee_id != agent.id and agent.role != "admin":
        raise Forbidden("Only the assigned agent or an admin can publish this ticket's fix.")
    if ticket.status not in DONE_STATUSES:
        raise ValidationFailed("Resolve the ticket first, then publish its fix.", code="not_resolved")
    article = write(session, agent, title=title, body=body, audience=audience, area=ticket.category,
                    ticket=ticket)
    audit.record(session, ticket, agent.username, "publish_kb", ticket.status, ticket.status, article=article.id)
    return article


def write(session: Session, author: User, *, title: str, body: str, audience: str = "public",
          area: str = "general", ticket: Ticket | None = None) -> PublishedArticle:
    """A new KB article (from a ticket's fix, or from the KB-gap report's draft)."""
    title, body = title.strip(), body.strip()
    if not title or not body:
        raise ValidationFailed("An article needs a title and a body.", details={"fields": ["title", "body"]})
    if audience not in {"public", "employee", "internal"}:
        raise ValidationFailed("Audience is 'public', 'employee' or 'internal'.", details={"field": "audience"})
    slug = base = f"fix-{slugify(title)}"
    n = 2
    while session.get(PublishedArticle, slug) is not None:
        slug, n = f"{base}-{n}", n + 1
    article = PublishedArticle(id=slug, ticket_id=ticket.id if ticket else None, author_id=author.id, title=title,
                               body=body, audience=audience, area=area)
    session.add(article)
    return article
