"""The queue's filters combine and stay in the URL; the default sort puts the next SLA deadline first."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from escalation.db import db
from escalation.models import Ticket, User, utcnow
from escalation.queue import QueueFilter

from .conftest import ticket_body


def numbers(client, path):
    page = client.get(path)
    assert page.status_code == 200
    return re.findall(r'data-testid="ticket-link">(CR-\d+)<', page.get_data(as_text=True))


@pytest.fixture
def desk(app, client, bot_headers):
    """Four tickets: A normal (due late), B urgent and breached, C high and at risk, D low, assigned to Tim."""
    subjects = {"A": "Where is my parcel", "B": "My account was hacked", "C": "Charged twice on my card",
                "D": "Question about returns"}
    for i, (key, subject) in enumerate(subjects.items()):
        reply = client.post("/api/v1/tickets", json=ticket_body(subject=subject, conversation_id=f"conv-{key}",
                                                                email=f"{key.lower()}@example.com"),
                            headers={**bot_headers, "Idempotency-Key": f"queue-{key}"})
        assert reply.status_code == 201
    with app.app_context():
        rows = {t.subject: t for t in db.session.scalars(select(Ticket))}
        now = utcnow()
        b, c, d = rows[subjects["B"]], rows[subjects["C"]], rows[subjects["D"]]
        b.sla_state, b.first_response_due = "breached", now - timedelta(minutes=5)
        c.sla_state, c.first_response_due, c.category = "at_risk", now + timedelta(minutes=10), "billing"
        tim = db.session.scalar(select(User).where(User.username == "tim"))
        d.assignee_id, d.status, d.channel = tim.id, "assigned", "email"
        db.session.commit()
        return {key: rows[subject].number for key, subject in subjects.items()} | {"tim": str(tim.id)}


def test_default_sort_puts_the_breaching_ticket_on_top(client, auth, desk):
    auth.login("kim")
    listed = numbers(client, "/admin/")
    assert listed[:2] == [desk["B"], desk["C"]]  # overdue, then nearly due
    assert set(listed) == {desk["A"], desk["B"], desk["C"], desk["D"]}
    assert numbers(client, "/admin/?sort=newest") == [desk["D"], desk["C"], desk["B"], desk["A"]]


@pytest.mark.parametrize("query, expected", [
    ("sla=breached", ["B"]),
    ("sla=breaching", ["B", "C"]),
    ("sla=at_risk", ["C"]),
    ("priority=urgent", ["B"]),
    ("assignee=none", ["B", "C", "A"]),
    ("channel=email", ["D"]),
    ("category=billing", ["C"]),
    ("status=assigned", ["D"]),
    ("sla=breaching&priority=high", ["C"]),  # filters combine
    ("sla=breaching&q=hacked", ["B"]),
    ("sla=bogus&priority=nope&sort=sideways", ["B", "C", "A", "D"]),  # unknown values: the default view
])
def test_filters_combine(client, auth, desk, query, expected):
    auth.login("kim")
    got = numbers(client, f"/admin/?{query}")
    assert got[:len(expected)] == [desk[k] for k in expected] and len(got) == len(expected)


def test_assignee_filter_and_the_saved_views_are_links(client, auth, desk):
    auth.login("kim")
    assert numbers(client, f"/admin/?assignee={desk['tim']}") == [desk["D"]]
    html = client.get("/admin/?sla=breaching&priority=high").get_data(as_text=True)
    assert 'href="/admin/?sla=breaching"' in html and 'href="/admin/?assignee=none"' in html
    assert '<option value="high" selected>' in html  # the form shows the filters in force


def test_the_agent_sees_only_their_own_tickets_with_the_same_filters(client, auth, desk):
    auth.login("tim")
    assert numbers(client, "/agent/") == [desk["D"]]
    assert numbers(client, "/agent/?sla=breaching") == []  # B is breaching, but not Tim's
    assert "None of your tickets match" in client.get("/agent/?sla=breaching").get_data(as_text=True)
    assert numbers(client, f"/agent/?assignee={desk['tim']}&channel=email") == [desk["D"]]


def test_the_agents_unassigned_view_lists_the_tickets_nobody_has_with_the_same_filters(client, auth, desk):
    auth.login("tim")
    assert numbers(client, "/agent/?assignee=none") == [desk["B"], desk["C"], desk["A"]]  # next deadline first
    assert numbers(client, "/agent/?assignee=none&sla=breaching&priority=high") == [desk["C"]]
    html = client.get("/agent/?assignee=none&sla=breaching").get_data(as_text=True)
    assert 'href="/agent/?assignee=none"' in html and 'href="/agent/?sla=breaching"' in html  # saved views
    assert '<input type="hidden" name="assignee" value="none">' in html  # the filter form keeps the view
    assert desk["D"] not in numbers(client, "/agent/?assignee=none")  # Tim's own ticket is not unassigned


def test_filter_keeps_only_non_default_arguments_in_links():
    wanted = QueueFilter.from_args({"status": "open", "sla": "breaching", "page": "3", "assignee": "1e9"}, page=3)
    assert wanted.assignee == "" and wanted.url_args() == {"sla": "breaching", "page": 3}
    assert wanted.url_args(page=1) == {"sla": "breaching"} and wanted.narrowed
    assert not QueueFilter().narrowed


@pytest.mark.postgres
def test_filters_and_sort_on_postgresql(client, auth, desk):
    auth.login("kim")
    assert numbers(client, "/admin/")[:2] == [desk["B"], desk["C"]]
    assert numbers(client, "/admin/?sla=breaching&q=twice") == [desk["C"]]
