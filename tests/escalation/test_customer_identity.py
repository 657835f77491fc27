"""A name typed in chat belongs to that ticket; it never renames the stored customer
(issue 12, finding 6: "talk to a person", any name, someone else's e-mail renamed them)."""
from __future__ import annotations

from sqlalchemy import select

from escalation import tickets
from escalation.db import db
from escalation.models import Customer

from .conftest import ticket_body


def open_ticket(client, bot_headers, key: str, **fields):
    response = client.post("/api/v1/tickets", json=ticket_body(**fields),
                           headers={**bot_headers, "Idempotency-Key": key})
    assert response.status_code == 201
    return response.get_json()


def stored_name(app, email: str) -> str:
    with app.app_context():
        return db.session.scalar(select(Customer.name).where(Customer.email == email))


def test_a_name_typed_in_chat_does_not_rename_the_customer(app, client, auth, bot_headers):
    laura = open_ticket(client, bot_headers, "laura", name="Laura Smith", conversation_id="c-laura")
    forged = open_ticket(client, bot_headers, "mallory", name="Mallory Forger", conversation_id="c-mallory")
    assert stored_name(app, "laura@example.com") == "Laura Smith"
    auth.login("kim")
    queue = client.get("/admin/").get_data(as_text=True)
    assert "Laura Smith" in queue and "Mallory Forger" in queue  # each ticket shows its own requester
    first = client.get(f"/admin/tickets/{laura['number']}").get_data(as_text=True)
    assert "Laura Smith" in first and "Mallory Forger" not in first
    second = client.get(f"/admin/tickets/{forged['number']}").get_data(as_text=True)
    assert "Mallory Forger" in second


def test_the_customers_messages_carry_the_tickets_name(app, client, bot_headers):
    open_ticket(client, bot_headers, "laura", name="Laura Smith", conversation_id="c-laura")
    forged = open_ticket(client, bot_headers, "mallory", name="Mallory Forger", conversation_id="c-mallory")
    sent = client.post(f"/api/v1/conversations/{forged['token']}/messages", json={"body": "hi"})
    assert sent.get_json()["author_name"] == "Mallory Forger"


def test_email_tickets_do_not_rename_the_customer_either(app):
    with app.app_context():
        tickets.open_ticket(db.session, name="Laura Smith", email="laura@example.com")
        opened = tickets.open_ticket(db.session, name="Someone Else", email="LAURA@example.com ", channel="email")
        db.session.commit()
        assert opened.ticket.customer_name == "Someone Else"
        assert opened.ticket.customer.name == "Laura Smith"


def test_erasure_removes_the_names_given_on_each_ticket(app, client, bot_headers):
    opened = open_ticket(client, bot_headers, "mallory", name="Mallory Forger", conversation_id="c-mallory")
    export = client.post("/api/v1/privacy/export", json={"email": "laura@example.com"}, headers=bot_headers)
    assert export.get_json()["tickets"][0]["requester_name"] == "Mallory Forger"
    assert client.post("/api/v1/privacy/erase", json={"email": "laura@example.com"},
                       headers=bot_headers).status_code == 200
    with app.app_context():
        ticket = tickets.get_by_number(db.session, opened["number"])
        assert "Mallory" not in ticket.customer_name
