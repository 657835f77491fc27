"""The portal's tickets: My tickets, the ticket page (thread, live, reply, solved / reopen), a
new ticket by the form, self-served, my data; and the IDOR table — a customer can never read
or change another customer's ticket on any portal route."""
from __future__ import annotations

import json
import re

import pytest
from flask import Flask
from sqlalchemy import func, select

from escalation import create_app, dashboard, tickets
from escalation.db import db
from escalation.models import AuditEntry, BotOutcome, CustomerAccount, Message, Ticket, User
from escalation.schema import upgrade
from escalation.users import seed_demo_users

from .. import databases
from .conftest import DEMO_PASSWORD, SERVICE_TOKEN, ticket_body
from .portal_helpers import last_link, register, sign_in
from .test_events import frames
from .test_security_routes import ROUTES


def open_ticket(client, bot_headers, key, **body):
    reply = client.post("/api/v1/tickets", json=ticket_body(conversation_id=key, **body),
                        headers={**bot_headers, "Idempotency-Key": key})
    assert reply.status_code == 201
    return reply.get_json()["number"]


def work_on(app, number, *steps):
    """Tim (and Kim) act on the ticket through the service functions the consoles call."""
    with app.app_context():
        ticket = tickets.get_by_number(db.session, number)
        tim = db.session.scalar(select(User).where(User.username == "tim"))
        for step in steps:
            if step == "assign":
                tickets.assign(db.session, ticket, tim, "kim")
            elif step == "note":
                tickets.reply(db.session, ticket, tim, "internal: customer seems annoyed", internal=True)
            elif step == "reply":
                tickets.reply(db.session, ticket, tim, "Hello Laura, Tim here.")
        db.session.commit()


@pytest.fixture
def laura(app, client, bot_headers):
    number = open_ticket(client, bot_headers, "laura-chat")
    register(app, client)
    return number


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def test_my_tickets_lists_number_subject_status_agent_update_and_first_reply(app, client, bot_headers, laura):
    work_on(app, laura, "assign")
    html = page(client, "/portal/tickets")
    row = re.search(r'<tr data-testid="portal-ticket-row" data-number="' + laura + r'">(.*?)</tr>', html, re.S)
    assert row, html
    cells = re.sub(r"<[^>]+>", "|", row.group(1))
    assert "Tim Agent" in cells and "assigned" in cells and "expected by" in cells
    assert "my account has been inactive for 2 years" in cells  # the subject from the chat


def test_open_and_all_filters(app, client, laura):
    with app.app_context():
        ticket = tickets.get_by_number(db.session, laura)
        tickets.customer_resolve(db.session, ticket)
        db.session.commit()
    assert laura not in page(client, "/portal/tickets")
    assert laura in page(client, "/portal/tickets?status=all")


def test_the_ticket_page_shows_the_thread_and_never_an_internal_note(app, client, laura):
    work_on(app, laura, "assign", "note", "reply")
    html = page(client, f"/portal/tickets/{laura}")
    assert "Hello Laura, Tim here." in html and "my account has been inactive" in html  # thread + transcript
    assert "customer seems annoyed" not in html
    state = client.get(f"/portal/tickets/{laura}/state").get_json()
    assert state["agent"] == "Tim Agent" and state["first_reply"]["kind"] == "answered"


def test_the_ticket_page_is_live_on_the_widgets_stream(app, client, laura):
    work_on(app, laura, "assign", "note", "reply")
    got = frames(client.get(f"/portal/tickets/{laura}/events"), 5)
    assert [f["event"] for f in got] == ["status", "status", "agent_joined", "status", "message"]
    assert got[0]["data"]["status"] == "assigned" and got[-1]["data"]["body"] == "Hello Laura, Tim here."
    assert all("annoyed" not in json.dumps(f["data"]) for f in got)
    resumed = frames(client.get(f"/portal/tickets/{laura}/events", headers={"Last-Event-ID": str(got[2]["id"])}), 2)
    assert resumed == got[3:]


