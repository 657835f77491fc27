"""Demo data: six weeks of history that fills every dashboard figure; idempotent; never in production."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from escalation import dashboard
from escalation.db import db
from escalation.demo_data import RefusedHere, check_not_production
from escalation.models import BotOutcome, OutboxMail, Survey, Ticket


def test_demo_data_fills_the_dashboard_once_and_queues_no_mail(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo-data"])
    assert first.exit_code == 0 and "demo data loaded: 320 tickets" in first.output
    with app.app_context():
        counts = [db.session.scalar(select(func.count()).select_from(m)) for m in (Ticket, Survey, BotOutcome)]
        assert counts[0] == 320 and counts[1] > 50 and counts[2] > 600
        assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 0
        assert set(db.session.scalars(select(Ticket.channel).distinct())) == {"web_chat", "email"}
        assert len(set(db.session.scalars(select(Ticket.category).distinct()))) == 7
        assert set(db.session.scalars(select(Ticket.sla_state).distinct())) >= {"met", "breached", "ok"}
        figures = dashboard.build(db.session, days=42)
        assert figures.sla_met and figures.sla_breached and figures.csat_count and figures.self_served
        assert figures.median_first_response and figures.median_resolution and figures.top_escalations
        assert sum(n for _, n in figures.opened_per_day) > 250 and sum(n for _, n in figures.resolved_per_day) > 100
        assert dashboard.latest_comments(db.session)
    with app.app_context():  # the worker's first pass finds every SLA state current: no notices
        from escalation import sla

        assert sla.check_all(db.session) == []
    again = runner.invoke(args=["demo-data"])
    assert again.exit_code == 0 and "already loaded" in again.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 320


def test_make_run_loads_it_only_into_an_empty_desk(app, client, bot_headers):
    from .conftest import ticket_body

    client.post("/api/v1/tickets", json=ticket_body(), headers={**bot_headers, "Idempotency-Key": "real"})
    assert app.test_cli_runner().invoke(args=["demo-data", "--if-empty"]).exit_code == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1


@pytest.mark.parametrize("settings", [
    {"DATABASE_URL": "postgresql+psycopg://care@db/care", "PUBLIC_URL": "http://127.0.0.1:5000"},
    {"DATABASE_URL": "sqlite:////srv/care.sqlite3", "PUBLIC_URL": "https://care.example.com"},
])
def test_it_refuses_anything_that_looks_like_production(settings):
    with pytest.raises(RefusedHere):
        check_not_production(settings)
