"""Staff raise a ticket on someone's behalf from the admin console (the form; the browser
test is tests/e2e/test_on_behalf.py)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from escalation.db import db
from escalation.models import OutboxMail, Ticket


def test_a_ticket_for_a_new_person_by_phone_sends_the_acknowledgement(app, client, auth):
    auth.login("kim")
    response = client.post("/admin/tickets/new", data={
        "name": "Austin Coy", "email": "Austin.Coy@northwind.example", "channel": "phone",
        "description": "Locked out of his work profile since the security update. Called from his desk phone."})
    assert response.status_code == 302
    with app.app_context():
        ticket = db.session.scalar(select(Ticket))
        assert (ticket.channel, ticket.customer.email, ticket.subject) == \
            ("phone", "austin.coy@northwind.example", "Locked out of his work profile since the security update. Called from his desk phone.")
        mails = db.session.scalars(select(OutboxMail).where(OutboxMail.ticket_id == ticket.id)).all()
        assert [(m.kind, m.to_addr) for m in mails] == [("acknowledgement", "austin.coy@northwind.example")]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "opened for Austin Coy (Phone call)" in page


def test_the_search_finds_people_who_wrote_before(app, client, auth, bot_headers):
    from .conftest import ticket_body

    client.post("/api/v1/tickets", json=ticket_body(), headers={**bot_headers, "Idempotency-Key": "k"})
    auth.login("kim")
    page = client.get("/admin/tickets/new?q=laura").get_data(as_text=True)
    assert "Laura Smith &lt;laura@example.com&gt;" in page
    assert "Nobody found" in client.get("/admin/tickets/new?q=zzzz").get_data(as_text=True)


@pytest.mark.parametrize("field, value", [("name", ""), ("email", "not-an-address"), ("channel", "fax"),
                                          ("description", "")])
def test_missing_or_wrong_fields_are_shown_again(app, client, auth, field, value):
    auth.login("kim")
    form = {"name": "A B", "email": "a@example.com", "channel": "meeting", "description": "Needs VPN access"}
    response = client.post("/admin/tickets/new", data={**form, field: value})
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(Ticket)) is None


def test_agents_do_not_raise_tickets_here(client, auth):
    auth.login("tim")
    assert client.get("/admin/tickets/new").status_code == 403
