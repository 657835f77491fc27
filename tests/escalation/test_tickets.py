"""Service functions: open, assign, acknowledge, reply, resolve, close — with the audit log."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from escalation import tickets
from escalation.db import db
from escalation.errors import Forbidden, TransitionRefused, ValidationFailed
from escalation.models import AuditEntry, Ticket, User


def user(name):
    return db.session.scalar(select(User).where(User.username == name))


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def opened(**kw):
    result = tickets.open_ticket(db.session, name="Austin", email="Austin@Example.com",
                                 subject="Locked out after the security update", **kw)
    db.session.commit()
    return result.ticket


def test_open_triages_and_audits(ctx):
    ticket = opened()
    assert ticket.customer.email == "austin@example.com"
    assert (ticket.category, ticket.priority) == ("account-access", "urgent")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.ticket_id == ticket.id))
    assert (entry.action, entry.from_status, entry.to_status, entry.actor) == ("open", None, "new", "bot")


def test_full_life_of_a_ticket(ctx):
    ticket = opened()
    tim, kim = user("tim"), user("kim")
    tickets.assign(db.session, ticket, tim, kim)
    tickets.acknowledge(db.session, ticket, tim)
    assert ticket.owner == "agent"
    tickets.reply(db.session, ticket, tim, "Try this")
    assert ticket.status == "waiting_on_customer"
    tickets.customer_message(db.session, ticket, "still broken")
    assert ticket.status == "in_progress"
    tickets.resolve(db.session, ticket, tim, "Reset the 2FA enrolment")
    assert (ticket.status, ticket.owner) == ("resolved", "bot")
    tickets.customer_message(db.session, ticket, "it broke again")
    assert ticket.status == "in_progress"
    tickets.resolve(db.session, ticket, tim, "Reset again")
    tickets.close(db.session, ticket, "worker")
    db.session.commit()
    trail = db.session.execute(select(AuditEntry.action, AuditEntry.from_status, AuditEntry.to_status)
                               .where(AuditEntry.ticket_id == ticket.id).order_by(AuditEntry.id)).all()
    assert [tuple(row) for row in trail] == [
        ("open", None, "new"), ("assign", "new", "assigned"), ("acknowledge", "assigned", "acknowledged"),
        ("reply", "acknowledged", "waiting_on_customer"), ("customer_reply", "waiting_on_customer", "in_progress"),
        ("resolve", "in_progress", "resolved"), ("reopen", "resolved", "in_progress"),
        ("resolve", "in_progress", "resolved"), ("close", "resolved", "closed"),
    ]


def test_only_the_assignee_acknowledges(ctx):
    ticket = opened()
    tickets.assign(db.session, ticket, user("tim"), "kim")
    with pytest.raises(Forbidden):
        tickets.acknowledge(db.session, ticket, user("terrence"))


def test_an_admin_cannot_be_assigned(ctx):
    with pytest.raises(ValidationFailed):
        tickets.assign(db.session, opened(), user("kim"), "kim")


def test_resolution_note_is_required(ctx):
    ticket = opened()
    tickets.assign(db.session, ticket, user("tim"), "kim")
    tickets.acknowledge(db.session, ticket, user("tim"))
    with pytest.raises(ValidationFailed):
        tickets.resolve(db.session, ticket, user("tim"), "  ")


def test_new_ticket_cannot_be_resolved(ctx):
    with pytest.raises(TransitionRefused):
        tickets.resolve(db.session, opened(), user("kim"), "done")


def test_closed_ticket_refuses_customer_messages(ctx):
    ticket = opened()
    tim = user("tim")
    tickets.assign(db.session, ticket, tim, "kim")
    tickets.acknowledge(db.session, ticket, tim)
    tickets.resolve(db.session, ticket, tim, "fixed")
    tickets.close(db.session, ticket, "kim")
    with pytest.raises(Exception) as refused:
        tickets.customer_message(db.session, ticket, "hello?")
    assert getattr(refused.value, "code", "") == "ticket_closed"


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_simultaneous_first_tickets_from_one_new_address_share_one_customer(app, database):
    # Before, both looked the customer up, both inserted, and one hit the unique e-mail: a 500.
    import threading

    from escalation.models import Customer

    count = 8
    barrier = threading.Barrier(count)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def open_one(i: int) -> None:
        with app.app_context():
            barrier.wait(timeout=60)
            try:
                opened = tickets.open_ticket(db.session, name="Nina New", email="Nina.New@example.com",
                                             subject=f"question {i}")
                db.session.commit()
                numbers.append(opened.ticket.number)
            except BaseException as exc:  # noqa: BLE001 - reported below
                db.session.rollback()
                errors.append(exc)

    threads = [threading.Thread(target=open_one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(set(numbers)) == count
    with app.app_context():
        customers = db.session.scalars(select(Customer).where(Customer.email == "nina.new@example.com")).all()
        assert len(customers) == 1
        assert {t.customer_id for t in db.session.scalars(select(Ticket))} == {customers[0].id}
