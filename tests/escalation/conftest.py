"""Fixtures for the escalation service: a fresh migrated database per test."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from escalation import create_app
from escalation.db import db
from escalation.schema import upgrade
from escalation.users import seed_demo_users

from ..databases import test_database

SERVICE_TOKEN = "test-service-token"
DEMO_PASSWORD = "demo-password-1"

TRACK_ORDER_ARTICLE = """---
id: track-order
title: Track your order
audience: public
area: orders-delivery
---
# Track your order
Open My orders and choose Track to see where your parcel is.
"""


def make_app(database_url: str, attachments_dir: Path | None = None) -> Flask:
    app = create_app({
        **({"ATTACHMENTS_DIR": str(attachments_dir)} if attachments_dir else {}),
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SERVICE_TOKEN": SERVICE_TOKEN,
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "PUBLIC_URL": "http://care.test",
        # refusals answered at once in unit tests; test_abuse_limits.py tests the tarpit itself
        "RATE_LIMIT_TARPIT_SECONDS": 0,
    })
    upgrade(app)
    with app.app_context():
        seed_demo_users(db.session, DEMO_PASSWORD)
        db.session.commit()
    return app


@pytest.fixture
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """The service on a fresh, migrated database (PostgreSQL for ``postgres``-marked tests
    or with CARE_TEST_DB=postgresql, else SQLite)."""
    postgres = True if request.node.get_closest_marker("postgres") else None
    with test_database(tmp_path, postgres) as url:
        app = make_app(url, tmp_path / "attachments")  # never the instance folder of the checkout
        yield app
        app.extensions["care_engine"].dispose()


@pytest.fixture
def track_order_kb(tmp_path: Path) -> Path:
    """A KB source folder with one public article, ``track-order`` (about parcels)."""
    source = tmp_path / "kb"
    source.mkdir()
    (source / "track-order.md").write_text(TRACK_ORDER_ARTICLE)
    return source


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def bot_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {SERVICE_TOKEN}"}


class Auth:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, username: str = "kim", password: str = DEMO_PASSWORD) -> Any:
        return self.client.post("/login", data={"username": username, "password": password})

    def logout(self) -> Any:
        return self.client.post("/logout")


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


def ticket_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Laura Smith", "email": "laura@example.com", "channel": "web_chat",
        "conversation_id": "conv-1",
        "transcript": [
            {"sender": "user", "text": "my account has been inactive for 2 years", "timestamp": 1.0,
             "intent": "ask_question", "confidence": 0.91},
            {"sender": "bot", "text": "Here's what our help centre says", "timestamp": 2.0},
            {"sender": "user", "text": "I want to talk to a person", "timestamp": 3.0,
             "intent": "request_human", "confidence": 0.98},
        ],
        "suggested_articles": ["reactivate-inactive-account"],
        "nlu": {"last_intent": "request_human", "confidence": 0.98},
    }
    body.update(overrides)
    return body
