"""``POST /api/v1/conversations/lookup``: the widget's "My tickets", by the tokens one browser holds."""
from __future__ import annotations

import pytest

from escalation import tickets
from escalation.db import db
from escalation.models import User

from .conftest import ticket_body

URL = "/api/v1/conversations/lookup"


def open_ticket(client, bot_headers, key: str, **fields) -> dict:
    response = client.post("/api/v1/tickets", json=ticket_body(**fields),
                           headers={**bot_headers, "Idempotency-Key": key})
    assert response.status_code == 201
    return response.get_json()


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


def test_known_tokens_give_their_tickets_in_order_and_unknown_ones_are_left_out(app, client, bot_headers):
    first = open_ticket(client, bot_headers, "k1", subject="Cannot sign in")
    second = open_ticket(client, bot_headers, "k2", subject="Refund for order 4711", email="bob@example.com")
    with app.app_context():
        ticket = tickets.get_by_number(db.session, second["number"])
        tim = db.session.query(User).filter_by(username="tim").one()
        tickets.assign(db.session, ticket, tim, "kim")
        tickets.acknowledge(db.session, ticket, tim)
        db.session.commit()

    response = client.post(URL, json={"tokens": [second["token"], "not-a-token", first["token"], second["token"]]})
    assert response.status_code == 200
    found = response.get_json()["tickets"]
    assert [(t["token"], t["number"], t["subject"], t["status"], t["owner"], t["agent"]) for t in found] == [
        (second["token"], second["number"], "Refund for order 4711", "acknowledged", "agent", "Tim Agent"),
        (first["token"], first["number"], "Cannot sign in", "new", "queued", None),
    ]
    for summary in found:
        assert summary["created_at"] and summary["updated_at"] >= summary["created_at"]
        assert "messages" not in summary and "email" not in summary  # a summary, not the thread
    # CORS like every conversation route: the widget calls it from the company's own site
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    preflight = client.options(URL, headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
                                             "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 200 and "POST" in preflight.headers["Access-Control-Allow-Methods"]


def test_only_unknown_tokens_or_none_give_an_empty_list(client, bot_headers):
    open_ticket(client, bot_headers, "k3")
    assert client.post(URL, json={"tokens": ["nope", "also-nope"]}).get_json() == {"tickets": []}
    assert client.post(URL, json={"tokens": []}).get_json() == {"tickets": []}


def test_more_than_twenty_tokens_are_refused(client):
    error = assert_error(client.post(URL, json={"tokens": [f"t{i}" for i in range(21)]}), 422, "validation_failed")
    assert "tokens" in error["details"]["fields"]
    assert client.post(URL, json={"tokens": [f"t{i}" for i in range(20)]}).status_code == 200


@pytest.mark.parametrize("kwargs,status,code", [
    ({"data": "{not json", "content_type": "application/json"}, 400, "invalid_json"),
    ({"data": "tokens=abc", "content_type": "application/x-www-form-urlencoded"}, 415, "json_required"),
    ({"json": {"tokens": "abc"}}, 422, "validation_failed"),
    ({"json": {"tokens": [1, 2]}}, 422, "validation_failed"),
    ({"json": {"tokens": [""]}}, 422, "validation_failed"),
    ({"json": {"token": ["abc"]}}, 422, "validation_failed"),
    ({"json": ["abc"]}, 422, "validation_failed"),
])
def test_wrong_bodies_get_the_one_error_shape(client, kwargs, status, code):
    assert_error(client.post(URL, **kwargs), status, code)


def test_unknown_tokens_count_as_failed_lookups(app, client, bot_headers):
    opened = open_ticket(client, bot_headers, "k4")
    app.config["RATE_LIMIT_LOOKUPS"] = 3
    assert client.post(URL, json={"tokens": [opened["token"]]}).status_code == 200  # a hit costs nothing
    assert client.post(URL, json={"tokens": ["a", "b"]}).status_code == 200
    assert client.post(URL, json={"tokens": ["c"]}).status_code == 200  # the third failed guess
    blocked = client.post(URL, json={"tokens": [opened["token"]]})
    error = assert_error(blocked, 429, "rate_limited")
    assert int(blocked.headers["Retry-After"]) == error["details"]["retry_after"] > 0
    # the same bucket as the single-token routes: those are blocked too
    assert client.get(f"/api/v1/conversations/{opened['token']}").status_code == 429
