"""The customer's side after handoff: the conversation token is the credential."""
from __future__ import annotations

from escalation import tickets
from escalation.db import db
from escalation.models import User

from .conftest import ticket_body


def open_ticket(client, bot_headers):
    return client.post("/api/v1/tickets", json=ticket_body(),
                       headers={**bot_headers, "Idempotency-Key": "c1"}).get_json()


def test_conversation_shows_public_messages_but_never_internal_notes(app, client, bot_headers):
    opened = open_ticket(client, bot_headers)
    with app.app_context():
        ticket = tickets.get_by_number(db.session, opened["number"])
        tim = db.session.query(User).filter_by(username="tim").one()
        tickets.assign(db.session, ticket, tim, "kim")
        tickets.reply(db.session, ticket, tim, "Hi Laura, I can help.")
        tickets.reply(db.session, ticket, tim, "customer seems legit", internal=True)
        db.session.commit()
    body = client.get(f"/api/v1/conversations/{opened['token']}").get_json()
    assert [m["body"] for m in body["messages"]] == ["Hi Laura, I can help."]
    assert body["agent"] == "Tim Agent" and body["owner"] == "agent"


def test_customer_message_is_added_to_the_thread(client, bot_headers):
    opened = open_ticket(client, bot_headers)
    response = client.post(f"/api/v1/conversations/{opened['token']}/messages", json={"body": "<b>hello</b>"})
    assert response.status_code == 201
    body = client.get(f"/api/v1/conversations/{opened['token']}").get_json()
    assert body["messages"][-1]["body"] == "<b>hello</b>"
    assert body["messages"][-1]["author"] == "customer"


def test_wrong_token_is_not_found(client, bot_headers):
    open_ticket(client, bot_headers)
    response = client.get("/api/v1/conversations/not-the-token")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "conversation_not_found"
