"""An agent publishes a ticket's fix; the KB search API finds it at once (fake embedder here;
the real model path is covered by tests/kb_index and the end-to-end test)."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from escalation import tickets
from escalation.db import db
from escalation.models import PublishedArticle, User

from .conftest import ticket_body

ARTICLE = """---
id: reset-password
title: Reset your password
audience: public
area: account-access
---
# Reset your password
## Steps
Open the sign-in page and choose Forgot password. We e-mail you a link valid for one hour.
"""


@pytest.fixture
def kb_app(app, tmp_path: Path):
    from kb_index import FakeEmbedder

    source = tmp_path / "kb"
    source.mkdir()
    (source / "reset-password.md").write_text(ARTICLE)
    app.config.update(KB_SOURCE_DIR=str(source), KB_INDEX_DIR=str(tmp_path / "index"))
    app.extensions["care_kb_embedder"] = FakeEmbedder()
    return app


def resolved(app, client, bot_headers):
    number = client.post("/api/v1/tickets", json=ticket_body(),
                         headers={**bot_headers, "Idempotency-Key": "p"}).get_json()["number"]
    with app.app_context():
        t = tickets.get_by_number(db.session, number)
        tim = db.session.scalar(select(User).where(User.username == "tim"))
        tickets.assign(db.session, t, tim, "kim")
        tickets.acknowledge(db.session, t, tim)
        db.session.commit()
    return number


def test_publish_needs_a_resolved_ticket(kb_app, client, bot_headers, auth):
    number = resolved(kb_app, client, bot_headers)
    auth.login("tim")
    page = client.post(f"/agent/tickets/{number}/publish", data={"title": "x", "body": "y"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Resolve the ticket first" in page


def test_published_fix_is_searchable_at_once_and_survives_a_rebuild(kb_app, client, bot_headers, auth):
    number = resolved(kb_app, client, bot_headers)
    auth.login("tim")
    client.post(f"/agent/tickets/{number}/resolve", data={"resolution": "Reactivated"})
    title = "Reactivate a dormant loyalty card"
    body = "Dormant loyalty cards are reactivated by scanning them at any till within ninety days."
    page = client.post(f"/agent/tickets/{number}/publish", data={"title": title, "body": body},
                       follow_redirects=True).get_data(as_text=True)
    assert "Published" in page
    hits = client.get("/api/v1/kb/search", query_string={"q": "dormant loyalty card till"}).get_json()["hits"]
    assert hits[0]["title"] == title and hits[0]["url"] == "/help/fix-reactivate-a-dormant-loyalty-card"
    with kb_app.app_context():
        assert db.session.scalar(select(PublishedArticle.ticket_id)) is not None
    # a fresh process (index rebuilt from data/kb) gets the published article back from the DB
    kb_app.extensions.pop("care_kb")
    import shutil
    shutil.rmtree(kb_app.config["KB_INDEX_DIR"])
    hits = client.get("/api/v1/kb/search", query_string={"q": "dormant loyalty card till"}).get_json()["hits"]
    assert hits[0]["title"] == title
    article = client.get("/help/fix-reactivate-a-dormant-loyalty-card")
    assert article.status_code == 200 and b"ninety days" in article.data


def test_kb_search_returns_the_answering_section_and_takes_a_context(kb_app, client):
    hit = client.get("/api/v1/kb/search", query_string={"q": "forgot password link"}).get_json()["hits"][0]
    assert hit["section"] == {"heading": "Steps", "anchor": "steps", "complete": True,
                              "url": "/help/reset-password#steps",
                              "text": "Open the sign-in page and choose Forgot password. "
                                      "We e-mail you a link valid for one hour."}
    follow = client.get("/api/v1/kb/search", query_string={"q": "and how long is it valid?",
                                                           "context": "forgot password link"})
    assert follow.status_code == 200 and follow.get_json()["hits"][0]["article_id"] == "reset-password"
    too_long = client.get("/api/v1/kb/search", query_string={"q": "x", "context": "y" * 1001})
    assert too_long.status_code == 422 and too_long.get_json()["error"]["details"]["field"] == "context"


def test_help_page_gives_each_section_its_anchor(kb_app, client):
    page = client.get("/help/reset-password").get_data(as_text=True)
    assert 'id="steps"' in page and "Forgot password" in page


def test_kb_search_errors(kb_app, client):
    assert client.get("/api/v1/kb/search").get_json()["error"]["code"] == "validation_failed"
    assert client.get("/api/v1/kb/search", query_string={"q": "x" * 1001}).status_code == 422
    assert client.get("/api/v1/kb/search", query_string={"q": "x", "k": "0"}).status_code == 422
    assert client.get("/api/v1/kb/search", query_string={"q": "x", "audience": "internal"}).status_code == 403
