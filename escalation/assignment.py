"""Rank agents for a ticket: skill match, presence and current load.

:func:`rank_agents` orders every active agent (the admin's assignment list shows why);
:func:`available` keeps those automatic assignment may use: online and below capacity.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .lifecycle import OPEN_STATUSES
from .models import Ticket, User

def open_load(session: Session, agent_id: int) -> int:
    """How many open tickets the agent has now."""
    # count(*), not count(id): PostgreSQL answers from the (assignee_id, status) index alone
    return session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.assignee_id == agent_id, Ticket.status.in_(OPEN_STATUSES))) or 0


PRESENCE_SCORE = {"online": 2.0, "away": 0.5, "offline": 0.0}


@dataclass(frozen=True)
class Suggestion:
    agent: User
    score: float
    load: int
    reasons: tuple[str, ...]


def rank_agents(session: Session, ticket: Ticket) -> list[Suggestion]:
    agents = session.scalars(select(User).where(User.role == "agent", User.active.is_(True))
                             .order_by(User.name)).all()
    ranked: list[Suggestion] = []
    for agent in agents:
        load = open_load(session, agent.id)
        reasons = []
        score = PRESENCE_SCORE.get(agent.presence, 0.0)
        reasons.append(agent.presence)
        if ticket.category in (agent.skills or []):
            score += 3.0
            reasons.append(f"knows {ticket.category}")
        free = max(agent.capacity - load, 0)
        score += free / max(agent.capacity, 1)
        reasons.append(f"{load}/{agent.capacity} open")
        if load >= agent.capacity:
            score -= 5.0
            reasons.append("at capacity")
        ranked.append(Suggestion(agent, round(score, 2), load, tuple(reasons)))
    ranked.sort(key=lambda s: (-s.score, s.load, s.agent.name))
    return ranked


def available(session: Session, ticket: Ticket) -> list[Suggestion]:
    """Agents automatic assignment may give ``ticket`` to, best first: online, with room left.

    The ranking puts a skill match first and, among equals, the agent with the most free
    capacity, so the load is balanced.
    """
    return [s for s in rank_agents(session, ticket)
            if s.agent.presence == "online" and s.load < s.agent.capacity]
