"""When a customer can expect a first reply: one computation for the bot, the acknowledgement
e-mail, ``/track`` and the portal.

From the SLA first-response target of the ticket's priority, the unassigned tickets ahead of
it, the agents online now and the recent median first reply; and, when the admin set working
hours (desk setting ``desk_hours``, e.g. ``Mon-Fri 09:00-17:00``, UTC; empty = 24/7), whether
the desk is open now and when it opens. The estimate is never later than the SLA target
(counted from the moment the desk opens when it is closed).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import desk_settings, sla_targets
from .dashboard import _median_duration
from .errors import ValidationFailed
from .models import Ticket, User, utcnow

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOURS = re.compile(r"^\s*(?P<days>[A-Za-z,\- ]+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$")
RECENT = timedelta(days=7)  # the median first reply is taken over this period
MINIMUM = timedelta(minutes=5)


@dataclass(frozen=True)
class DeskHours:
    text: str  # as the admin wrote it, normalised; "" for 24/7
    days: frozenset[int] = frozenset(range(7))
    start: time = time(0, 0)
    end: time | None = None  # None: until midnight

    @property
    def always(self) -> bool:
        return not self.text

    def open_at(self, moment: datetime) -> bool:
        if self.always:
            return True
        t = moment.timetz().replace(tzinfo=None)
        return moment.weekday() in self.days and self.start <= t and (self.end is None or t < self.end)

    def next_open(self, moment: datetime) -> datetime:
        """``moment`` when open, else the next opening."""
        if self.open_at(moment):
            return moment
        for offset in range(8):
            day = (moment + timedelta(days=offset)).replace(hour=self.start.hour, minute=self.start.minute,
                                                            second=0, microsecond=0)
            if day.weekday() in self.days and day > moment:
                return day
        return moment  # no open day at all: treated as always open by parse_hours


def _day(name: str) -> int:
    key = name.strip().lower()[:3]
    if key not in DAYS:
        raise ValidationFailed(f"Unknown day {name.strip()!r}: use Mon, Tue, … Sun.", details={"field": "desk_hours"})
    return DAYS.index(key)


def parse_hours(text: str) -> DeskHours:
    """``""``/``24/7`` → always open; ``Mon-Fri 09:00-17:00``, ``Mon,Wed,Fri 08:00-12:00``,
    ``Daily 10:00-18:00`` (UTC). ValidationFailed with a hint otherwise."""
    text = (text or "").strip()
    if text.lower() in {"", "24/7", "always"}:
        return DeskHours("")
    match = HOURS.match(text)
    if match is None:
        raise ValidationFailed("Write the hours like “Mon-Fri 09:00-17:00” (UTC), or leave it empty for 24/7.",
                               details={"field": "desk_hours"})
    days: set[int] = set()
    for part in match["days"].split(","):
        if part.strip().lower() in {"daily", "every day", "all"}:
            days.update(range(7))
        elif "-" in part:
            first, last = (_day(x) for x in part.split("-", 1))
            days.update(range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)])
        elif part.strip():
            days.add(_day(part))
    try:
        start, end = (time.fromisoformat(f"{int(t.split(':')[0]):02d}:{t.split(':')[1]}")
                      for t in (match["start"], match["end"]))
    except ValueError:
        raise ValidationFailed("Times are HH:MM, 00:00 to 23:59.", details={"field": "desk_hours"}) from None
    if not days or end <= start:
        raise ValidationFailed("The hours must name a day and end after they start.", details={"field": "desk_hours"})
    names = ",".join(DAYS[d].title() for d in sorted(days))
    return DeskHours(f"{names} {start:%H:%M}-{end:%H:%M}", frozenset(days), start, end)


def desk_hours(session: Session) -> DeskHours:
    try:
        return parse_hours(str(desk_settings.get(session, "desk_hours") or ""))
    except ValidationFailed:
        return DeskHours("")  # a stored value that no longer parses never blocks a ticket


@dataclass(frozen=True)
class ExpectedWait:
    target: timedelta  # the SLA first-response target
    queue_ahead: int  # unassigned tickets waiting longer than this one
    agents_online: int
    open_now: bool
    opens_at: datetime | None  # when the desk opens, if closed now
    estimate: timedelta  # from now (or from opening) to the expected first reply
    hours: str  # the working hours as text, "" for 24/7

    def sentence(self) -> str:
        """What the customer reads."""
        if not self.open_now and self.opens_at is not None:
            return (f"We are outside working hours ({self.hours} UTC) now. We open {self.opens_at:%A %H:%M} UTC "
                    f"and aim to reply within {_words(self.target)} of opening.")
        ahead = f"{self.queue_ahead} request{'s' if self.queue_ahead != 1 else ''} ahead of yours"
        if self.agents_online == 0:
            return f"No agent is online right now ({ahead}); we reply within {_words(self.target)}."
        agents = f"{self.agents_online} agent{'s' if self.agents_online != 1 else ''} online now"
        return f"Expect a first reply within about {_words(self.estimate)}: {ahead}, {agents}."

    def as_json(self) -> dict[str, Any]:
        return {"target_minutes": int(self.target.total_seconds() // 60), "queue_ahead": self.queue_ahead,
                "agents_online": self.agents_online, "open_now": self.open_now,
                "opens_at": self.opens_at.isoformat() if self.opens_at else None,
                "estimate_minutes": int(self.estimate.total_seconds() // 60), "text": self.sentence()}


def _words(delta: timedelta) -> str:
    minutes = max(int(round(delta.total_seconds() / 60)), 1)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60, 1)
    shown = f"{hours:g}"
    return f"{shown} hour{'s' if shown != '1' else ''}"


def _median_first_reply(session: Session, now: datetime) -> timedelta | None:
    return _median_duration(session, Ticket.first_response_at, now - RECENT)


def estimate(session: Session, *, priority: str, created_at: datetime | None = None,
             now: datetime | None = None) -> ExpectedWait:
    """The expected wait for a (new) ticket of ``priority`` opened at ``created_at``."""
    now = now or utcnow()
    created_at = created_at or now
    target = timedelta(minutes=sla_targets.policy(session, priority)[0])
    ahead = session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.status == "new", Ticket.assignee_id.is_(None), Ticket.created_at < created_at)) or 0
    online = session.scalar(select(func.count()).select_from(User).where(
        User.role == "agent", User.active.is_(True), User.presence == "online")) or 0
    hours = desk_hours(session)
    open_now = hours.open_at(now)
    if online:
        typical = _median_first_reply(session, now) or target / 4
        guess = max(MINIMUM, typical * (1 + ahead / online))
    else:
        guess = target
    return ExpectedWait(target=target, queue_ahead=int(ahead), agents_online=int(online), open_now=open_now,
                        opens_at=None if open_now else hours.next_open(now), estimate=min(guess, target),
                        hours=hours.text)


def for_ticket(session: Session, ticket: Ticket, now: datetime | None = None) -> ExpectedWait:
    return estimate(session, priority=ticket.priority, created_at=ticket.created_at, now=now)
