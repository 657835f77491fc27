"""Automatic assignment: the admin's switch, the best available agent, the worker's retries,
and no double assignment when it races an agent's claim."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from escalation import claims, desk_settings, tickets
from escalation.db import db
from escalation.errors import Conflict
from escalation.models import AuditEntry, OutboxMail, Ticket, User
from escalation.worker import run_pass


def user(name):
    return db.session.scalar(select(User).where(User.username == name))


def switch_on():
    desk_settings.set_value(db.session, "auto_assign", True, "kim")
    db.session.commit()


def open_ticket(subject, email="laura@example.com"):
    ticket = tickets.open_ticket(db.session, name="Laura", email=email, subject=subject).ticket
    db.session.commit()
    return ticket


def presence(**by_name):
    for name, value in by_name.items():
        user(name).presence = value
    db.session.commit()


def test_off_by_default_tickets_wait_in_the_queue(app):
    with app.app_context():
        assert desk_settings.auto_assign(db.session) is False
        ticket = open_ticket("I am locked out of my account")
        assert (ticket.status, ticket.assignee_id) == ("new", None)
        assert run_pass(app, "w1")["auto_assigned"] == 0
        assert db.session.get(Ticket, ticket.id).status == "new"


def test_the_admin_switches_it_on_and_off(client, auth, app):
    auth.login("kim")
    queue = client.get("/admin/").get_data(as_text=True)
    assert 'data-testid="auto-assign-state">off<' in queue and "Turn on" in queue
    page = client.post("/admin/settings", data={"auto_assign": "on", "back": "queue"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Automatic assignment is on" in page and 'data-testid="auto-assign-state">on<' in page
    again = client.post("/admin/settings", data={"auto_assign": "on"}, follow_redirects=True).get_data(as_text=True)
    assert "Automatic assignment already was on." in again and 'data-testid="auto_assign-state">on<' in again
    with app.app_context():
        assert desk_settings.auto_assign(db.session) is True
    client.post("/admin/settings", data={"auto_assign": "off"})
    with app.app_context():
        assert desk_settings.auto_assign(db.session) is False
        audit = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "desk_setting")
                                   .order_by(AuditEntry.id)).all()
        assert [(a.actor, a.details["from"], a.details["to"]) for a in audit] == [("kim", False, True),
                                                                                  ("kim", True, False)]
    auth.logout()
    auth.login("tim")
    assert client.post("/admin/settings", data={"auto_assign": "on"}).status_code == 403


def test_a_new_ticket_goes_to_the_agent_with_the_skill(app):
    with app.app_context():
        switch_on()
        locked = open_ticket("I am locked out of my account")  # account-access: Tim
        refund = open_ticket("I want a refund for my return", email="b@example.com")  # Terrence
        assert (locked.status, locked.assignee.username) == ("assigned", "tim")
        assert refund.assignee.username == "terrence"
        audit = db.session.scalar(select(AuditEntry).where(AuditEntry.ticket_id == locked.id,
                                                           AuditEntry.action == "auto_assign"))
        assert audit.actor == "auto-assign" and audit.details["automatic"] is True
        assert audit.details["agent"] == "tim" and "knows account-access" in audit.details["reasons"]
        assert (audit.from_status, audit.to_status) == ("new", "assigned")
        mail = db.session.scalar(select(OutboxMail).where(OutboxMail.ticket_id == locked.id,
                                                          OutboxMail.kind == "assigned"))
        assert mail.to_addr == "tim@support.example.com" and "by automatic assignment" in mail.body_text


def test_without_a_skill_match_the_load_is_balanced(app):
    with app.app_context():
        switch_on()
        owners = [open_ticket(f"Please delete my personal data {i}", email=f"c{i}@example.com").assignee.username
                  for i in range(4)]  # privacy-data: nobody's skill
        assert sorted(owners) == ["terrence", "terrence", "tim", "tim"]
        assert owners[0] != owners[1]


def test_only_online_agents_below_capacity_get_tickets(app):
    with app.app_context():
        switch_on()
        presence(tim="away", terrence="offline")
        waiting = open_ticket("I am locked out of my account")
        assert (waiting.status, waiting.assignee_id) == ("new", None)
        presence(tim="online")
        user("tim").capacity = 1
        db.session.commit()
        # the worker retries waiting tickets: Tim is online now, with room for one
        second = open_ticket("Password question", email="b@example.com")  # assigned at once
        assert second.assignee.username == "tim"
        assert run_pass(app, "w1")["auto_assigned"] == 0  # Tim is full, Terrence offline
        assert db.session.get(Ticket, waiting.id).status == "new"
        presence(terrence="online")
        assert run_pass(app, "w1")["auto_assigned"] == 1
        db.session.expire_all()
        assert db.session.get(Ticket, waiting.id).assignee.username == "terrence"


def test_the_worker_assigns_the_most_urgent_first(app):
    with app.app_context():
        presence(terrence="offline")
        normal = open_ticket("Password question")
        urgent = open_ticket("My account was hacked", email="b@example.com")
        user("tim").capacity = 1
        switch_on()
        assert run_pass(app, "w1")["auto_assigned"] == 1
        db.session.expire_all()
        assert db.session.get(Ticket, urgent.id).assignee.username == "tim"
        assert db.session.get(Ticket, normal.id).assignee_id is None


def test_the_capacity_condition_is_part_of_the_update(app):
    with app.app_context():
        ticket = open_ticket("Password question")
        tim = user("tim")
        tim.capacity = 0
        db.session.commit()
        assert claims._take(db.session, ticket.id, tim, within_capacity=True) is False
        assert claims._take(db.session, ticket.id, tim) is True  # a claim does not check it here


def test_an_agent_claim_after_auto_assignment_is_told_who_has_it(app):
    with app.app_context():
        switch_on()
        ticket = open_ticket("I am locked out of my account")
        with pytest.raises(Conflict) as refused:
            claims.claim(db.session, ticket.id, user("terrence"))
        assert "was just taken by Tim Agent" in refused.value.message


def test_auto_assignment_of_a_ticket_just_claimed_does_nothing(app):
    with app.app_context():
        ticket = open_ticket("I am locked out of my account")
        stale = db.session.get(Ticket, ticket.id)
        other = app.extensions["care_db"]()  # another request, e.g. Terrence's claim
        claims.claim(other, ticket.id, other.get(User, user("terrence").id))
        other.commit()
        other.close()
        switch_on()
        assert stale.status == "new"  # what this session still believes
        assert claims.auto_assign(db.session, stale) is None
        db.session.commit()
        assert stale.assignee.username == "terrence"
        assert db.session.scalars(select(AuditEntry.action).where(AuditEntry.ticket_id == ticket.id)).all() \
            == ["open", "claim"]


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_claims_racing_the_worker_assign_each_ticket_once(app, database):
    with app.app_context():
        ids = [open_ticket(f"Password question {i}", email=f"c{i}@example.com").id for i in range(6)]
        switch_on()
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def worker():
        with app.app_context():
            barrier.wait(timeout=60)
            try:
                claims.assign_waiting(db.session)
                db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    def agent(name):
        with app.app_context():
            me = user(name)
            me.capacity = 10
            db.session.commit()
            barrier.wait(timeout=60)
            for ticket_id in ids:
                try:
                    claims.claim(db.session, ticket_id, me)
                    db.session.commit()
                except Conflict:
                    db.session.rollback()

    threads = [threading.Thread(target=worker), threading.Thread(target=agent, args=("tim",)),
               threading.Thread(target=agent, args=("terrence",))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.app_context():
        rows = db.session.scalars(select(Ticket).where(Ticket.id.in_(ids))).unique().all()
        assert all(t.status == "assigned" and t.assignee_id is not None for t in rows)
        takes = db.session.scalar(select(func.count()).select_from(AuditEntry)
                                  .where(AuditEntry.action.in_(("claim", "auto_assign"))))
        assert takes == len(ids)  # each ticket was taken exactly once
