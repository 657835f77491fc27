"""The KB-gap report: unanswered questions and ticket questions grouped by meaning (the real
embedding model), with size, trend, tickets, the nearest article, and a draft to publish."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from escalation import kb_gaps, tickets
from escalation.db import db
from escalation.models import BotOutcome, Ticket, User, utcnow

CRYPTO = ["Can I pay with bitcoin?", "do you accept crypto currency payments", "is bitcoin accepted as a payment method"]
DAMAGED = ["My parcel arrived damaged", "the package I received is broken", "the item was damaged in delivery"]


def test_cluster_groups_close_vectors_and_orders_by_size():
    a, b = np.eye(4)[0], np.eye(4)[1]
    near_a = (a + 0.2 * np.eye(4)[2]) / np.linalg.norm(a + 0.2 * np.eye(4)[2])
    vectors = np.stack([b, a, near_a, a]).astype(np.float32)
    assert kb_gaps.cluster(vectors) == [[1, 2, 3], [0]]
    assert kb_gaps.cluster(vectors[:1]) == [[0]] and kb_gaps.cluster(vectors[:0]) == []
    assert kb_gaps.central_first(vectors, [1, 2, 3])[-1] == 2  # the outlier of the group last


def test_the_draft_starts_from_the_questions_and_the_resolutions():
    title, body = kb_gaps.draft(["Can I pay with bitcoin?", "crypto payments?"], ["We accept cards and PayPal only."])
    assert title == "Can I pay with bitcoin"
    assert "- crypto payments?" in body and "We accept cards and PayPal only." in body


@pytest.fixture
def real_kb(app, track_order_kb: Path, tmp_path: Path):
    from kb_index import Embedder

    app.config.update(KB_SOURCE_DIR=str(track_order_kb), KB_INDEX_DIR=str(tmp_path / "index"))
    app.extensions["care_kb_embedder"] = Embedder()
    return app


@pytest.mark.model
def test_report_groups_by_meaning_and_the_draft_is_published(real_kb, client, auth):
    now = utcnow()
    with real_kb.app_context():
        tim = db.session.scalar(select(User).where(User.username == "tim"))
        for i, question in enumerate(CRYPTO):  # two weeks ago, then this week: growing
            db.session.add(BotOutcome(conversation_id=f"c{i}", outcome="unanswered", question=question,
                                      created_at=now - timedelta(days=20 if i == 0 else 2)))
        for i, subject in enumerate(DAMAGED):
            t = tickets.open_ticket(db.session, name="C", email=f"c{i}@example.com", subject=subject).ticket
            t.created_at = now - timedelta(days=3)
            if i == 0:
                tickets.assign(db.session, t, tim, "kim")
                tickets.acknowledge(db.session, t, tim)
                tickets.resolve(db.session, t, tim, "Send a photo; we ship a replacement the same day.")
        db.session.add(BotOutcome(conversation_id="lone", outcome="unanswered", question="what are your opening hours",
                                  created_at=now - timedelta(days=1)))
        db.session.add(BotOutcome(conversation_id="old", outcome="unanswered", question="bitcoin refund?",
                                  created_at=now - timedelta(days=60)))  # outside the period
        db.session.commit()
        damaged_numbers = sorted(db.session.scalars(select(Ticket.number)))

        gaps, alone = kb_gaps.report(db.session, _index(real_kb), days=28)
    assert sorted(sorted(q.text for q in g.questions) for g in gaps) == sorted([sorted(CRYPTO), sorted(DAMAGED)])
    assert [q.text for q in alone] == ["what are your opening hours"]
    crypto = next(g for g in gaps if g.unanswered == 3)
    assert (crypto.previous, crypto.recent, crypto.trend) == (1, 2, "growing") and crypto.tickets == []
    damaged = next(g for g in gaps if g.tickets)
    assert sorted(damaged.tickets) == damaged_numbers and damaged.article_title == "Track your order"

    auth.login("kim")
    page = client.get("/admin/kb-gaps").get_data(as_text=True)
    assert page.count('data-testid="kb-gap"') == 2 and "opening hours" in page
    draft_url = next(line for line in page.splitlines() if "kb-gap-write" in line and "damaged" in line.lower())
    href = draft_url.split('href="')[1].split('"')[0].replace("&amp;", "&")
    draft = client.get(href).get_data(as_text=True)
    assert "we ship a replacement the same day" in draft
    published = client.post("/admin/kb-gaps/draft", data={"title": "Damaged parcels", "audience": "public",
                                                           "body": "Send us a photo of the damage; we ship a "
                                                                   "replacement the same day."})
    assert published.status_code == 303
    found = client.get("/api/v1/kb/search", query_string={"q": "what to do about damage to my parcel"}).get_json()
    assert "Damaged parcels" in [hit["title"] for hit in found["hits"]]  # indexed at once


def _index(app):
    from escalation.kb import get_index

    return get_index(app)
