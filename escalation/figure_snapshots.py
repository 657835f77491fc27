"""Figure snapshots: the slow figures computed by the worker, not in the request.

At 1,000,000 tickets the agents' figures were ~55 ms of every queue request and the 90-day
dashboard 377 ms (bench/bench_tickets_pg.py). On a desk past ``FIGURES_LIVE_TICKETS`` tickets
the pages read these figures from ``figure_snapshots`` (one row), which the worker recomputes
every ``FIGURES_REFRESH_SECONDS``; the page says "as of HH:MM". Below it (a new or demo desk,
a few milliseconds to compute) they are computed in the request, so they are always exact.
A snapshot older than ``STALE_REFRESHES`` refreshes (worker stopped) is recomputed in the request.

The figures themselves are computed in ``dashboard``; this module keeps them (one
``figure_snapshots`` row per key, ``<kind>:<days>``) and serves them to the pages.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .dashboard import COMPLETED_DAYS, AgentFigures, Dashboard, build, period_figures
from .db import db, upsert_insert
from .models import FigureSnapshot, Ticket, utcnow

AGENT_FIGURES_DAYS = COMPLETED_DAYS  # the workload table's and "your figures"' period
SNAPSHOT_DASHBOARD_DAYS = (14, 30, 90)  # the periods the worker keeps ready (others on demand)
STALE_REFRESHES = 5


@dataclass(frozen=True)
class Snapshot:
    """Figures and when they were computed (``None``: in this request, i.e. live)."""
    value: Any
    as_of: datetime | None


def _td(value: timedelta | None) -> int | None:
    return None if value is None else value // timedelta(microseconds=1)


def _untd(value: int | None) -> timedelta | None:
    return None if value is None else timedelta(microseconds=value)


def _dump_dashboard(d: Dashboard) -> dict[str, Any]:
    return {"since": d.since.isoformat(), "by_status": d.by_status, "sla_met": d.sla_met,
            "sla_breached": d.sla_breached, "median_first_response": _td(d.median_first_response),
            "median_resolution": _td(d.median_resolution), "csat_average": d.csat_average,
            "csat_count": d.csat_count, "self_served": d.self_served, "escalated": d.escalated,
            "top_escalations": d.top_escalations,
            "opened_per_day": [(day.isoformat(), n) for day, n in d.opened_per_day],
            "resolved_per_day": [(day.isoformat(), n) for day, n in d.resolved_per_day]}


def _load_dashboard(raw: dict[str, Any]) -> Dashboard:
    return Dashboard(
        since=datetime.fromisoformat(raw["since"]), by_status=dict(raw["by_status"]), sla_met=raw["sla_met"],
        sla_breached=raw["sla_breached"], median_first_response=_untd(raw["median_first_response"]),
        median_resolution=_untd(raw["median_resolution"]), csat_average=raw["csat_average"],
        csat_count=raw["csat_count"], self_served=raw["self_served"], escalated=raw["escalated"],
        top_escalations=[(str(s), int(n)) for s, n in raw["top_escalations"]],
        opened_per_day=[(date.fromisoformat(day), int(n)) for day, n in raw["opened_per_day"]],
        resolved_per_day=[(date.fromisoformat(day), int(n)) for day, n in raw["resolved_per_day"]])


def _dump_agents(figures: dict[int, AgentFigures]) -> dict[str, Any]:
    return {str(a): [f.csat_average, f.csat_count, _td(f.median_first_reply), _td(f.median_resolution),
                     f.completed] for a, f in figures.items()}


def _load_agents(raw: dict[str, Any]) -> dict[int, AgentFigures]:
    return {int(a): AgentFigures(csat, int(n), _untd(first), _untd(resolution), int(completed))
            for a, (csat, n, first, resolution, completed) in raw.items()}


@dataclass(frozen=True)
class SnapshotKind:
    """How the figures of one kind of key (``<kind>:<days>``) are computed, and kept as JSON."""
    compute: Callable[[Session, int, datetime], Any]  # (session, days, now) -> the figures
    dump: Callable[[Any], Any]
    load: Callable[[Any], Any]


# the one place that knows the kinds: a new figure snapshot is a row here, nowhere else
SNAPSHOT_KINDS: dict[str, SnapshotKind] = {
    "dashboard": SnapshotKind(lambda session, days, now: build(session, days=days, now=now),
                              _dump_dashboard, _load_dashboard),
    "agents": SnapshotKind(lambda session, days, now: period_figures(session, now - timedelta(days=days)),
                           _dump_agents, _load_agents),
}


def _kind(key: str) -> tuple[SnapshotKind, int]:
    name, _, days = key.partition(":")
    if name not in SNAPSHOT_KINDS or not days.isdigit():
        raise ValueError(f"no figure snapshot {key!r}: the keys are <kind>:<days>, kind one of "
                         f"{', '.join(SNAPSHOT_KINDS)}")
    return SNAPSHOT_KINDS[name], int(days)


def _compute(session: Session, key: str, now: datetime) -> Any:
    kind, days = _kind(key)
    return kind.compute(session, days, now)


def _dump(key: str, value: Any) -> str:
    return json.dumps(_kind(key)[0].dump(value))


def _load(key: str, payload: str) -> Any:
    return _kind(key)[0].load(json.loads(payload))


def _store(session: Session, key: str, value: Any, computed_at: datetime, took_ms: float) -> None:
    """Insert or replace the snapshot (two processes may write the same key at once)."""
    row = {"key": key, "payload": _dump(key, value), "computed_at": computed_at, "took_ms": took_ms}
    statement = upsert_insert(session, FigureSnapshot).values(**row)
    session.execute(statement.on_conflict_do_update(
        index_elements=["key"], set_={k: statement.excluded[k] for k in ("payload", "computed_at", "took_ms")}))


def refresh(session: Session, key: str, *, now: datetime | None = None) -> Any:
    """Compute the figures of ``key`` (``dashboard:<days>`` or ``agents:<days>``) and store them;
    the caller commits."""
    now = now or utcnow()
    started = time.perf_counter()
    value = _compute(session, key, now)
    _store(session, key, value, now, (time.perf_counter() - started) * 1000)
    return value


def refresh_due(session: Session, *, refresh_seconds: float, now: datetime | None = None) -> list[str]:
    """The worker's pass: recompute the snapshots of the standard periods that are
    ``refresh_seconds`` old; the caller commits. (Another period, e.g. ``?days=120``, is
    computed by the page that asks for it and kept up to ``STALE_REFRESHES`` refreshes.)"""
    now = now or utcnow()
    keys = {f"dashboard:{d}" for d in SNAPSHOT_DASHBOARD_DAYS} | {f"agents:{AGENT_FIGURES_DAYS}"}
    stored = dict(session.execute(select(FigureSnapshot.key, FigureSnapshot.computed_at)
                                  .where(FigureSnapshot.key.in_(keys))).all())
    due = sorted(k for k in keys if k not in stored or stored[k] <= now - timedelta(seconds=refresh_seconds))
    for key in due:
        refresh(session, key, now=now)
    return due


def is_large(session: Session, live_tickets: int) -> bool:
    """Whether the desk is past ``live_tickets`` tickets (its highest id: one index lookup)."""
    return (session.scalar(select(func.max(Ticket.id))) or 0) >= live_tickets


def snapshot(session: Session, key: str, *, live_tickets: int, refresh_seconds: float,
             now: datetime | None = None) -> Snapshot:
    """The figures of ``key``: computed here on a small desk, else the worker's snapshot (computed
    here, and stored, when missing or more than ``STALE_REFRESHES`` refreshes old)."""
    now = now or utcnow()
    if not is_large(session, live_tickets):
        return Snapshot(_compute(session, key, now), None)
    row = session.get(FigureSnapshot, key)
    if row is not None and row.computed_at > now - timedelta(seconds=refresh_seconds * STALE_REFRESHES):
        return Snapshot(_load(key, row.payload), row.computed_at)
    started = time.perf_counter()
    value = _compute(session, key, now)
    try:  # kept for the next page; a page is still shown if it cannot be written (a busy SQLite file)
        _store(session, key, value, now, (time.perf_counter() - started) * 1000)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
    return Snapshot(value, now)


def page_snapshot(key: str) -> Snapshot:
    """The figures of ``key`` for a console page (the admin dashboard and queue, the agent's own
    figures): :func:`snapshot` with the app's ``FIGURES_*`` settings; the page shows ``as_of``."""
    return snapshot(db.session, key, live_tickets=current_app.config["FIGURES_LIVE_TICKETS"],
                    refresh_seconds=current_app.config["FIGURES_REFRESH_SECONDS"])
