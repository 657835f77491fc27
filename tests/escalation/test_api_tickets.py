"""POST/GET /api/v1/tickets: creation, idempotency, status, and the one error shape."""
from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from .conftest import ticket_body


def create(client: FlaskClient, headers: dict[str, str], key: str = "key-1", **overrides: Any) -> Any:
    return client.post("/api/v1/tickets", json=ticket_body(**overrides),
                       headers={**headers, "Idempotency-Key": key})


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def test_create_ticket_returns_number_token_and_tracking_link(client, bot_headers):
    response = create(client, bot_headers)
    assert response.status_code == 201
    body = response.get_json()
    assert body["number"] == "CR-10001"
    assert len(body["token"]) >= 32
    assert body["status"] == "new" and body["owner"] == "queued"
    assert body["tracking_url"] == "http://care.test/track?number=CR-10001"


def test_numbers_are_sequential_and_unique(client, bot_headers):
    numbers = [create(client, bot_headers, key=f"k{i}").get_json()["number"] for i in range(3)]
    assert numbers == ["CR-10001", "CR-10002", "CR-10003"]


def test_subject_defaults_to_the_customer_question(client, bot_headers):
    number = create(client, bot_headers).get_json()["number"]
    status = client.get(f"/api/v1/tickets/{number}", headers=bot_headers).get_json()
    assert status["subject"] == "my account has been inactive for 2 years"
    assert status["category"] == "account-access"


def user(text, intent):
    return {"sender": "user", "text": text, "timestamp": 1.0, "intent": intent, "confidence": 0.9}


@pytest.mark.parametrize("transcript, subject", [
    # Laura greets first: the subject is her question, not "hi"
    ([user("hi", "greet"), user("my account went dormant, can you reactivate it?", "ask_question"),
      user("talk to a person", "request_human"), user("Laura", "inform")],
     "my account went dormant, can you reactivate it?"),
    # the last question is the one the bot could not answer
    ([user("how do I reset my password", "ask_question"), user("thanks", "thank"),
      user("where is my  refund\n for order 7", "nlu_fallback"), user("/request_human", "request_human")],
     "where is my refund for order 7"),
    # no intent (another channel): any line but a button's payload
    ([user("Hello", None), user("/affirm", None)], "Hello"),
    # nothing but small talk: a neutral subject instead of a greeting
    ([user("hi", "greet"), user("yes", "affirm"), user("I want a human", "request_human")],
     "Conversation with the assistant"),
])
def test_subject_is_the_question_that_led_to_the_handoff(client, bot_headers, transcript, subject):
    reply = client.post("/api/v1/tickets", json=ticket_body(transcript=transcript),
                        headers={**bot_headers, "Idempotency-Key": "subject-" + transcript[0]["text"]})
    assert reply.status_code == 201
    status = client.get(f"/api/v1/tickets/{reply.get_json()['number']}", headers=bot_headers).get_json()
    assert status["subject"] == subject


def test_same_idempotency_key_returns_the_same_ticket(client, bot_headers):
    first = create(client, bot_headers, key="same")
    second = create(client, bot_headers, key="same")
    assert first.status_code == 201 and second.status_code == 200
    assert second.get_json() == first.get_json()
    third = create(client, bot_headers, key="other")
    assert third.get_json()["number"] == "CR-10002"


def test_same_key_with_a_different_body_is_refused(client, bot_headers):
    create(client, bot_headers, key="same")
    response = create(client, bot_headers, key="same", name="Someone Else")
    assert_error(response, 409, "idempotency_key_reused")


def test_missing_idempotency_key_is_refused(client, bot_headers):
    response = client.post("/api/v1/tickets", json=ticket_body(), headers=bot_headers)
    assert_error(response, 422, "idempotency_key_missing")


def test_ticket_status_by_number(client, bot_headers):
    create(client, bot_headers)
    body = client.get("/api/v1/tickets/cr-10001", headers=bot_headers).get_json()
    assert body["number"] == "CR-10001"
    assert body["status"] == "new"
    assert body["assignee"] is None


def test_ticket_status_carries_the_conversation_that_opened_it(client, bot_headers):
    # The bot tells a ticket's status only in the conversation that opened it.
    create(client, bot_headers)
    create(client, bot_headers, key="key-2", conversation_id=None)
    spec = client.get("/api/v1/openapi.json").get_json()
    schema = spec["paths"]["/tickets/{number}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    first = client.get("/api/v1/tickets/CR-10001", headers=bot_headers).get_json()
    second = client.get("/api/v1/tickets/CR-10002", headers=bot_headers).get_json()
    assert first["conversation_id"] == "conv-1"
    assert second["conversation_id"] is None
    assert set(schema["required"]) <= set(first) and "conversation_id" in schema["required"]
    assert set(first) <= set(schema["properties"])


def test_unknown_ticket_number(client, bot_headers):
    error = assert_error(client.get("/api/v1/tickets/CR-99999", headers=bot_headers), 404, "ticket_not_found")
    assert "CR-" in error["message"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}])
def test_service_token_is_required(client, headers):
    response = client.post("/api/v1/tickets", json=ticket_body(), headers={**headers, "Idempotency-Key": "k"})
    assert_error(response, 401, "service_token_required")
    assert_error(client.get("/api/v1/tickets/CR-10001", headers=headers), 401, "service_token_required")


def test_invalid_json(client, bot_headers):
    response = client.post("/api/v1/tickets", data="{not json", content_type="application/json",
                           headers={**bot_headers, "Idempotency-Key": "k"})
    assert_error(response, 400, "invalid_json")


def test_json_content_type_required(client, bot_headers):
    response = client.post("/api/v1/tickets", data="name=x", headers={**bot_headers, "Idempotency-Key": "k"})
    assert_error(response, 415, "json_required")


@pytest.mark.parametrize("overrides, field", [
    ({"email": "not-an-email"}, "email"),
    ({"name": ""}, "name"),
    ({"channel": "fax"}, "channel"),
    ({"unexpected": 1}, "unexpected"),
])
def test_invalid_fields_are_named(client, bot_headers, overrides, field):
    error = assert_error(create(client, bot_headers, **overrides), 422, "validation_failed")
    assert field in error["details"]["fields"]


def test_oversized_body_is_refused(client, bot_headers):
    huge = ticket_body(description="x" * 300_000)
    response = client.post("/api/v1/tickets", json=huge, headers={**bot_headers, "Idempotency-Key": "k"})
    assert_error(response, 413, "payload_too_large")


def test_unknown_api_route_uses_the_error_shape(client):
    assert_error(client.get("/api/v1/nope"), 404, "not_found")


def test_nothing_is_half_written_when_validation_fails(client, bot_headers, app):
    create(client, bot_headers, key="bad", email="nope")
    good = create(client, bot_headers, key="bad")
    assert good.status_code == 201 and good.get_json()["number"] == "CR-10001"


def test_widget_endpoints_allow_cross_origin_reads(client, bot_headers):
    token = create(client, bot_headers).get_json()["token"]
    preflight = client.options(f"/api/v1/conversations/{token}/messages",
                               headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"})
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
    # the bot's own endpoints are not opened to browsers
    assert "Access-Control-Allow-Origin" not in client.get("/api/v1/tickets/CR-10001", headers=bot_headers).headers
