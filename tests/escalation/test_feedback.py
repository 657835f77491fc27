"""CSAT after resolution, bot outcomes, and the dashboard that sums them up."""
from __future__ import annotations

from sqlalchemy import select

from escalation import dashboard, tickets
from escalation.db import db
from escalation.models import User

from .conftest import ticket_body


def resolved_ticket(app, client, bot_headers, key="r"):
    opened = client.post("/api/v1/tickets", json=ticket_body(), headers={**bot_headers, "Idempotency-Key": key}).get_json()
    with app.app_context():
        t = tickets.get_by_number(db.session, opened["number"])
        tim = db.session.scalar(select(User).where(User.username == "tim"))
        tickets.assign(db.session, t, tim, "kim")
        tickets.reply(db.session, t, tim, "Done, try again")
        tickets.resolve(db.session, t, tim, "Reactivated the account")
        db.session.commit()
    return opened


def test_rating_needs_a_resolved_ticket(client, bot_headers):
    opened = client.post("/api/v1/tickets", json=ticket_body(), headers={**bot_headers, "Idempotency-Key": "x"}).get_json()
    response = client.post(f"/api/v1/conversations/{opened['token']}/survey", json={"rating": 5})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "not_resolved"


def test_rate_once_with_a_comment(app, client, bot_headers):
    opened = resolved_ticket(app, client, bot_headers)
    url = f"/api/v1/conversations/{opened['token']}/survey"
    assert client.post(url, json={"rating": 6}).status_code == 422
    assert client.post(url, json={"rating": 4, "comment": "quick"}).status_code == 201
    again = client.post(url, json={"rating": 1})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_rated"


def test_bot_outcomes_need_the_service_token(client, bot_headers):
    body = {"conversation_id": "c1", "outcome": "self_served", "question": "reset password"}
    assert client.post("/api/v1/bot/outcomes", json=body).status_code == 401
    assert client.post("/api/v1/bot/outcomes", json=body, headers=bot_headers).status_code == 201


def test_dashboard_figures(app, client, bot_headers, auth):
    opened = resolved_ticket(app, client, bot_headers)
    client.post(f"/api/v1/conversations/{opened['token']}/survey", json={"rating": 4})
    for i in range(3):
        client.post("/api/v1/bot/outcomes", headers=bot_headers,
                    json={"conversation_id": f"s{i}", "outcome": "self_served"})
    with app.app_context():
        d = dashboard.build(db.session)
    assert d.by_status["resolved"] == 1
    assert d.csat_average == 4.0 and d.csat_count == 1
    assert (d.self_served, d.escalated) == (3, 1)
    assert d.self_service_rate == 0.75
    assert d.median_first_response is not None and d.median_resolution is not None
    assert d.top_escalations == [("my account has been inactive for 2 years", 1)]
    assert sum(n for _, n in d.opened_per_day) == 1
    auth.login("kim")
    page = client.get("/admin/dashboard").get_data(as_text=True)
    assert "75%" in page and "4.0 / 5" in page and "my account has been inactive" in page
