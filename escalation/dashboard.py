"""Dashboard figures, each one aggregate query (indexes on status, created_at, resolved_at;
see migration 0008 and ``bench/bench_tickets_pg.py``, which times each query on 1M tickets).

Durations are medians over the period (on PostgreSQL computed in the database with
``percentile_cont``, so tens of thousands of rows do not travel to Python); the chart series
are per day. The pages read the slow ones through ``figure_snapshots`` (on a large desk, the
worker's copy).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .lifecycle import DONE_STATUSES, OPEN_STATUSES
from .models import STATUSES, BotOutcome, Survey, Ticket, User, utcnow

MAX_DAYS = 366  # the longest period the dashboard shows (one bar a day)
SAMPLE_LIMIT = 50_000  # durations are medians over at most this many recent tickets


@dataclass(frozen=True)
class Dashboard:
    since: datetime
    by_status: dict[str, int]
    sla_met: int
    sla_breached: int
    median_first_response: timedelta | None
    median_resolution: timedelta | None
    csat_average: float | None
    csat_count: int
    self_served: int
    escalated: int
    top_escalations: list[tuple[str, int]]
    opened_per_day: list[tuple[date, int]]
    resolved_per_day: list[tuple[date, int]]

    @property
    def sla_compliance(self) -> float | None:
        total = self.sla_met + self.sla_breached
        return self.sla_met / total if total else None

    @property
    def self_service_rate(self) -> float | None:
        total = self.self_served + self.escalated
        return self.self_served / total if total else None


def _median(pairs: list[tuple[datetime, datetime]]) -> timedelta | None:
    seconds = [(end - start).total_seconds() for start, end in pairs if start and end]
    return timedelta(seconds=statistics.median(seconds)) if seconds else None


def _median_duration(session: Session, end, since: datetime) -> timedelta | None:  # type: ignore[no-untyped-def]
    """Median of ``end - created_at`` over the ``SAMPLE_LIMIT`` most recent tickets since ``since``."""
    recent = (select(Ticket.created_at.label("start"), end.label("end"))
              .where(Ticket.created_at >= since, end.is_not(None))
              .order_by(Ticket.created_at.desc()).limit(SAMPLE_LIMIT))
    if session.get_bind().dialect.name != "postgresql":
        return _median(list(session.execute(recent).all()))
    sample = recent.subquery()
    seconds = session.scalar(select(func.percentile_cont(0.5).within_group(
        func.extract("epoch", sample.c.end - sample.c.start))))
    return timedelta(seconds=float(seconds)) if seconds is not None else None


def _per_day(session: Session, column, since: datetime, days: int) -> list[tuple[date, int]]:  # type: ignore[no-untyped-def]
    day = func.date(column)
    rows = dict(session.execute(select(day, func.count()).where(column >= since).group_by(day)).all())
    start = since.date()
    return [(start + timedelta(days=i), int(rows.get(str(start + timedelta(days=i)),
                                                     rows.get(start + timedelta(days=i), 0))))
            for i in range(days)]


def build(session: Session, days: int = 14, now: datetime | None = None) -> Dashboard:
    now = now or utcnow()
    since = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    by_status = dict.fromkeys(STATUSES, 0)
    by_status.update(dict(session.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all()))
    sla = dict(session.execute(select(Ticket.sla_state, func.count()).where(Ticket.created_at >= since)
                               .group_by(Ticket.sla_state)).all())
    csat_avg, csat_count = session.execute(select(func.avg(Survey.rating), func.count(Survey.id))
                                           .where(Survey.created_at >= since)).one()
    self_served = session.scalar(select(func.count()).select_from(BotOutcome)
                                 .where(BotOutcome.outcome == "self_served", BotOutcome.created_at >= since)) or 0
    escalated = session.scalar(select(func.count()).select_from(Ticket)
                               .where(Ticket.channel == "web_chat", Ticket.created_at >= since)) or 0
    subject = func.lower(Ticket.subject)
    top = session.execute(select(subject, func.count()).where(Ticket.created_at >= since)
                          .group_by(subject).order_by(func.count().desc()).limit(10)).all()
    return Dashboard(
        since=since, by_status=by_status, sla_met=int(sla.get("met", 0)) + int(sla.get("ok", 0)),
        sla_breached=int(sla.get("breached", 0)),
        median_first_response=_median_duration(session, Ticket.first_response_at, since),
        median_resolution=_median_duration(session, Ticket.resolved_at, since),
        csat_average=float(csat_avg) if csat_avg is not None else None, csat_count=int(csat_count),
        self_served=int(self_served), escalated=int(escalated),
        top_escalations=[(str(s), int(c)) for s, c in top],
        opened_per_day=_per_day(session, Ticket.created_at, since, days),
        resolved_per_day=_per_day(session, Ticket.resolved_at, since, days),
    )


def bars(series: list[tuple[date, int]], width: int = 420, height: int = 120) -> list[dict[str, object]]:
    """Bar geometry for an inline SVG chart (no script needed, so the console CSP stays strict)."""
    peak = max((n for _, n in series), default=0) or 1
    step = width / max(len(series), 1)
    return [{"x": round(i * step + 2, 1), "w": round(step - 4, 1), "h": round(n / peak * (height - 20), 1),
             "y": round(height - 16 - n / peak * (height - 20), 1), "n": n, "day": d.strftime("%d %b")}
            for i, (d, n) in enumerate(series)]


# --- per agent: satisfaction and speed; the customers' comments ---------------------------

@dataclass(frozen=True)
class AgentFigures:
    csat_average: float | None
    csat_count: int
    median_first_reply: timedelta | None
    median_resolution: timedelta | None
    completed: int = 0  # tickets resolved in the period (``period_figures``; the workload table)


NO_FIGURES = AgentFigures(None, 0, None, None)


def agent_figures(session: Session, since: datetime, agent_id: int | None = None) -> dict[int, AgentFigures]:
    """Each agent's CSAT (ratings of their tickets), median first reply and median resolution
    (from the ticket's creation) over the tickets created since ``since``; one agent with
    ``agent_id``. Two grouped queries, medians over at most ``SAMPLE_LIMIT`` recent tickets
    (on PostgreSQL computed in the database: the sample never travels to Python)."""
    # the rated ticket's agent, looked up per rating by primary key: a join let the planner
    # hash every assigned ticket (a sequential scan of the table, ~400 ms at 1M tickets)
    agent = select(Ticket.assignee_id).where(Ticket.id == Survey.ticket_id).scalar_subquery()
    rated = select(agent.label("agent"), Survey.rating, Survey.id).where(Survey.created_at >= since).subquery()
    # grouped as is, the unassigned dropped below: a WHERE on the agent evaluated the lookup again
    csat_query = select(rated.c.agent, func.avg(rated.c.rating), func.count(rated.c.id)).group_by(rated.c.agent)
    times_query = (select(Ticket.assignee_id, Ticket.created_at, Ticket.first_response_at, Ticket.resolved_at)
                   .where(Ticket.created_at >= since, Ticket.assignee_id.is_not(None))
                   .order_by(Ticket.created_at.desc()).limit(SAMPLE_LIMIT))
    if agent_id is not None:
        times_query = times_query.where(Ticket.assignee_id == agent_id)
    csat = {a: (float(avg), int(n)) for a, avg, n in session.execute(csat_query).all()
            if a is not None and agent_id in (None, a)}
    if session.get_bind().dialect.name == "postgresql":
        sample = times_query.subquery()

        def median(end):  # type: ignore[no-untyped-def]
            return func.percentile_cont(0.5).within_group(func.extract("epoch", end - sample.c.created_at))

        medians = {a: (first, resolution) for a, first, resolution in session.execute(
            select(sample.c.assignee_id, median(sample.c.first_response_at), median(sample.c.resolved_at))
            .group_by(sample.c.assignee_id)).all()}
        seconds = {a: tuple(None if v is None else timedelta(seconds=float(v)) for v in pair)
                   for a, pair in medians.items()}
    else:
        first: dict[int, list[tuple[datetime, datetime]]] = {}
        resolution: dict[int, list[tuple[datetime, datetime]]] = {}
        for who, created, responded, resolved in session.execute(times_query).all():
            if responded is not None:
                first.setdefault(who, []).append((created, responded))
            if resolved is not None:
                resolution.setdefault(who, []).append((created, resolved))
        seconds = {a: (_median(first.get(a, [])), _median(resolution.get(a, []))) for a in set(first) | set(resolution)}
    agents = set(csat) | {a for a, pair in seconds.items() if pair != (None, None)}
    return {a: AgentFigures(csat_average=csat.get(a, (None, 0))[0], csat_count=csat.get(a, (None, 0))[1],
                            median_first_reply=seconds.get(a, (None, None))[0],
                            median_resolution=seconds.get(a, (None, None))[1]) for a in agents}


@dataclass(frozen=True)
class Comment:
    number: str
    agent_name: str
    rating: int
    comment: str
    created_at: datetime


def latest_comments(session: Session, limit: int = 20) -> list[Comment]:
    """The customers' survey comments, latest first, with the ticket and its agent."""
    rows = session.execute(select(Ticket.number, User.name, Survey.rating, Survey.comment, Survey.created_at)
                           .join(Ticket, Ticket.id == Survey.ticket_id)
                           .outerjoin(User, User.id == Ticket.assignee_id)
                           .where(Survey.comment != "").order_by(Survey.created_at.desc(), Survey.id.desc())
                           .limit(limit)).all()
    return [Comment(number, agent or "", rating, comment, created) for number, agent, rating, comment, created in rows]


COMPLETED_DAYS = 30  # the workload table's "completed" counts tickets resolved this many days back


def agents(session: Session, *, active_only: bool = False) -> list[User]:
    """The agents by name (the queue's assignee filter, the workload table, the assign form)."""
    query = select(User).where(User.role == "agent").order_by(User.name)
    return list(session.scalars(query.where(User.active.is_(True)) if active_only else query))


def completed_counts(session: Session, since: datetime) -> dict[int, int]:
    """Per agent: the tickets resolved (and still resolved or closed) since ``since``."""
    return {a: int(n) for a, n in session.execute(
        select(Ticket.assignee_id, func.count())
        .where(Ticket.resolved_at >= since, Ticket.assignee_id.is_not(None), Ticket.status.in_(DONE_STATUSES))
        .group_by(Ticket.assignee_id)).all()}


def period_figures(session: Session, since: datetime) -> dict[int, AgentFigures]:
    """Every agent's figures since ``since`` (``agent_figures``) with their completed count: what
    the workload table and "your figures" show, and what the ``agents:<days>`` snapshot holds."""
    figures = agent_figures(session, since)
    completed = completed_counts(session, since)
    return {a: replace(figures.get(a, NO_FIGURES), completed=completed.get(a, 0))
            for a in set(figures) | set(completed)}


def workload(session: Session, *, completed_days: int = COMPLETED_DAYS, now: datetime | None = None,
             figures: dict[int, AgentFigures] | None = None) -> list[dict[str, object]]:
    """Per agent: ongoing and pending (open tickets now, always counted here: hand-offs act on
    them) and completed (resolved in the last ``completed_days`` days), with their figures.
    ``figures``: ``period_figures`` over that period (a snapshot, with the completed counts:
    ~29 ms of the queue page at 1M tickets); computed here without it. Counting every ticket an
    agent ever resolved read the whole (assignee_id, status) index: 160-245 ms at 1M tickets."""
    counts: dict[int, dict[str, int]] = {}
    open_rows = session.execute(
        select(Ticket.assignee_id, Ticket.status, func.count())
        .where(Ticket.assignee_id.is_not(None), Ticket.status.in_(OPEN_STATUSES))
        .group_by(Ticket.assignee_id, Ticket.status)).all()
    for agent_id, status, count in open_rows:
        bucket = "pending" if status == "assigned" else "ongoing"
        counts.setdefault(agent_id, {"ongoing": 0, "pending": 0})[bucket] += count
    if figures is None:
        figures = period_figures(session, (now or utcnow()) - timedelta(days=completed_days))
    rows: list[dict[str, object]] = []
    for a in agents(session):
        mine = figures.get(a.id, NO_FIGURES)
        rows.append({"agent": a, **counts.get(a.id, {"ongoing": 0, "pending": 0}), "completed": mine.completed,
                     "figures": mine})
    return rows
