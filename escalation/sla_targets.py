"""SLA targets: the first-response and resolution minutes of each priority (the admin's rows in
``sla_policies``, else the defaults). A leaf module: what only needs a target (the expected
wait) reads it here without the SLA clocks and their admin notices."""
from __future__ import annotations

from sqlalchemy.orm import Session

from .models import SlaPolicy

DEFAULT_POLICIES = {  # priority: (first response, resolution) in minutes
    "urgent": (15, 4 * 60),
    "high": (60, 8 * 60),
    "normal": (4 * 60, 24 * 60),
    "low": (8 * 60, 72 * 60),
}


def policy(session: Session, priority: str) -> tuple[int, int]:
    """(first response, resolution) minutes for ``priority``."""
    row = session.get(SlaPolicy, priority)
    return (row.first_response_minutes, row.resolution_minutes) if row else DEFAULT_POLICIES[priority]
