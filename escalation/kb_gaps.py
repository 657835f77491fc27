"""The KB-gap report: what customers asked that the KB did not answer, grouped by meaning.

Two sources over a period: questions the bot could not answer (bot outcomes ``unanswered``)
and the questions that ended in a ticket (each ticket's subject is the question that led to
the handoff). They are embedded with the KB's own model and clustered (average-linkage
agglomerative clustering on cosine distance, so similar wording of one need lands together
and a cluster never chains far from its centre). Each cluster says how big it is, whether
it grows, what was asked, which article comes nearest (and how confident the KB is), and
how its tickets were resolved: the start of the article that is missing.

:func:`cluster` is a pure function of the vectors, so ``bench/eval_kb_gaps_hint3.py`` judges
the same clustering on HINT3's real out-of-scope messages.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import BotOutcome, Ticket, utcnow
from .tickets import NO_SUBJECT

DISTANCE = 0.50        # cosine distance at which two groups stop merging (chosen on HINT3's train files, docs/kb_gaps.md)
MAX_QUESTIONS = 2000   # the most recent questions clustered (the distance matrix grows with the square)
EXAMPLES = 5


@dataclass(frozen=True)
class Question:
    text: str
    source: str                    # "unanswered" (the bot had no answer) or "ticket"
    created_at: datetime
    ticket_number: str | None = None
    resolution: str = ""


@dataclass
class Gap:
    questions: list[Question]
    examples: list[str]                 # the questions nearest the cluster's centre first
    previous: int = 0                   # questions in the first half of the period
    recent: int = 0                     # … and in the second half
    article_title: str | None = None    # the nearest article and the KB's confidence in it
    article_url: str | None = None
    confidence: float = 0.0
    resolutions: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.questions)

    @property
    def tickets(self) -> list[str]:
        return [q.ticket_number for q in self.questions if q.ticket_number]

    @property
    def unanswered(self) -> int:
        return sum(q.source == "unanswered" for q in self.questions)

    @property
    def trend(self) -> str:
        if self.recent > self.previous:
            return "growing"
        return "shrinking" if self.recent < self.previous else "steady"


def collect(session: Session, since: datetime, until: datetime | None = None) -> list[Question]:
    """The period's unanswered bot questions and ticket questions, newest first."""
    until = until or utcnow()
    outcomes = session.execute(
        select(BotOutcome.question, BotOutcome.created_at)
        .where(BotOutcome.outcome == "unanswered", BotOutcome.created_at >= since, BotOutcome.created_at < until,
               BotOutcome.question != "")
        .order_by(BotOutcome.created_at.desc()).limit(MAX_QUESTIONS)).all()
    tickets = session.execute(
        select(Ticket.subject, Ticket.created_at, Ticket.number, Ticket.resolution)
        .where(Ticket.created_at >= since, Ticket.created_at < until, Ticket.subject != NO_SUBJECT,
               Ticket.merged_into_id.is_(None))
        .order_by(Ticket.created_at.desc()).limit(MAX_QUESTIONS)).all()
    questions = [Question(q, "unanswered", at) for q, at in outcomes] + \
                [Question(subject, "ticket", at, number, resolution or "") for subject, at, number, resolution in tickets]
    questions.sort(key=lambda q: q.created_at, reverse=True)
    return questions[:MAX_QUESTIONS]


def cluster(vectors: np.ndarray, distance: float = DISTANCE) -> list[list[int]]:
    """Groups of row numbers, largest first; ``vectors`` are unit-length embeddings."""
    if len(vectors) == 0:
        return []
    if len(vectors) == 1:
        return [[0]]
    from sklearn.cluster import AgglomerativeClustering  # heavy: loaded when a report is made

    labels = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                     distance_threshold=distance).fit_predict(vectors)
    groups: dict[int, list[int]] = {}
    for row, label in enumerate(labels):
        groups.setdefault(int(label), []).append(row)
    return sorted(groups.values(), key=lambda rows: (-len(rows), rows[0]))


def central_first(vectors: np.ndarray, rows: Sequence[int]) -> list[int]:
    """``rows`` ordered by closeness to their centroid (the most typical question first)."""
    centre = vectors[list(rows)].mean(axis=0)
    return sorted(rows, key=lambda r: -float(vectors[r] @ centre))


def report(session: Session, index: Any, *, days: int = 28, now: datetime | None = None,
           min_size: int = 2) -> tuple[list[Gap], list[Question]]:
    """The gaps of the last ``days`` days (clusters of at least ``min_size`` questions, largest
    first) and the questions that stayed alone."""
    now = now or utcnow()
    since = now - timedelta(days=days)
    middle = since + (now - since) / 2
    questions = collect(session, since, now)
    if not questions:
        return [], []
    vectors = np.asarray(index.embedder.encode([q.text for q in questions]), dtype=np.float32)
    gaps: list[Gap] = []
    alone: list[Question] = []
    for rows in cluster(vectors):
        if len(rows) < min_size:
            alone.extend(questions[r] for r in rows)
            continue
        ordered = central_first(vectors, rows)
        members = [questions[r] for r in ordered]
        examples = list(dict.fromkeys(" ".join(q.text.split()) for q in members))[:EXAMPLES]
        gap = Gap(questions=members, examples=examples,
                  previous=sum(q.created_at < middle for q in members),
                  recent=sum(q.created_at >= middle for q in members),
                  resolutions=[q.resolution for q in members if q.resolution][:EXAMPLES])
        nearest = index.search(examples[0][:500], k=1, audience="internal")
        if nearest.hits:
            gap.article_title, gap.article_url = nearest.hits[0].title, nearest.hits[0].url
            gap.confidence = float(nearest.confidence)
        gaps.append(gap)
    return gaps, alone


def draft(examples: Sequence[str], resolutions: Sequence[str]) -> tuple[str, str]:
    """A title and body to start the missing article from: what was asked, and how agents answered."""
    title = examples[0].strip().rstrip("?.!") if examples else "New article"
    asked = "\n".join(f"- {e}" for e in examples)
    fixes = "\n\n".join(r.strip() for r in resolutions if r.strip())
    body = (f"Customers ask:\n{asked}\n\n## What to do\n\n"
            + (fixes or "(Write the answer here: the steps a customer can follow.)"))
    return title[:200], body
