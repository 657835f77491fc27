"""Requests at the edges answer 4xx, never 500 or a wrong answer (issue 12, lows 8-13): deeply
nested JSON, numbers that do not parse or do not fit, concurrent surveys, a redirect that
leaves the site, publishing someone else's ticket, and /track reading the wrong number."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from escalation import tickets
from escalation.db import db
from escalation.models import PublishedArticle, Survey, User

from .conftest import ticket_body
from .test_feedback import resolved_ticket
from .test_security_routes import StubIndex

JSON = {"Accept": "application/json"}


def assert_error(response, status: int, code: str) -> dict:
    if response.status_code != status or response.mimetype == "text/event-stream":
        response.close()  # an event stream would never end: do not read it
        pytest.fail(f"expected {status}, got {response.status_code} {response.mimetype}")
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"] and isinstance(error["details"], dict)
    return error


@pytest.fixture
def opened(client, bot_headers) -> dict:
    return client.post("/api/v1/tickets", json=ticket_body(),
                       headers={**bot_headers, "Idempotency-Key": "edges"}).get_json()


# ---- low 8: deeply nested JSON ---------------------------------------------------------------

@pytest.mark.parametrize("depth", [65, 400, 100_000])
@pytest.mark.parametrize("path", ["/api/v1/conversations/lookup", "/api/v1/tickets", "/login"])
def test_deeply_nested_json_is_a_400_not_a_500(client, bot_headers, path, depth):
    body = "[" * depth + "]" * depth
    response = client.post(path, data=body, content_type="application/json", headers={**bot_headers, **JSON})
    assert_error(response, 400, "json_too_deep")


def test_json_nested_within_the_limit_still_works(client, bot_headers):
    nested: dict = {}
    for _ in range(30):
        nested = {"k": nested}
    response = client.post("/api/v1/tickets", json=ticket_body(nlu=nested),
                           headers={**bot_headers, "Idempotency-Key": "nested"})
    assert response.status_code == 201


# ---- low 10: numbers from the query string, headers and forms --------------------------------

@pytest.mark.parametrize("path,headers", [
    ("/api/v1/conversations/{token}/events", {"Last-Event-ID": "²"}),
    ("/api/v1/conversations/{token}/events?after=²", {}),
    ("/api/v1/conversations/{token}/events?after=" + "1" + "0" * 25, {}),
    ("/api/v1/conversations/{token}/events?after=-1", {}),
    ("/api/v1/conversations/{token}/events", {"Last-Event-ID": "9" * 30}),
])
def test_unparsed_event_ids_are_a_400(client, opened, path, headers):
    error = assert_error(client.get(path.format(token=opened["token"]), headers=headers), 400, "invalid_number")
    assert error["details"]["field"] in {"Last-Event-ID", "after"}


@pytest.mark.parametrize("who,path", [
    ("kim", "/admin/?page=" + "1" + "0" * 20),
    ("kim", "/admin/?page=two"),
    ("kim", "/admin/dashboard?days=100000000"),
    ("kim", "/admin/dashboard?days=²"),
    ("tim", "/agent/tickets/{number}?canned=" + "1" + "0" * 20),
])
def test_unparsed_numbers_in_console_urls_are_a_400(client, auth, opened, who, path):
    auth.login(who)
    url = path.format(number=opened["number"])
    assert_error(client.get(url, headers=JSON), 400, "invalid_number")
    page = client.get(url)
    assert page.status_code == 400 and "number" in page.get_data(as_text=True)


def test_an_unparsed_agent_id_in_a_form_is_a_400(client, auth, opened):
    auth.login("kim")
    response = client.post(f"/admin/tickets/{opened['number']}/assign", data={"agent_id": "1" + "0" * 20},
                           headers=JSON)
    assert_error(response, 400, "invalid_number")


def test_numbers_that_fit_still_work(client, auth, opened):
    auth.login("kim")
    assert client.get("/admin/?page=2").status_code == 200
    assert client.get("/admin/dashboard?days=30").status_code == 200
    assert client.get("/admin/").status_code == 200  # no number given: the default
    auth.logout()
    auth.login("tim")
    assert client.get(f"/agent/tickets/{opened['number']}?canned=1").status_code == 200


# ---- low 10: concurrent surveys --------------------------------------------------------------

def test_ten_concurrent_ratings_give_one_201_and_nine_409(app, client, bot_headers):
    opened = resolved_ticket(app, client, bot_headers)
    url = f"/api/v1/conversations/{opened['token']}/survey"
    start = threading.Barrier(10)
    statuses: list[int] = []

    def rate(n: int) -> None:
        own = app.test_client()
        start.wait()
        statuses.append(own.post(url, json={"rating": 1 + n % 5}).status_code)

    threads = [threading.Thread(target=rate, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [201] + [409] * 9
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Survey)) == 1


# ---- low 11: open redirect -------------------------------------------------------------------

@pytest.mark.parametrize("target", ["/\t/evil.example/phish", "/\n/evil.example", "/\r/evil.example",
                                    "/ /evil.example", "\t//evil.example", "/\\evil.example",
                                    "//evil.example", "https://evil.example/", "/%09/evil.example/x\t"])
def test_presence_never_redirects_off_the_site(client, auth, target):
    auth.login("tim")
    response = client.post("/agent/presence", data={"presence": "away", "next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == "/agent/"


def test_presence_and_login_still_go_back_to_a_page_of_the_site(client, auth):
    response = client.post("/login?next=/agent/kb%3Fq%3Dx", data={"username": "tim", "password": "demo-password-1"})
    assert response.headers["Location"] == "/agent/kb?q=x"
    back = client.post("/agent/presence", data={"presence": "away", "next": "/agent/tickets/CR-10001?x=1"})
    assert back.headers["Location"] == "/agent/tickets/CR-10001?x=1"


def test_login_never_redirects_off_the_site(client):
    response = client.post("/login?next=/%09/evil.example/phish",
                           data={"username": "tim", "password": "demo-password-1"})
    assert response.headers["Location"] == "/agent/"


# ---- low 12: publishing needs the ticket's agent (or an admin) -------------------------------

def test_an_agent_cannot_publish_another_agents_ticket(app, client, auth, bot_headers):
    app.extensions["care_kb"] = StubIndex()
    opened = resolved_ticket(app, client, bot_headers)  # tim's ticket
    with app.app_context():
        ticket = tickets.get_by_number(db.session, opened["number"])
        terrence = db.session.scalar(select(User).where(User.username == "terrence"))
        tim = ticket.assignee
        assert tim.username == "tim" and terrence is not None
    auth.login("terrence")
    page = client.post(f"/agent/tickets/{opened['number']}/publish",
                       data={"title": "Stolen fix", "body": "Do this"}, follow_redirects=True)
    assert "Only the assigned agent or an admin can publish" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PublishedArticle)) == 0


def test_the_assigned_agent_and_an_admin_may_publish(app):
    from escalation.publishing import publish

    with app.app_context():
        opened = tickets.open_ticket(db.session, name="Laura", email="laura@example.com")
        tim = db.session.scalar(select(User).where(User.username == "tim"))
        kim = db.session.scalar(select(User).where(User.username == "kim"))
        tickets.assign(db.session, opened.ticket, tim, "kim")
        tickets.reply(db.session, opened.ticket, tim, "Try again")
        tickets.resolve(db.session, opened.ticket, tim, "Fixed")
        assert publish(db.session, opened.ticket, tim, title="A", body="B").ticket_id == opened.ticket.id
        assert publish(db.session, opened.ticket, kim, title="C", body="D").ticket_id == opened.ticket.id


# ---- low 13: /track reads the number the form posted -----------------------------------------

def test_track_looks_up_the_posted_number_not_the_one_in_the_url(app, client, bot_headers):
    first = client.post("/api/v1/tickets", json=ticket_body(), headers={**bot_headers, "Idempotency-Key": "a"}).get_json()
    second = client.post("/api/v1/tickets", json=ticket_body(email="omar@example.com", name="Omar"),
                         headers={**bot_headers, "Idempotency-Key": "b"}).get_json()
    response = client.post(f"/track?number={first['number']}",
                           data={"number": second["number"], "email": "omar@example.com"})
    assert response.status_code == 200
    assert second["number"] in response.get_data(as_text=True)
    app.config["RATE_LIMIT_LOOKUPS"] = 1  # had it counted as a failed lookup, the next one would be blocked
    again = client.post(f"/track?number={first['number']}",
                        data={"number": second["number"], "email": "omar@example.com"})
    assert again.status_code == 200


@pytest.mark.parametrize("method,path", [("GET", "/admin/canned/{big}"), ("POST", "/admin/outbox/{big}/send-again"),
                                         ("POST", "/admin/canned/{big}/delete")])
def test_ids_in_the_path_beyond_64_bits_are_not_found(client, auth, method, path):
    auth.login("kim")
    response = client.open(path.format(big="1" + "0" * 20), method=method, headers=JSON)
    assert_error(response, 404, "not_found")
