"""The audit log: who changed what on a ticket, and when. One helper, so every entry has the
same shape whichever use case writes it."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .models import AuditEntry, Ticket


def record(session: Session, ticket: Ticket | None, actor: str, action: str,
           from_status: str | None = None, to_status: str | None = None, **details: Any) -> AuditEntry:
    entry = AuditEntry(ticket_id=ticket.id if ticket is not None else None, actor=actor, action=action,
                       from_status=from_status, to_status=to_status, details=details)
    session.add(entry)
    return entry
