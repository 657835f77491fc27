"""Six weeks of realistic history for a development desk: ``flask --app escalation demo-data``.

A few hundred tickets across both channels, every category and the demo agents, with SLA
outcomes, first replies and resolutions, threads, ratings with comments, and the bot's
outcomes (self-served, escalated, unanswered), so every dashboard chart, the KB-gap list, the
workload table and the agents' figures show something on a fresh ``make run``.

- **Deterministic** (a fixed seed) and **idempotent**: the demo customers have addresses at
  ``demo.example.com``; when one exists, nothing is added.
- **Never in production**: it refuses unless the database is SQLite (the embedded default;
  PostgreSQL is the scale-out/production setup) and ``PUBLIC_URL`` is not ``https://``.
- Rows are written directly, not through the ticket use cases, so no mail is queued (the
  mail catcher would otherwise receive hundreds of acknowledgements to invented people).
"""
from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import sla
from .models import BotOutcome, Customer, Message, Survey, Ticket, User, utcnow
from .tickets import NUMBER_PREFIX, NUMBER_BASE, hash_token

DOMAIN = "demo.example.com"
DAYS = 42
SEED = 20261130

# category -> (subjects customers write, article the bot suggested)
TOPICS: dict[str, tuple[list[str], str]] = {
    "account-access": (["My account has been inactive for 2 years", "Locked out after the security update",
                        "I don't get the password reset e-mail", "Two-factor code is not accepted"],
                       "reactivate-inactive-account"),
    "billing": (["I was charged twice this month", "Where can I download my invoice?",
                 "Card payment keeps failing"], "charged-twice"),
    "orders-delivery": (["My parcel has not arrived", "Tracking has not moved for a week",
                         "Wrong item in my order"], "where-is-my-order"),
    "returns-refunds": (["When do I get my refund?", "Return label does not print"], "refund-timing"),
    "privacy-data": (["Please delete my personal data", "I want a copy of my data"], "export-my-data"),
    "technical": (["The app crashes when I open settings", "The website shows an error at checkout"],
                  "app-crashes"),
    "general": (["I want to talk to a person", "Can I change my delivery address?"], "contact-support"),
}
FIRST_NAMES = ["Laura", "Austin", "Maya", "Noah", "Priya", "Jonas", "Chloé", "Omar", "Ines", "Lukas", "Sara",
               "Mateo", "Hana", "Ben", "Zoe", "Amir", "Lea", "Tom", "Nina", "Yusuf"]
LAST_NAMES = ["Smith", "Okafor", "Novak", "Garcia", "Khan", "Müller", "Rossi", "Tanaka", "Dubois", "Silva"]
COMMENTS = {
    5: ["Tim sorted it out in minutes, thank you!", "Quick and friendly, great service.",
        "Exactly what I needed, and I did not have to repeat myself."],
    4: ["Good help, took a little while to hear back.", "Solved, thanks. The chat handover was smooth."],
    3: ["It works now but I had to explain twice.", "Okay in the end."],
    2: ["Took three days for a simple question.", "The first answer did not help."],
    1: ["Nobody answered for days.", "Still not fixed and the ticket was closed."],
}
AGENT_REPLIES = ["Thanks for your patience — I have looked into it.", "I have reactivated the account; please "
                 "sign in again.", "I can see the problem on our side and have fixed it.",
                 "Could you send a screenshot of the error?", "The refund is on its way: 3–5 working days."]
SELF_SERVED = ["how do I change my e-mail address", "where is my invoice", "how long does delivery take",
               "reset my password", "how do I return an item", "cancel my subscription"]
UNANSWERED = ["can I pay with crypto", "do you ship to Iceland", "is there a student discount",
              "can I change the name on my account"]


class RefusedHere(RuntimeError):
    """The database does not look like a development desk."""


@dataclass(frozen=True)
class Loaded:
    tickets: int
    surveys: int
    bot_outcomes: int


def check_not_production(config: Any) -> None:
    url = str(config["DATABASE_URL"])
    if not url.startswith("sqlite"):
        raise RefusedHere("demo data goes only into the embedded SQLite database of a development desk; "
                          f"this one is {url.split(':', 1)[0]} (production or scale-out)")
    if str(config["PUBLIC_URL"]).startswith("https://"):
        raise RefusedHere("PUBLIC_URL is https://, which looks like a production desk: no demo data there")


def already_loaded(session: Session) -> bool:
    return session.scalar(select(Customer.id).where(Customer.email.like(f"%@{DOMAIN}")).limit(1)) is not None