def test_reply_solved_and_reopen(app, client, laura):
    work_on(app, laura, "assign", "reply")
    assert client.post(f"/portal/tickets/{laura}/reply", data={"body": "Thanks, trying now"}).status_code == 303
    assert client.post(f"/portal/tickets/{laura}/solved").status_code == 303
    with app.app_context():
        ticket = tickets.get_by_number(db.session, laura)
        assert ticket.status == "resolved" and ticket.resolved_at is not None
        assert [m.body for m in ticket.messages if m.author_type == "customer"] == ["Thanks, trying now"]
        actors = {a.actor for a in db.session.scalars(select(AuditEntry).where(AuditEntry.ticket_id == ticket.id,
                                                                               AuditEntry.action == "customer_resolve"))}
        assert actors == {f"customer:{ticket.customer_id}"}
    assert client.post(f"/portal/tickets/{laura}/reopen").status_code == 303
    with app.app_context():
        ticket = tickets.get_by_number(db.session, laura)
        assert (ticket.status, ticket.owner) == ("in_progress", "agent")


def test_reopening_a_ticket_no_agent_held_puts_it_back_in_the_queue(app, client, laura):
    client.post(f"/portal/tickets/{laura}/solved")
    client.post(f"/portal/tickets/{laura}/reopen")
    with app.app_context():
        ticket = tickets.get_by_number(db.session, laura)
        assert (ticket.status, ticket.owner, ticket.assignee_id) == ("new", "queued", None)


def test_raise_a_ticket_by_the_form(app, client, laura):
    response = client.post("/portal/tickets/new", data={"subject": "Parcel never arrived",
                                                        "description": "Order 1234, two weeks ago.",
                                                        "category": "orders-delivery"})
    assert response.status_code == 303
    number = response.headers["Location"].rsplit("/", 1)[1]
    with app.app_context():
        ticket = tickets.get_by_number(db.session, number)
        assert (ticket.channel, ticket.category, ticket.customer.email) == ("web_form", "orders-delivery",
                                                                           "laura@example.com")
        assert ticket.first_response_due is not None  # the SLA clock runs as for any ticket
    assert number in page(client, "/portal/tickets") and laura in page(client, "/portal/tickets")
    assert 'data-kb-suggest="/api/v1/kb/search"' in page(client, "/portal/tickets/new")


def test_this_answered_my_question_counts_as_self_served(app, client, laura):
    response = client.post("/portal/tickets/new/self-served", data={"article_id": "reset-password",
                                                                    "question": "forgot my password"})
    assert response.status_code == 303
    with app.app_context():
        outcomes = db.session.scalars(select(BotOutcome)).all()
        assert [(o.outcome, o.article_id, o.question) for o in outcomes] == [
            ("self_served", "reset-password", "forgot my password")]
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1  # no ticket opened
        assert dashboard.build(db.session).self_served == 1


def test_download_my_data_and_erase_it_after_confirming_by_mail(app, client, laura):
    export = client.post("/portal/privacy/export")
    assert export.status_code == 200 and "attachment" in export.headers["Content-Disposition"]
    data = export.get_json()
    assert data["customer"]["email"] == "laura@example.com" and data["portal_account"]["verified_at"]
    assert [t["number"] for t in data["tickets"]] == [laura]
    account_mails = [m for m in data["emails"] if m["kind"] == "account"]
    assert account_mails and all("/portal/" not in m["body_text"] for m in account_mails)  # no live links
    assert client.post("/portal/privacy/erase").status_code == 202
    link = last_link(app, "laura@example.com")
    assert link.startswith("/portal/privacy/erase/")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CustomerAccount)) == 1  # not yet
    assert client.post(link).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CustomerAccount)) == 0
        ticket = tickets.get_by_number(db.session, laura)
        assert ticket.customer.email.endswith("@erased.invalid")
        actions = [a.action for a in db.session.scalars(select(AuditEntry).where(AuditEntry.ticket_id.is_(None)))]
        assert "gdpr_export" in actions and "gdpr_erase" in actions
    assert client.get("/portal/tickets").status_code == 302  # signed out
    assert sign_in(client) == 401


