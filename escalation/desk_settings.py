"""Help-desk switches the admin flips at run time (``/admin/settings``), kept in ``desk_settings``.

Values are stored as JSON text, so the web processes and the worker all read the same
value; every change is audited with its old and new value.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from . import audit
from .errors import ValidationFailed
from .models import DeskSetting, utcnow


@dataclass(frozen=True)
class Switch:
    """A switch of the running desk, stored in the database (not a process setting: those are
    :class:`care_settings.Setting`, read once from the environment)."""

    label: str
    help: str
    default: Any


SETTINGS: dict[str, Switch] = {
    "auto_assign": Switch(
        "Assign new tickets automatically",
        "Each new ticket goes to the best available agent: online, below capacity, the right skills "
        "preferred, the least loaded first. Tickets nobody could take are retried on every worker pass.",
        False),
    "desk_hours": Switch(
        "Working hours",
        "When the desk answers (UTC), e.g. \"Mon-Fri 09:00-17:00\"; empty: 24/7. Customers are told the "
        "expected wait, or that the desk is closed and when it opens (set at /admin/notifications).",
        ""),
}


def get(session: Session, key: str) -> Any:
    if key not in SETTINGS:
        raise KeyError(key)
    row = session.get(DeskSetting, key)
    if row is None:
        return SETTINGS[key].default
    try:
        return json.loads(row.value)
    except ValueError:
        return SETTINGS[key].default


def set_value(session: Session, key: str, value: Any, actor: str) -> bool:
    """Store ``value``; audited. Returns False when it already had that value."""
    if key not in SETTINGS:
        raise ValidationFailed(f"There is no desk setting {key!r}.", code="unknown_setting",
                               details={"key": key, "known": sorted(SETTINGS)})
    if isinstance(SETTINGS[key].default, bool) and not isinstance(value, bool):
        raise ValidationFailed(f"{SETTINGS[key].label} is on or off.", details={"key": key})
    if isinstance(SETTINGS[key].default, str) and not isinstance(value, str):
        raise ValidationFailed(f"{SETTINGS[key].label} is text.", details={"key": key})
    before = get(session, key)
    if before == value:
        return False
    row = session.get(DeskSetting, key)
    if row is None:
        row = DeskSetting(key=key)
        session.add(row)
    row.value, row.updated_at, row.updated_by = json.dumps(value), utcnow(), actor
    audit.record(session, None, actor, "desk_setting", **{"key": key, "from": before, "to": value})
    session.flush()
    return True


def auto_assign(session: Session) -> bool:
    return bool(get(session, "auto_assign"))


def listing(session: Session) -> list[dict[str, Any]]:
    return [{"key": key, "setting": s, "value": get(session, key), "row": session.get(DeskSetting, key)}
            for key, s in SETTINGS.items()]