def load(session: Session, *, now: datetime | None = None, tickets: int = 320) -> Loaded | None:
    """Add the history (the caller commits); None when it is there already."""
    if already_loaded(session):
        return None
    now = now or utcnow()
    rng = random.Random(SEED)
    agents = list(session.scalars(select(User).where(User.role == "agent", User.active.is_(True)).order_by(User.id)))
    customers = [Customer(name=f"{first} {last}", email=f"{first.lower()}.{last.lower()}@{DOMAIN}".replace("é", "e")
                          .replace("ü", "u"), created_at=now - timedelta(days=DAYS + 5))
                 for first in FIRST_NAMES for last in LAST_NAMES[:4]]
    session.add_all(customers)
    surveys = outcomes = 0
    for _ in range(tickets):
        category = rng.choices(list(TOPICS), weights=[5, 3, 4, 2, 1, 2, 2])[0]
        subjects, article = TOPICS[category]
        subject = rng.choice(subjects)
        created = now - timedelta(days=rng.uniform(0, DAYS), hours=rng.uniform(0, 8))
        customer = rng.choice(customers)
        channel = "email" if rng.random() < 0.3 else "web_chat"
        priority = rng.choices(["low", "normal", "high", "urgent"], weights=[2, 6, 2, 1])[0]
        first_minutes, resolution_minutes = sla.DEFAULT_POLICIES[priority]
        skilled = [a for a in agents if category in (a.skills or [])] or agents
        agent = rng.choice(skilled) if agents else None
        age_hours = (now - created).total_seconds() / 3600
        ticket = Ticket(number=f"demo-{secrets.token_hex(6)}", subject=subject, description="", customer=customer,
                        channel=channel, category=category, priority=priority, status="new", owner="queued",
                        token_hash=hash_token(secrets.token_urlsafe(24)), created_at=created, updated_at=created,
                        conversation_id=f"demo-{secrets.token_hex(4)}" if channel == "web_chat" else None,
                        transcript=[{"sender": "user", "text": subject.lower(), "timestamp": created.timestamp()},
                                    {"sender": "bot", "text": "Here is what our help centre says.",
                                     "timestamp": created.timestamp() + 2}] if channel == "web_chat" else [],
                        suggested_articles=[article] if channel == "web_chat" else [],
                        first_response_due=created + timedelta(minutes=first_minutes),
                        resolution_due=created + timedelta(minutes=resolution_minutes))
        session.add(ticket)
        session.flush()
        ticket.number = f"{NUMBER_PREFIX}{NUMBER_BASE + ticket.id}"
        thread = [Message(ticket=ticket, author_type="customer", author_name=customer.name,
                          body=f"{subject}. Can you help?", created_at=created)]
        if agent is None or (age_hours < 6 and rng.random() < 0.6):
            ticket.sla_state = "ok"  # still waiting in the queue
        else:
            ticket.assignee, ticket.owner = agent, "agent"
            late = rng.random() < 0.15
            reply_after = timedelta(minutes=first_minutes * (rng.uniform(1.1, 2.5) if late else rng.uniform(0.05, 0.9)))
            ticket.first_response_at = min(created + reply_after, now)
            thread.append(Message(ticket=ticket, author_type="agent", author_user_id=agent.id, author_name=agent.name,
                                  body=rng.choice(AGENT_REPLIES), created_at=ticket.first_response_at))
            resolved_after = reply_after + timedelta(minutes=resolution_minutes * rng.uniform(0.1, 1.3))
            if created + resolved_after < now - timedelta(hours=1) and rng.random() < 0.85:
                ticket.resolved_at = created + resolved_after
                ticket.resolution = "Explained the steps and confirmed with the customer."
                closed = now - ticket.resolved_at > timedelta(days=7)
                ticket.status, ticket.owner = ("closed" if closed else "resolved"), "bot"
                ticket.updated_at = ticket.resolved_at
                breached = late or resolved_after > timedelta(minutes=resolution_minutes)
                ticket.sla_state = "breached" if breached else "met"
                if rng.random() < 0.55:
                    rating = rng.choices([5, 4, 3, 2, 1], weights=[9, 5, 2, 1, 1] if not breached else [2, 3, 3, 2, 2])[0]
                    comment = rng.choice(COMMENTS[rating]) if rng.random() < 0.5 else ""
                    session.add(Survey(ticket_id=ticket.id, rating=rating, comment=comment,
                                       created_at=ticket.resolved_at + timedelta(hours=rng.uniform(0.1, 20))))
                    surveys += 1
            else:
                ticket.status = rng.choice(["acknowledged", "in_progress", "waiting_on_customer"])
                ticket.updated_at = ticket.first_response_at
                ticket.sla_state = "breached" if late else "ok"
        session.add_all(thread)
        if ticket.status not in {"resolved", "closed"}:
            # the SLA state the worker would compute now, so its first pass finds no change
            # (and sends no SLA notices about invented tickets)
            ticket.sla_state = sla.evaluate(ticket, session, now)
        if channel == "web_chat":
            session.add(BotOutcome(conversation_id=ticket.conversation_id or "", outcome="escalated",
                                   question=subject.lower(), article_id=article, created_at=created))
            outcomes += 1
    for _ in range(tickets * 2):  # most conversations end without a person
        unanswered = rng.random() < 0.12
        session.add(BotOutcome(conversation_id=f"demo-{secrets.token_hex(4)}",
                               outcome="unanswered" if unanswered else "self_served",
                               question=rng.choice(UNANSWERED if unanswered else SELF_SERVED),
                               article_id=None if unanswered else rng.choice([t[1] for t in TOPICS.values()]),
                               created_at=now - timedelta(days=rng.uniform(0, DAYS))))
        outcomes += 1
    session.flush()
    return Loaded(tickets=tickets, surveys=surveys, bot_outcomes=outcomes)