def test_text_is_escaped_on_every_portal_page(app, client, bot_headers):
    evil = '<img src=x onerror=alert(1)>'
    number = open_ticket(client, bot_headers, "evil", subject=evil, name=evil)
    register(app, client, name=evil)
    work_on(app, number, "assign")
    for url in ("/portal/tickets", f"/portal/tickets/{number}"):
        html = page(client, url)
        assert evil not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


# ---- IDOR: Bob can never read or change Laura's ticket, on any portal route ------------------

TICKET_ROUTES = [("portal.reopen", "POST"), ("portal.reply", "POST"), ("portal.solved", "POST"),
                 ("portal.ticket", "GET"), ("portal.ticket_events", "GET"), ("portal.ticket_state_json", "GET")]


def test_the_idor_table_covers_every_portal_route_that_takes_a_ticket_number(app):
    takes_number = sorted({(rule.endpoint, m) for rule in app.url_map.iter_rules()
                           if rule.endpoint.startswith("portal.") and "number" in rule.arguments
                           for m in rule.methods - {"HEAD", "OPTIONS"}})
    assert TICKET_ROUTES == takes_number


@pytest.mark.parametrize("endpoint,method", TICKET_ROUTES, ids=[f"{m} {e}" for e, m in TICKET_ROUTES])
def test_another_customers_ticket_is_not_found_and_unchanged(app, client, bot_headers, laura, endpoint, method):
    work_on(app, laura, "assign", "reply")
    bob = app.test_client()
    open_ticket(bob, bot_headers, "bob-chat", email="bob@example.com", name="Bob")
    register(app, bob, email="bob@example.com", name="Bob")
    with app.app_context():
        before = (tickets.get_by_number(db.session, laura).status, db.session.scalar(
            select(func.count()).select_from(Message)))
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    url = rule.rule.replace("<number>", laura)
    response = bob.open(url, method=method, data={"body": "Bob was here"})
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert "Hello Laura" not in text and "inactive" not in text
    nonexistent = bob.open(rule.rule.replace("<number>", "CR-99999"), method=method, data={"body": "x"})
    assert nonexistent.status_code == 404  # the same answer as for a number nobody has
    with app.app_context():
        after = (tickets.get_by_number(db.session, laura).status, db.session.scalar(
            select(func.count()).select_from(Message)))
    assert after == before


# ---- CSRF: every portal form needs the token -----------------------------------------------

@pytest.fixture
def csrf_app(tmp_path):
    with databases.test_database(tmp_path) as url:
        app = create_app({"TESTING": True, "DATABASE_URL": url, "SERVICE_TOKEN": SERVICE_TOKEN,
                          "SECRET_KEY": "test-secret", "PUBLIC_URL": "http://care.test"})  # CSRF on
        upgrade(app)
        with app.app_context():
            seed_demo_users(db.session, DEMO_PASSWORD)
            db.session.commit()
        yield app
        app.extensions["care_engine"].dispose()


PORTAL_POSTS = sorted((e, m) for e, m in ROUTES if e.startswith("portal.") and m == "POST")


@pytest.mark.parametrize("endpoint", [e for e, _ in PORTAL_POSTS])
def test_every_portal_form_refuses_a_post_without_the_csrf_token(csrf_app: Flask, endpoint):
    rule = next(r for r in csrf_app.url_map.iter_rules() if r.endpoint == endpoint)
    url = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", "x", rule.rule)
    response = csrf_app.test_client().post(url, data={"email": "laura@example.com", "password": "long-enough-pw",
                                                      "name": "Laura", "body": "hi"})
    assert response.status_code == 400 and "form expired" in response.get_data(as_text=True)


def test_with_the_csrf_token_the_forms_work(csrf_app: Flask):
    client = csrf_app.test_client()
    form = client.get("/portal/register").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    response = client.post("/portal/register", data={"csrf_token": token, "name": "Laura",
                                                     "email": "laura@example.com", "password": "long-enough-pw"})
    assert response.status_code == 202
