"""Agents set their presence; admins override the triage's category and priority."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from escalation import assignment, sla, tickets
from escalation.db import db
from escalation.errors import ValidationFailed
from escalation.models import AuditEntry, Ticket, TicketEvent, User


def user(name):
    return db.session.scalar(select(User).where(User.username == name))


def open_ticket(subject="Question about my order"):
    ticket = tickets.open_ticket(db.session, name="Laura", email="laura@example.com", subject=subject).ticket
    db.session.commit()
    return ticket


# --- presence --------------------------------------------------------------------------------

def test_an_agent_sets_their_presence_from_the_header(client, auth, app):
    auth.login("tim")
    page = client.get("/agent/").get_data(as_text=True)
    assert 'data-testid="presence-form"' in page and '<option value="online" selected>' in page
    assert "You are <strong>online</strong>" in page
    response = client.post("/agent/presence", data={"presence": "away", "next": "/agent/"})
    assert response.status_code == 303 and response.headers["Location"] == "/agent/"
    page = client.get("/agent/").get_data(as_text=True)
    assert "You are away now" in page and '<option value="away" selected>' in page
    assert "You are <strong>away</strong>" in page
    with app.app_context():
        assert user("tim").presence == "away"
        [audit] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "presence")).all()
        assert (audit.actor, audit.details) == ("tim", {"from": "online", "to": "away"})


def test_an_unknown_presence_is_refused(client, auth, app):
    auth.login("tim")
    page = client.post("/agent/presence", data={"presence": "busy"}, follow_redirects=True).get_data(as_text=True)
    assert "Presence is one of online, away, offline." in page
    with app.app_context():
        assert user("tim").presence == "online"


def test_presence_redirects_only_within_the_site(client, auth):
    auth.login("tim")
    for unsafe in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post("/agent/presence", data={"presence": "offline", "next": unsafe})
        assert response.headers["Location"] == "/agent/"


def test_admins_do_not_get_the_presence_form(client, auth):
    auth.login("kim")
    assert 'data-testid="presence-form"' not in client.get("/agent/").get_data(as_text=True)


def test_presence_feeds_the_ranking(app):
    with app.app_context():
        ticket = open_ticket("I am locked out of my account")  # account-access: Tim's skill
        ranked = assignment.rank_agents(db.session, ticket)
        assert ranked[0].agent.username == "tim"
        assert [s.agent.username for s in assignment.available(db.session, ticket)] == ["tim", "terrence"]
        tickets_before = {s.agent.username: s.score for s in ranked}
        from escalation.users import set_presence

        assert set_presence(db.session, user("tim"), "away") is True
        assert set_presence(db.session, user("tim"), "away") is False
        db.session.commit()
        after = {s.agent.username: s.score for s in assignment.rank_agents(db.session, ticket)}
        assert after["tim"] == tickets_before["tim"] - 1.5 and after["terrence"] == tickets_before["terrence"]
        assert [s.agent.username for s in assignment.available(db.session, ticket)] == ["terrence"]
        with pytest.raises(ValidationFailed):
            set_presence(db.session, user("tim"), "gone")


# --- category and priority override ----------------------------------------------------------

def test_admin_overrides_priority_and_the_sla_targets_follow(client, auth, app):
    with app.app_context():
        ticket = open_ticket()
        number, opened = ticket.number, ticket.created_at
        assert (ticket.category, ticket.priority) == ("orders-delivery", "normal")
    auth.login("kim")
    page = client.get(f"/admin/tickets/{number}").get_data(as_text=True)
    assert '<option value="normal" selected>' in page and '<option value="orders-delivery" selected>' in page
    response = client.post(f"/admin/tickets/{number}/triage", data={"category": "billing", "priority": "urgent"},
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert f"{number}: category orders-delivery → billing, priority normal → urgent." in page
    assert "The SLA targets follow the new priority." in page
    assert '<option value="urgent" selected>' in page
    with app.app_context():
        ticket = tickets.get_by_number(db.session, number)
        assert (ticket.category, ticket.priority) == ("billing", "urgent")
        assert ticket.first_response_due - opened == timedelta(minutes=15)
        assert ticket.resolution_due - opened == timedelta(hours=4)
        [audit] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "triage_override")).all()
        assert audit.actor == "kim"
        assert audit.details["category"] == {"from": "orders-delivery", "to": "billing"}
        assert audit.details["priority"] == {"from": "normal", "to": "urgent"}
        event = db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                                   .order_by(TicketEvent.id.desc())).first()
        assert event.kind == "status" and event.public is False
        assert event.payload["action"] == "triage_override" and event.payload["priority"] == "urgent"


def test_a_category_change_keeps_the_sla_targets(app):
    with app.app_context():
        ticket = open_ticket()
        due = (ticket.first_response_due, ticket.resolution_due)
        changes = tickets.override_triage(db.session, ticket, "kim", category="billing", priority="normal")
        assert set(changes) == {"category"}
        assert (ticket.first_response_due, ticket.resolution_due) == due


def test_time_paused_waiting_on_the_customer_is_kept(app):
    with app.app_context():
        ticket = open_ticket()
        ticket.resolution_due += timedelta(minutes=30)  # the clock was paused for 30 minutes
        tickets.override_triage(db.session, ticket, "kim", category=ticket.category, priority="high")
        assert ticket.resolution_due - ticket.created_at == timedelta(hours=8, minutes=30)
        assert ticket.first_response_due - ticket.created_at == timedelta(hours=1)


def test_a_lower_priority_takes_a_ticket_out_of_risk_on_the_next_pass(app):
    with app.app_context():
        ticket = open_ticket()
        now = ticket.created_at + timedelta(hours=3, minutes=30)  # normal: 4 h first response
        assert [c[2] for c in sla.check_all(db.session, now=now)] == ["at_risk"]
        tickets.override_triage(db.session, ticket, "kim", category=ticket.category, priority="low")  # 8 h
        assert [(c[1], c[2]) for c in sla.check_all(db.session, now=now)] == [("at_risk", "ok")]


def test_nothing_changed_and_invalid_values_are_explained(client, auth, app):
    with app.app_context():
        number = open_ticket().number
    auth.login("kim")
    same = client.post(f"/admin/tickets/{number}/triage", data={"category": "orders-delivery", "priority": "normal"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Nothing changed" in same
    bad = client.post(f"/admin/tickets/{number}/triage", data={"category": "billing", "priority": "asap"},
                      follow_redirects=True).get_data(as_text=True)
    assert "Unknown priority &#39;asap&#39;" in bad
    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.number == number))
        assert (ticket.category, ticket.priority) == ("orders-delivery", "normal")
        assert db.session.scalars(select(AuditEntry).where(AuditEntry.action == "triage_override")).all() == []


def test_agents_cannot_override(client, auth, app):
    with app.app_context():
        number = open_ticket().number
    auth.login("tim")
    assert client.post(f"/admin/tickets/{number}/triage",
                       data={"category": "billing", "priority": "urgent"}).status_code == 403
    with app.app_context():
        assert tickets.get_by_number(db.session, number).priority == "normal"
