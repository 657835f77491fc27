"""GDPR: export everything about one customer, and erase their personal data (tickets kept)."""
from __future__ import annotations

import json

from sqlalchemy import inspect, select, text

from escalation import tickets
from escalation.db import db
from escalation.models import AuditEntry, BotOutcome, Customer, Message, OutboxMail, Survey, Ticket, User

from .conftest import ticket_body

LAURA = "laura@example.com"
PERSONAL = ("laura", "smith", "inactive for 2 years", "my dog rex", "card ending 4242", "loved it")


def laura_with_history(app, client, bot_headers) -> dict:
    """Laura's ticket: transcript, replies both ways, an internal note, resolved, rated; plus a bot outcome."""
    opened = client.post("/api/v1/tickets", json=ticket_body(description="Laura Smith, card ending 4242"),
                         headers={**bot_headers, "Idempotency-Key": "gdpr"}).get_json()
    client.post(f"/api/v1/conversations/{opened['token']}/messages", json={"body": "It is my dog Rex's account"})
    with app.app_context():
        ticket = tickets.get_by_number(db.session, opened["number"])
        tim = db.session.scalar(select(User).where(User.username == "tim"))
        tickets.assign(db.session, ticket, tim, "kim")
        tickets.reply(db.session, ticket, tim, "Hello Laura, checking laura@example.com", internal=False)
        tickets.reply(db.session, ticket, tim, "Laura Smith called twice", internal=True)
        tickets.resolve(db.session, ticket, tim, "Reactivated Laura's account")
        db.session.commit()
    client.post(f"/api/v1/conversations/{opened['token']}/survey",
                json={"rating": 4, "comment": "Loved it, Laura"})
    client.post("/api/v1/bot/outcomes", headers=bot_headers,
                json={"conversation_id": "conv-1", "outcome": "escalated", "question": "inactive for 2 years, Laura"})
    return opened


def other_customer(client, bot_headers) -> dict:
    body = ticket_body(name="Omar Other", email="omar@example.com", conversation_id="conv-2",
                       transcript=[{"sender": "user", "text": "where is my parcel"}])
    return client.post("/api/v1/tickets", json=body, headers={**bot_headers, "Idempotency-Key": "other"}).get_json()


def everything_in_the_database(app) -> str:
    """Every row of every table, as text (what a breach would show)."""
    with app.app_context():
        names = inspect(db.engine).get_table_names()
        with db.engine.connect() as conn:
            return "\n".join(repr(row) for name in names
                             for row in conn.execute(text(f'SELECT * FROM "{name}"'))).lower()


# ---- export --------------------------------------------------------------------------------

def test_export_has_everything_about_the_customer(app, client, bot_headers):
    opened = laura_with_history(app, client, bot_headers)
    other_customer(client, bot_headers)
    response = client.post("/api/v1/privacy/export", json={"email": "Laura@Example.com "}, headers=bot_headers)
    assert response.status_code == 200
    data = response.get_json()
    assert data["customer"]["name"] == "Laura Smith" and data["customer"]["email"] == LAURA
    assert [t["number"] for t in data["tickets"]] == [opened["number"]]
    ticket = data["tickets"][0]
    assert ticket["description"] == "Laura Smith, card ending 4242"
    assert [e["text"] for e in ticket["transcript"]][1] == "Here's what our help centre says"  # what the bot said
    bodies = {(m["author"], m["internal"], m["body"]) for m in ticket["messages"]}
    assert ("customer", False, "It is my dog Rex's account") in bodies
    assert ("agent", False, "Hello Laura, checking laura@example.com") in bodies
    assert ("agent", True, "Laura Smith called twice") in bodies
    assert ticket["survey"] == {"rating": 4, "comment": "Loved it, Laura", "created_at": ticket["survey"]["created_at"]}
    assert {"open", "assign", "resolve", "rate"} <= {a["action"] for a in ticket["audit"]}
    assert data["bot_outcomes"][0]["question"] == "inactive for 2 years, Laura"
    assert {m["kind"] for m in data["emails"]} >= {"acknowledgement", "resolved"}
    assert "omar" not in json.dumps(data).lower()
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "gdpr_export"))
        assert entry.actor == "service-token" and entry.details["customer_id"] == data["customer"]["id"]
        assert LAURA not in json.dumps(entry.details)


def test_export_needs_an_admin_or_the_token(client, auth, bot_headers):
    laura = {"email": LAURA}
    client.post("/api/v1/tickets", json=ticket_body(), headers={**bot_headers, "Idempotency-Key": "a"})
    assert client.post("/api/v1/privacy/export", json=laura).status_code == 401
    wrong = client.post("/api/v1/privacy/export", json=laura, headers={"Authorization": "Bearer wrong"})
    assert wrong.get_json()["error"]["code"] == "service_token_required"
    auth.login("tim")
    refused = client.post("/api/v1/privacy/export", json=laura)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    auth.logout()
    auth.login("kim")
    assert client.post("/api/v1/privacy/export", json=laura).status_code == 200
    missing = client.post("/api/v1/privacy/export", json={"email": "nobody@example.com"})
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "customer_not_found"
    assert client.post("/api/v1/privacy/export", json={"mail": LAURA}).status_code == 422


