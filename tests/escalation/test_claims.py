"""Agents claim tickets: exactly one of two simultaneous claims wins; pick-next order."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from escalation import tickets
from escalation.claims import claim, pick_next
from escalation.db import db
from escalation.errors import Conflict
from escalation.models import AuditEntry, Ticket, User


def agent(name):
    return db.session.scalar(select(User).where(User.username == name))


def new_ticket(subject, email="c@example.com"):
    ticket = tickets.open_ticket(db.session, name="C", email=email, subject=subject).ticket
    db.session.commit()
    return ticket


def race(app, ticket_id: int, usernames: list[str]) -> dict[str, str]:
    """All ``usernames`` claim the ticket at the same moment (a barrier releases them)."""
    barrier = threading.Barrier(len(usernames))
    outcomes: dict[str, str] = {}

    def try_claim(username):
        with app.app_context():
            me = agent(username)
            barrier.wait(timeout=60)
            try:
                claim(db.session, ticket_id, me)
                db.session.commit()
                outcomes[username] = "won"
            except Conflict as exc:
                db.session.rollback()
                outcomes[username] = exc.message

    threads = [threading.Thread(target=try_claim, args=(n,)) for n in usernames]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def many_agents(count: int) -> list[str]:
    from escalation.users import create_user

    names = [f"agent{i:02d}" for i in range(count)]
    for name in names:
        create_user(db.session, username=name, name=f"Agent {name}", email=f"{name}@example.com",
                    role="agent", password="password-123")
    db.session.commit()
    return names


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_twenty_simultaneous_claims_yield_exactly_one_owner(app, database):
    with app.app_context():
        ticket_id = new_ticket("Where is my order").id
        usernames = many_agents(20)
    outcomes = race(app, ticket_id, usernames)
    winners = [n for n, o in outcomes.items() if o == "won"]
    assert len(outcomes) == 20 and len(winners) == 1
    assert all("was just taken by" in o for n, o in outcomes.items() if n != winners[0])
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        assert ticket.assignee.username == winners[0] and ticket.status == "assigned"
        claims = db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "claim"))
        assert claims == 1


def test_pick_next_prefers_skills_then_priority_then_age(app):
    with app.app_context():
        new_ticket("Question about delivery")              # orders-delivery, normal
        locked = new_ticket("I am locked out of my account")  # account-access, high
        new_ticket("Password question")                     # account-access, normal
        assert pick_next(db.session, agent("tim")).number == locked.number  # tim knows account-access
        db.session.commit()
        assert pick_next(db.session, agent("tim")).subject == "Password question"
        db.session.commit()
        assert pick_next(db.session, agent("tim")).subject == "Question about delivery"
        db.session.commit()
        assert pick_next(db.session, agent("tim")) is None


def test_pick_next_respects_capacity(app):
    with app.app_context():
        tim = agent("tim")
        tim.capacity = 1
        db.session.commit()
        new_ticket("one")
        new_ticket("two")
        pick_next(db.session, tim)
        db.session.commit()
        with pytest.raises(Conflict) as refused:
            pick_next(db.session, tim)
        assert refused.value.code == "at_capacity"


def test_console_pick_next(client, auth, app):
    with app.app_context():
        number = new_ticket("Locked out").number
    auth.login("tim")
    page = client.post("/agent/next", follow_redirects=True).get_data(as_text=True)
    assert f"You took {number}." in page
    empty = client.post("/agent/next", follow_redirects=True).get_data(as_text=True)
    assert "The queue is empty" in empty


@pytest.mark.parametrize("how", ["claim", "auto_assign"])
def test_claims_go_through_the_one_transition_path(app, monkeypatch, how):
    """A claim (a conditional UPDATE) is followed like every other status change: the SLA clock
    sees it, one audit entry, one live event — no path of its own."""
    from escalation import desk_settings, sla
    from escalation.claims import auto_assign
    from escalation.models import TicketEvent

    seen = []
    original = sla.on_status
    monkeypatch.setattr(sla, "on_status", lambda t, before, after, now=None: (seen.append((before, after)),
                                                                              original(t, before, after, now)))
    with app.app_context():
        ticket = new_ticket("Parcel lost")
        tim = agent("tim")
        if how == "claim":
            claim(db.session, ticket.id, tim)
        else:
            tim.presence = "online"
            desk_settings.set_value(db.session, "auto_assign", True, "kim")
            tim = auto_assign(db.session, ticket)  # the best available agent
            assert tim is not None
        db.session.commit()
        assert seen == [("new", "assigned")]
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.ticket_id == ticket.id,
                                                            AuditEntry.action == how)).one()
        assert (entry.from_status, entry.to_status, entry.details["agent"]) == ("new", "assigned", tim.username)
        status_events = db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                                     TicketEvent.kind == "status")).all()
        assert [e.payload["status"] for e in status_events] == ["assigned"]
