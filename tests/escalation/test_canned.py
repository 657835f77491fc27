"""Canned responses: managed by the admin, filled in for a ticket, inserted into the reply box."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from escalation import canned, tickets
from escalation.db import db
from escalation.models import AuditEntry, CannedResponse, User

from .conftest import DEMO_PASSWORD

XSS = '<script>alert("x")</script>'


def draft(title="Greeting", body="Hello {{ customer_name }}, this is {{ agent_name }} about {{ ticket_number }}.",
          category=None):
    return canned.Draft.of(title, body, category)


def open_ticket(name="Laura Smith", subject="I am locked out of my account"):
    ticket = tickets.open_ticket(db.session, name=name, email="laura@example.com", subject=subject).ticket
    db.session.commit()
    return ticket


def tim():
    return db.session.scalar(select(User).where(User.username == "tim"))


# --- the service -----------------------------------------------------------------------------

def test_create_update_delete_are_audited(app):
    with app.app_context():
        row = canned.create(db.session, draft(), "kim")
        db.session.commit()
        assert [r.title for r in canned.listing(db.session)] == ["Greeting"]
        canned.update(db.session, row.id, draft(title="Hello", body="Hi {{ customer_name }}"), "kim")
        db.session.commit()
        assert db.session.get(CannedResponse, row.id).body == "Hi {{ customer_name }}"
        assert canned.delete(db.session, row.id, "kim") == "Hello"
        db.session.commit()
        assert canned.listing(db.session) == []
        audit = db.session.scalars(select(AuditEntry).where(AuditEntry.action.like("canned_%"))
                                   .order_by(AuditEntry.id)).all()
        assert [a.action for a in audit] == ["canned_create", "canned_update", "canned_delete"]
        assert audit[1].details["previous"]["title"] == "Greeting"
        assert audit[2].details["previous"]["body"] == "Hi {{ customer_name }}"


@pytest.mark.parametrize("title,body,category,field,message", [
    ("", "text", None, "title", "Give the response a title"),
    ("x" * 121, "text", None, "title", "too long"),
    ("Greeting", "", None, "body", "Write the text"),
    ("Other", "Dear {{ customer }} {{ ticket.token_hash }}", None, "body", "Unknown placeholder {{ customer }}"),
    ("Other", "text", "no-such-category", "category", "Choose a category"),
])
def test_invalid_responses_are_refused_with_the_reason(app, title, body, category, field, message):
    with app.app_context():
        canned.create(db.session, draft(), "kim")
        with pytest.raises(canned.CannedRefused) as refused:
            canned.create(db.session, canned.Draft.of(title, body, category), "kim")
        assert message in refused.value.errors[field]
        assert refused.value.status == 422


def test_titles_are_unique_whatever_the_case(app):
    with app.app_context():
        first = canned.create(db.session, draft(), "kim")
        with pytest.raises(canned.CannedRefused) as refused:
            canned.create(db.session, draft(title="GREETING"), "kim")
        assert "already is a response called" in refused.value.errors["title"]
        # saving a response under its own title is fine
        canned.update(db.session, first.id, draft(body="changed"), "kim")


def test_placeholders_are_filled_as_plain_text_never_evaluated(app):
    with app.app_context():
        ticket = open_ticket(name=XSS)
        body = ("{{customer_name}} / {{ ticket_number }} / {{ agent_name }} / {{ 7*7 }} / "
                "{{ customer_name.__class__ }} / {% if true %}x{% endif %}")
        row = canned.create(db.session, draft(body=body), "kim")
        text = canned.filled(db.session, row.id, ticket, tim())
        assert text == (f"{XSS} / {ticket.number} / Tim Agent / {{{{ 7*7 }}}} / "
                        "{{ customer_name.__class__ }} / {% if true %}x{% endif %}")


def test_a_customer_without_a_name_is_there(app):
    with app.app_context():
        ticket = open_ticket(name=" ")
        assert canned.values_for(ticket, tim())["customer_name"] == "there"


def test_responses_for_the_ticket_category_come_first(app):
    with app.app_context():
        ticket = open_ticket()  # account-access
        canned.create(db.session, draft(title="A refund", body="refund", category="returns-refunds"), "kim")
        canned.create(db.session, draft(title="B reset", body="reset", category="account-access"), "kim")
        canned.create(db.session, draft(title="C any", body="any"), "kim")
        assert [f.title for f in canned.for_ticket(db.session, ticket, tim())] == ["B reset", "A refund", "C any"]


def test_demo_responses_are_seeded_once(app):
    with app.app_context():
        added = canned.seed_demo(db.session)
        db.session.commit()
        assert len(added) == len(canned.DEMO_RESPONSES) >= 3
        assert canned.seed_demo(db.session) == []
        for row in canned.listing(db.session):
            assert canned.validate(db.session, canned.Draft.of(row.title, row.body, row.category),
                                   current_id=row.id) == {}


def test_init_db_seeds_the_demo_responses(app):
    with app.app_context():  # `flask` pushes one; the test runner does not
        result = app.test_cli_runner().invoke(args=["init-db", "--demo-password", DEMO_PASSWORD])
    assert result.exit_code == 0, result.output
    assert "demo canned responses added: Greeting" in result.output
    with app.app_context():
        assert len(canned.listing(db.session)) == len(canned.DEMO_RESPONSES)


# --- the admin pages -------------------------------------------------------------------------

def test_admin_manages_responses_in_the_console(client, auth, app):
    auth.login("kim")
    empty = client.get("/admin/canned").get_data(as_text=True)
    assert 'data-testid="canned-empty"' in empty and 'href="/admin/canned"' in empty  # the nav link too
    created = client.post("/admin/canned", data={"title": "Greeting", "category": "billing",
                                                 "body": "Hello {{ customer_name }}"})
    assert created.status_code == 303
    listing = client.get("/admin/canned").get_data(as_text=True)
    assert "“Greeting” is saved" in listing and "Hello {{ customer_name }}" in listing
    with app.app_context():
        row = db.session.scalar(select(CannedResponse))
        assert (row.title, row.category, row.updated_by) == ("Greeting", "billing", "kim")
    edit = client.get(f"/admin/canned/{row.id}").get_data(as_text=True)
    assert 'value="Greeting"' in edit and '<option value="billing" selected>' in edit
    saved = client.post(f"/admin/canned/{row.id}", data={"title": "Welcome", "category": "",
                                                         "body": "Hi {{ agent_name }}"}, follow_redirects=True)
    assert "“Welcome” is saved" in saved.get_data(as_text=True)
    with app.app_context():
        row = db.session.get(CannedResponse, row.id)
        assert (row.title, row.category, row.body) == ("Welcome", None, "Hi {{ agent_name }}")
    deleted = client.post(f"/admin/canned/{row.id}/delete", follow_redirects=True).get_data(as_text=True)
    assert "“Welcome” is deleted" in deleted and 'data-testid="canned-empty"' in deleted
    assert client.get(f"/admin/canned/{row.id}").status_code == 404


def test_errors_are_shown_in_the_form_and_the_input_kept(client, auth, app):
    auth.login("kim")
    response = client.post("/admin/canned", data={"title": XSS, "body": "Dear {{ name }}", "category": ""})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-testid="error-body"' in page and "Unknown placeholder {{ name }}" in unescape(page)
    assert "<script>alert" not in page and "&lt;script&gt;" in page  # the kept title is escaped
    assert "Dear {{ name }}</textarea>" in unescape(page)
    assert 'aria-invalid="true"' in page
    with app.app_context():
        assert canned.listing(db.session) == []
        row = canned.create(db.session, draft(), "kim")
        db.session.commit()
    response = client.post(f"/admin/canned/{row.id}", data={"title": "", "body": "x"})
    assert response.status_code == 422 and 'data-testid="error-title"' in response.get_data(as_text=True)


def test_agents_cannot_manage_responses(client, auth, app):
    with app.app_context():
        row = canned.create(db.session, draft(), "kim")
        db.session.commit()
    auth.login("tim")
    assert client.get("/admin/canned").status_code == 403
    assert client.post("/admin/canned", data={"title": "x", "body": "y"}).status_code == 403
    assert client.post(f"/admin/canned/{row.id}/delete").status_code == 403
    with app.app_context():
        assert len(canned.listing(db.session)) == 1


def test_the_forms_need_a_csrf_token(client, auth, app):
    with app.app_context():
        row = canned.create(db.session, draft(), "kim")
        db.session.commit()
    auth.login("kim")
    app.config["WTF_CSRF_ENABLED"] = True
    page = client.get("/admin/canned").get_data(as_text=True)
    assert page.count('name="csrf_token"') >= 3  # sign out, delete, the new-response form
    assert client.post("/admin/canned", data={"title": "x", "body": "y"}).status_code == 400
    assert client.post(f"/admin/canned/{row.id}", data={"title": "x", "body": "y"}).status_code == 400
    assert client.post(f"/admin/canned/{row.id}/delete").status_code == 400


# --- the picker in the agent console ---------------------------------------------------------

def assign_to_tim(number):
    ticket = tickets.get_by_number(db.session, number)
    tickets.assign(db.session, ticket, tim(), "kim")
    db.session.commit()


def reply_box(page: str) -> str:
    match = re.search(r'<textarea id="body"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, "the reply box is on the page"
    return unescape(match.group(1))


def test_the_picker_fills_the_reply_box_without_javascript(client, auth, app):
    with app.app_context():
        number = open_ticket(name=XSS).number
        assign_to_tim(number)
        row = canned.create(db.session, draft(), "kim")
        db.session.commit()
    auth.login("tim")
    page = client.get(f"/agent/tickets/{number}").get_data(as_text=True)
    assert 'data-testid="canned-picker"' in page and f'<option value="{row.id}"' in page
    assert reply_box(page) == ""
    # what JavaScript inserts is in data-text, already filled in (and escaped in the attribute)
    assert f"Hello {XSS}, this is Tim Agent about {number}." in unescape(page)
    assert "<script>alert" not in page
    picked = client.get(f"/agent/tickets/{number}?canned={row.id}").get_data(as_text=True)
    assert reply_box(picked) == f"Hello {XSS}, this is Tim Agent about {number}."
    assert f'<option value="{row.id}" data-text=' in picked and "selected>Greeting" in picked
    sent = client.post(f"/agent/tickets/{number}/reply", data={"body": reply_box(picked)}, follow_redirects=True)
    assert "Reply sent to the customer." in sent.get_data(as_text=True)
    with app.app_context():
        message = tickets.get_by_number(db.session, number).messages[-1]
        assert message.body == f"Hello {XSS}, this is Tim Agent about {number}."


def test_a_missing_response_is_explained(client, auth, app):
    with app.app_context():
        number = open_ticket().number
        assign_to_tim(number)
    auth.login("tim")
    page = client.get(f"/agent/tickets/{number}?canned=999").get_data(as_text=True)
    assert "That canned response does not exist" in page and reply_box(page) == ""
    assert 'data-testid="canned-none"' in page and "an admin can add them" in page