def test_admin_console_finds_and_exports(app, client, auth, bot_headers):
    laura_with_history(app, client, bot_headers)
    auth.login("kim")
    page = client.post("/admin/privacy", data={"email": LAURA})
    assert page.status_code == 200 and "Laura Smith" in page.get_data(as_text=True)
    assert "No customer" in client.post("/admin/privacy", data={"email": "x@example.com"}).get_data(as_text=True)
    exported = client.post("/admin/privacy/export", data={"email": LAURA})
    assert exported.status_code == 200 and exported.mimetype == "application/json"
    assert exported.headers["Content-Disposition"].startswith("attachment;")
    assert json.loads(exported.get_data())["customer"]["email"] == LAURA
    with app.app_context():
        assert db.session.scalar(select(AuditEntry.actor).where(AuditEntry.action == "gdpr_export")) == "kim"


# ---- erase ---------------------------------------------------------------------------------

def test_erase_removes_personal_data_and_keeps_the_statistics(app, client, bot_headers, auth):
    opened = laura_with_history(app, client, bot_headers)
    omar = other_customer(client, bot_headers)
    with app.app_context():
        before = db.session.scalar(select(Ticket).where(Ticket.number == opened["number"]))
        status, priority, category, created = before.status, before.priority, before.category, before.created_at
        messages_before = db.session.query(Message).count()
    auth.login("kim")
    response = client.post("/api/v1/privacy/erase", json={"email": LAURA})
    assert response.status_code == 200
    result = response.get_json()
    assert result["erased"] is True and result["tickets"] == [opened["number"]]

    with app.app_context():
        customer = db.session.get(Customer, result["customer_id"])
        assert customer.name == "Deleted customer"
        assert customer.email == f"deleted-customer-{customer.id}@erased.invalid"
        ticket = db.session.scalar(select(Ticket).where(Ticket.number == opened["number"]))
        # the statistics stay
        assert (ticket.status, ticket.priority, ticket.category, ticket.created_at) == (status, priority, category,
                                                                                        created)
        assert ticket.resolved_at is not None and ticket.customer_id == customer.id
        assert db.session.query(Message).count() == messages_before
        assert db.session.scalar(select(Survey.rating)) == 4
        assert [e["sender"] for e in ticket.transcript] == ["user", "bot", "user"]
        assert ticket.transcript[0]["intent"] == "ask_question"
        assert all(e["text"] == "[erased]" for e in ticket.transcript)
        assert {m.body for m in ticket.messages} == {"[erased]"}
        assert {m.author_name for m in ticket.messages if m.author_type == "customer"} == {"Deleted customer"}
        assert db.session.scalar(select(BotOutcome.question).where(BotOutcome.conversation_id == "conv-1")) == ""
        # unsent mail to the customer is cancelled, never sent to the placeholder
        mails = db.session.scalars(select(OutboxMail).where(OutboxMail.ticket_id == ticket.id)).all()
        assert all(m.status in {"failed", "sent"} and m.body_text == "[erased]" for m in mails)
        assert all("erased" in m.last_error for m in mails if m.status == "failed")
        # audit-logged, by customer id, never by address
        erased = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "gdpr_erase")).all()
        assert {e.ticket_id for e in erased} == {ticket.id, None}
        assert all(e.actor == "kim" and e.details["customer_id"] == customer.id for e in erased)
        # the other customer is untouched
        assert db.session.scalar(select(Customer.name).where(Customer.email == "omar@example.com")) == "Omar Other"

    # nothing personal is left anywhere in the database
    dump = everything_in_the_database(app)
    assert [word for word in PERSONAL if word in dump] == []
    assert "omar other" in dump

    # the old conversation link stops working; the ticket number no longer opens with the old e-mail
    assert client.get(f"/api/v1/conversations/{opened['token']}").status_code == 404
    assert client.get(f"/api/v1/conversations/{omar['token']}").status_code == 200
    assert client.post("/track", data={"number": opened["number"], "email": LAURA}).status_code == 404
    # the address is free again: Laura can come back as a new customer
    assert client.post("/api/v1/privacy/erase", json={"email": LAURA}).status_code == 404
    again = client.post("/api/v1/tickets", json=ticket_body(), headers={**bot_headers, "Idempotency-Key": "back"})
    assert again.status_code == 201
    # and the admin console still shows the anonymised ticket
    assert client.get(f"/admin/tickets/{opened['number']}").status_code == 200


def test_erase_from_the_admin_console_needs_confirmation(app, client, auth, bot_headers):
    laura_with_history(app, client, bot_headers)
    auth.login("kim")
    refused = client.post("/admin/privacy/erase", data={"email": LAURA, "confirm": "someone@else.com"},
                          follow_redirects=True)
    assert "type the customer" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Customer.name).where(Customer.email == LAURA)) == "Laura Smith"
    done = client.post("/admin/privacy/erase", data={"email": LAURA, "confirm": " Laura@example.com"})
    assert done.status_code == 303
    assert "erased: 1 ticket(s) kept" in client.get("/admin/privacy").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Customer).where(Customer.email == LAURA)) is None
        assert db.session.scalar(select(AuditEntry.actor).where(AuditEntry.action == "gdpr_erase")) == "kim"


def test_erase_with_the_service_token_and_agents_are_refused(app, client, auth, bot_headers):
    client.post("/api/v1/tickets", json=ticket_body(), headers={**bot_headers, "Idempotency-Key": "s"})
    auth.login("tim")
    assert client.post("/api/v1/privacy/erase", json={"email": LAURA}).status_code == 403
    assert client.post("/admin/privacy/erase", data={"email": LAURA, "confirm": LAURA}).status_code == 403
    auth.logout()
    response = client.post("/api/v1/privacy/erase", json={"email": LAURA}, headers=bot_headers)
    assert response.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(AuditEntry.actor).where(AuditEntry.action == "gdpr_erase")) == "service-token"
