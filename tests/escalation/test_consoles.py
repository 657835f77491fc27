"""The admin and agent consoles (server-rendered): roles, assignment, transcript, escaping."""
from __future__ import annotations

import pytest

from .conftest import ticket_body

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def open_ticket(client, bot_headers, **overrides):
    return client.post("/api/v1/tickets", json=ticket_body(**overrides),
                       headers={**bot_headers, "Idempotency-Key": "t-" + str(sorted(overrides.items()))}).get_json()


@pytest.mark.parametrize("path", ["/admin/", "/admin/tickets/CR-10001", "/agent/", "/agent/tickets/CR-10001"])
def test_consoles_need_a_login(client, bot_headers, path):
    open_ticket(client, bot_headers)
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("path", ["/admin/", "/admin/tickets/CR-10001"])
def test_agents_cannot_use_the_admin_console(client, auth, bot_headers, path):
    open_ticket(client, bot_headers)
    auth.login("tim")
    assert client.get(path).status_code == 403


def test_wrong_password_says_so(client, auth):
    response = auth.login("kim", "wrong-password")
    assert response.status_code == 401
    assert b"Wrong username or password" in response.data


def test_queue_lists_ticket_and_admin_assigns_it(client, auth, bot_headers, app):
    number = open_ticket(client, bot_headers)["number"]
    auth.login("kim")
    queue = client.get("/admin/").get_data(as_text=True)
    assert number in queue and "Laura Smith" in queue
    page = client.get(f"/admin/tickets/{number}").get_data(as_text=True)
    assert "Tim Agent" in page and "knows account-access" in page
    from escalation.db import db
    from escalation.models import User
    with app.app_context():
        tim_id = db.session.query(User).filter_by(username="tim").one().id
    response = client.post(f"/admin/tickets/{number}/assign", data={"agent_id": tim_id}, follow_redirects=True)
    assert f"{number} assigned to Tim Agent" in response.get_data(as_text=True)
    auth.logout()
    auth.login("tim")
    mine = client.get("/agent/").get_data(as_text=True)
    assert number in mine
    view = client.get(f"/agent/tickets/{number}").get_data(as_text=True)
    assert "my account has been inactive for 2 years" in view
    assert "I want to talk to a person" in view
    client.post(f"/agent/tickets/{number}/acknowledge")
    client.post(f"/agent/tickets/{number}/reply", data={"body": "Hello Laura"})
    client.post(f"/agent/tickets/{number}/reply", data={"body": "note to self", "internal": "1"})
    resolved = client.post(f"/agent/tickets/{number}/resolve", data={"resolution": "Reactivated"},
                           follow_redirects=True).get_data(as_text=True)
    assert f"{number} resolved." in resolved
    assert client.get(f"/api/v1/tickets/{number}", headers=bot_headers).get_json()["status"] == "resolved"


def test_refused_action_is_explained(client, auth, bot_headers):
    number = open_ticket(client, bot_headers)["number"]
    auth.login("kim")
    page = client.post(f"/agent/tickets/{number}/resolve", data={"resolution": "x"},
                       follow_redirects=True).get_data(as_text=True)
    assert "cannot be resolved" in page


def test_script_in_names_and_messages_is_escaped(client, auth, bot_headers):
    transcript = [{"sender": "user", "text": XSS, "timestamp": 1.0}]
    number = open_ticket(client, bot_headers, name=XSS, transcript=transcript)["number"]
    auth.login("kim")
    for path in ("/admin/", f"/admin/tickets/{number}"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;" in html


def test_consoles_send_security_headers(client, auth):
    auth.login("kim")
    response = client.get("/admin/")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only


def test_empty_queue_says_what_to_expect(client, auth):
    auth.login("kim")
    assert "When the assistant hands a conversation over" in client.get("/admin/").get_data(as_text=True)


def test_workload_counts_open_tickets_and_those_completed_in_the_last_30_days(app, client, auth, bot_headers):
    from datetime import timedelta

    from escalation import tickets
    from escalation.admin import workload
    from escalation.db import db
    from escalation.models import Ticket, User, utcnow

    numbers = [open_ticket(client, bot_headers, conversation_id=f"conv-load-{i}")["number"] for i in range(5)]
    with app.app_context():
        tim = db.session.query(User).filter_by(username="tim").one()
        items = [tickets.get_by_number(db.session, n) for n in numbers]
        for item in items:
            tickets.assign(db.session, item, tim, "kim")
        for item in items[1:]:
            tickets.acknowledge(db.session, item, tim)        # ongoing
        for item in items[2:]:
            tickets.resolve(db.session, item, tim, "done")     # completed...
        items[4].resolved_at = utcnow() - timedelta(days=40)   # ...but long ago
        db.session.commit()
        with app.test_request_context():
            row = next(r for r in workload() if r["agent"].username == "tim")
        assert (row["pending"], row["ongoing"], row["completed"]) == (1, 1, 2)
        assert db.session.query(Ticket).filter(Ticket.status == "resolved").count() == 3
    auth.login("kim")
    assert "(last 30 days)" in client.get("/admin/").get_data(as_text=True)


def test_queue_pages_link_to_each_other_and_keep_the_filters(client, auth, bot_headers, monkeypatch):
    import re

    from escalation import queue

    monkeypatch.setattr(queue, "PAGE_SIZE", 2)
    for i in range(5):
        open_ticket(client, bot_headers, conversation_id=f"conv-page-{i}", subject=f"Parcel {i}")
    auth.login("kim")

    def page(query):
        html = client.get(f"/admin/?{query}").get_data(as_text=True)
        return re.findall(r'data-testid="ticket-link">(CR-\d+)<', html), html

    first, html = page("q=parcel&sort=newest")
    assert first == ["CR-10005", "CR-10004"] and 'rel="prev"' not in html
    assert 'href="/admin/?q=parcel&amp;sort=newest&amp;page=2" rel="next"' in html
    second, html = page("q=parcel&sort=newest&page=2")
    assert second == ["CR-10003", "CR-10002"] and 'rel="prev"' in html and 'rel="next"' in html
    last, html = page("q=parcel&sort=newest&page=3")
    assert last == ["CR-10001"] and 'rel="next"' not in html and "Page 3" in html
    due_first, _ = page("q=parcel")  # the default: the next SLA deadline first (same priority: oldest)
    assert due_first == ["CR-10001", "CR-10002"]
    beyond, html = page("q=parcel&page=9")
    assert beyond == [] and "No tickets on page 9" in html and "Back to the first page" in html
    only, html = page("q=parcel+4")
    assert only == ["CR-10005"] and 'data-testid="pager"' not in html


def test_tracking_page_needs_number_and_matching_email(client, bot_headers):
    number = open_ticket(client, bot_headers)["number"]
    wrong = client.post("/track", data={"number": number, "email": "other@example.com"})
    assert wrong.status_code == 404 and b"found no ticket" in wrong.data
    right = client.post("/track", data={"number": number, "email": "LAURA@example.com"})
    assert right.status_code == 200 and number.encode() in right.data
