"""The widget on the portal knows who is signed in: the page hands it a short-lived signed
identity, the bot asks the service (``POST /api/v1/identity/verify``) who it stands for, and a
ticket opened in that chat is in the customer's My tickets at once."""
from __future__ import annotations

import html
import re

import pytest

from .conftest import ticket_body
from .portal_helpers import register
from .test_security_routes import assert_error_shape

IDENTITY = re.compile(r'data-identity="([^"]+)"')


def identity_on_page(client) -> str:
    page = client.get("/portal/tickets")
    assert page.status_code == 200
    found = IDENTITY.search(page.get_data(as_text=True))
    assert found, "the signed-in customer's page embeds the widget with an identity"
    return html.unescape(found.group(1))


def verify(client, bot_headers, token: str):
    return client.post("/api/v1/identity/verify", json={"token": token}, headers=bot_headers)


def test_the_signed_in_customers_pages_embed_the_widget_with_a_signed_identity(app, client, bot_headers):
    anonymous = client.get("/portal/sign-in").get_data(as_text=True)
    assert "data-identity" not in anonymous and "carechat.js" not in anonymous
    register(app, client)
    page = client.get("/portal/tickets")
    text = page.get_data(as_text=True)
    assert "/widget/carechat.js" in text and f'data-rasa-url="{app.config["RASA_URL"]}"' in text
    csp = page.headers["Content-Security-Policy"]
    rasa_origin = re.match(r"https?://[^/]+", app.config["RASA_URL"]).group(0)
    assert f"connect-src 'self'" in csp and rasa_origin in csp and "script-src 'self';" in csp
    token = identity_on_page(client)
    assert "laura" not in token.lower()  # signed, not readable as a name or address in the page
    who = verify(client, bot_headers, token)
    assert who.status_code == 200
    body = who.get_json()
    assert body["email"] == "laura@example.com" and body["name"] == "Laura Smith" and body["verified"] is True


@pytest.mark.parametrize("token", ["", "forged", "eyJhIjoxLCJ2IjoxfQ.ZZZZZZ.aaaaaaaaaaaaaaaaaaaaaaaaaaa"])
def test_a_forged_identity_is_refused(client, bot_headers, token):
    response = verify(client, bot_headers, token)
    assert response.status_code == 422
    assert_error_shape(response.get_json(), "identity")


def test_an_altered_identity_is_refused(app, client, bot_headers):
    register(app, client)
    token = identity_on_page(client)
    payload, rest = token.split(".", 1)
    altered = ("A" if payload[0] != "A" else "B") + payload[1:] + "." + rest
    response = verify(client, bot_headers, altered)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "identity_invalid"


def test_an_expired_identity_is_refused(app, client, bot_headers):
    register(app, client)
    token = identity_on_page(client)
    app.config["PORTAL_WIDGET_IDENTITY_MINUTES"] = -1  # every token is older than that
    response = verify(client, bot_headers, token)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "identity_invalid"


def test_signing_out_ends_the_identity(app, client, bot_headers):
    register(app, client)
    token = identity_on_page(client)
    assert client.post("/portal/sign-out").status_code in (302, 303)
    assert verify(client, bot_headers, token).status_code == 422


def test_only_the_bot_may_ask(app, client):
    register(app, client)
    token = identity_on_page(client)
    assert client.post("/api/v1/identity/verify", json={"token": token}).status_code == 401


def test_a_chat_ticket_of_a_signed_in_customer_is_in_my_tickets_at_once(app, client, bot_headers):
    register(app, client)
    who = verify(client, bot_headers, identity_on_page(client)).get_json()
    opened = client.post("/api/v1/tickets", json=ticket_body(name=who["name"], email=who["email"],
                                                             subject="Chat from the portal"),
                         headers={**bot_headers, "Idempotency-Key": "portal-chat-1"})
    assert opened.status_code == 201
    number = opened.get_json()["number"]
    mine = client.get("/portal/tickets").get_data(as_text=True)
    assert f'data-number="{number}"' in mine
    assert client.get(f"/portal/tickets/{number}").status_code == 200
