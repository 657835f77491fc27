"""Who may call what: every route × role from ``app.url_map``, security headers, cookies, logs.

``ROUTES`` has one row per (endpoint, method); a route added to the app without a row here
fails ``test_every_route_has_a_row``. Each row gives the expected status for the four callers:
anonymous, an agent's session, an admin's session, the bot's service token (no session) and a
customer signed in to the portal (``customer``: when a row does not say, the same as anonymous —
a customer's session gives nothing outside the portal). ``LOGIN`` means a redirect to the staff
sign-in page, ``PORTAL_LOGIN`` to the portal's.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kb_index.embedding import FakeEmbedder
from flask import Flask
from flask.testing import FlaskClient

from escalation import create_app, tickets
from escalation.attachments import Upload
from escalation.db import db
from escalation.schema import upgrade
from escalation.users import seed_demo_users

from .. import databases
from .conftest import DEMO_PASSWORD, SERVICE_TOKEN, ticket_body
from .portal_helpers import register, sign_in

LOGIN = "login"  # 302 to /login?next=…
PORTAL_LOGIN = "portal-login"  # 302 to /portal/sign-in?next=…
ROLES = ("anonymous", "agent", "admin", "bot", "customer")


@dataclass(frozen=True)
class Row:
    anonymous: int | str
    agent: int | str
    admin: int | str
    bot: int | str
    data: dict[str, Any] | None = None  # form body
    json: dict[str, Any] | None = None  # JSON body
    headers: dict[str, str] = field(default_factory=dict)
    customer: int | str | None = None  # None: as anonymous

    def expected(self, role: str) -> int | str:
        if role == "customer" and self.customer is None:
            return self.anonymous
        return getattr(self, role)


def console(admin: int | str, agent: int | str = 403, **body: Any) -> Row:
    """A console route: anonymous and the bot token are sent to the sign-in page."""
    return Row(LOGIN, agent, admin, LOGIN, **body)


def service(ok: int, **body: Any) -> Row:
    """A bot endpoint: only the service token gets in; a console session does not count."""
    return Row(401, 401, 401, ok, **body)


def public(status: int, **body: Any) -> Row:
    return Row(status, status, status, status, **body)


def portal(customer: int | str, **body: Any) -> Row:
    """A portal page for signed-in customers: everyone else is sent to the portal's sign-in."""
    return Row(PORTAL_LOGIN, PORTAL_LOGIN, PORTAL_LOGIN, PORTAL_LOGIN, customer=customer, **body)


LAURA = {"email": "laura@example.com"}

ROUTES: dict[tuple[str, str], Row] = {
    # public pages
    ("public.index", "GET"): public(302),
    ("public.demo", "GET"): public(200),
    ("public.healthz", "GET"): public(200),
    ("public.article", "GET"): public(404),  # the stub index has no articles
    ("public.widget", "GET"): public(200),
    ("public.track", "GET"): public(200),
    ("public.track", "POST"): public(200, data={"number": "{number}", "email": "laura@example.com"}),
    ("static", "GET"): public(200),
    # the pages our mails link to: the signed token is the credential (a ticket token is not one)
    ("maillinks.unsubscribe", "GET"): public(404),
    ("maillinks.unsubscribe", "POST"): public(404, data={"List-Unsubscribe": "One-Click"}),
    ("maillinks.rate", "GET"): public(404),
    ("maillinks.comment", "GET"): public(404),
    ("maillinks.comment", "POST"): public(404, data={"rating": "5"}),
    ("auth.login", "GET"): public(200),
    ("auth.login", "POST"): public(200),  # an empty form is shown again
    ("auth.logout", "POST"): public(LOGIN),  # signed out (or already), back to the sign-in page
    # admin console
    ("admin.queue", "GET"): console(200),
    ("admin.dashboard", "GET"): console(200),
    ("admin.outbox", "GET"): console(200),
    ("admin.outbox_send_again", "POST"): console(302),
    ("admin.ticket", "GET"): console(200),
    ("admin.assign", "POST"): console(302),  # no agent chosen: flashed, back to the ticket
    ("admin.link_problem", "POST"): console(302),  # no problem given: flashed, back to the ticket
    ("admin.new_ticket", "GET"): console(200),
    ("admin.new_ticket", "POST"): console(422),  # an empty form: the errors are shown
    ("admin.mail_templates", "GET"): console(200),
    ("admin.mail_template", "GET"): console(200),
    ("admin.mail_template", "POST"): console(422),  # an empty form: the errors are shown
    ("admin.mail_template_reset", "POST"): console(303),
    ("admin.override_triage", "POST"): console(302),  # an empty form: flashed, back to the ticket
    ("admin.canned", "GET"): console(200),
    ("admin.canned", "POST"): console(422),  # an empty form: the errors are shown
    ("admin.canned_edit", "GET"): console(200),
    ("admin.canned_edit", "POST"): console(422),  # an empty form: the errors are shown
    ("admin.canned_delete", "POST"): console(303),
    ("admin.settings", "GET"): console(200),
    ("admin.settings", "POST"): console(303),
    ("admin.notifications", "GET"): console(200),
    ("admin.notifications", "POST"): console(303),  # an empty form: flashed, back to the page
    ("admin.privacy", "GET"): console(200),
    ("admin.privacy", "POST"): console(200, data=LAURA),
    ("admin.privacy_export", "POST"): console(200, data=LAURA),
    ("admin.privacy_erase", "POST"): console(303),  # not confirmed: flashed, back to the form
    ("admin.hand_off", "POST"): console(303),  # a new ticket cannot be handed off: flashed, back
    ("admin.close_as_spam", "POST"): console(303),
    ("admin.merge", "POST"): console(303),  # no target given: flashed, back to the ticket
    ("admin.move_tickets", "POST"): console(303),
    ("admin.kb_gaps_report", "GET"): console(200),
    ("admin.kb_gap_draft", "GET"): console(200),
    ("admin.kb_gap_draft", "POST"): console(422),  # an empty form: the error is shown
    # agent console (admins may use it too, except taking tickets from the queue)
    ("agent.my_tickets", "GET"): console(200, agent=200),
    ("agent.kb_search", "GET"): console(200, agent=200),
    ("agent.pick_next", "POST"): console(403, agent=302),
    ("agent.ticket", "GET"): console(200, agent=200),
    ("agent.presence", "POST"): console(303, agent=303),  # no presence chosen: flashed, back
    ("agent.acknowledge", "POST"): console(302, agent=302),
    ("agent.claim", "POST"): console(403, agent=302),
    ("agent.ticket_events", "GET"): console(200, agent=200),
    ("agent.publish", "POST"): console(302, agent=302),
    ("agent.reply", "POST"): console(302, agent=302),
    ("agent.resolve", "POST"): console(302, agent=302),
    ("agent.hand_off", "POST"): console(302, agent=302),  # not theirs / not handed-off-able: flashed, back
    ("agent.attachment", "GET"): console(200, agent=200),
    # API: health, spec and KB search are public
    ("api.health", "GET"): public(200),
    ("api.ready", "GET"): public(503),  # the test app never warms the KB up
    ("api.worker_health", "GET"): public(503),  # no worker runs
    ("api.openapi", "GET"): public(200),
    ("api.kb_search", "GET"): public(422),  # no question given; auth is checked for audience=internal only
    # API: the bot's endpoints
    ("api.create_ticket", "POST"): service(201, json=ticket_body(email="other@example.com"),
                                           headers={"Idempotency-Key": "routes"}),
    ("api.ticket_status", "GET"): service(200),
    ("api.bot_outcome", "POST"): service(201, json={"conversation_id": "c", "outcome": "self_served"}),
    ("api.verify_identity", "POST"): service(422, json={"token": "forged.token.value"}),  # valid: test_widget_identity
    # the thread has no ticket: 404, and Rasa's Slack channel lets the bot answer
    ("api.slack_thread_message", "POST"): service(404, json={"channel": "D1", "thread_ts": "1.2", "user": "U1",
                                                             "text": "hello"}),
    # Slack's buttons: only a request signed with the app's signing secret gets in
    # (tests/slack/test_interactivity.py signs them); no session or token counts
    ("slack.interactivity", "POST"): public(401, data={"payload": "[]"}),
    # API: the customer's conversation; the secret token is the credential
    ("api.conversation", "GET"): public(200),
    ("api.conversations_lookup", "POST"): public(200, json={"tokens": []}),
    ("api.conversation_events", "GET"): public(200),
    ("api.post_message", "POST"): public(201, json={"body": "hello"}),
    ("api.conversation_survey", "POST"): public(409, json={"rating": 5}),  # not resolved yet
    # API: GDPR, the service token or an admin's session
    ("api.privacy_export", "POST"): Row(401, 403, 200, 200, json=LAURA),
    ("api.privacy_erase", "POST"): Row(401, 403, 404, 404, json={"email": "nobody@example.com"}),
    # customer portal: account pages are public (an empty form is shown again with 422; a link
    # page shows its button, and the button refuses a token that is not a signed link)
    ("portal.index", "GET"): portal(302),
    ("portal.register", "GET"): public(200),
    ("portal.register", "POST"): public(422),
    ("portal.verify", "GET"): public(200),
    ("portal.verify", "POST"): public(400),
    ("portal.sign_in", "GET"): public(200),
    ("portal.sign_in", "POST"): public(422),
    ("portal.request_link", "GET"): public(200),
    ("portal.request_link", "POST"): public(422),
    ("portal.use_link", "GET"): public(200),
    ("portal.use_link", "POST"): public(400),
    ("portal.forgot", "GET"): public(200),
    ("portal.forgot", "POST"): public(422),
    ("portal.reset", "GET"): public(200),
    ("portal.reset", "POST"): public(422),
    ("portal.erase_confirm", "GET"): public(200),
    ("portal.erase_confirm", "POST"): public(400),
    ("portal.sign_out", "POST"): portal(PORTAL_LOGIN),  # signed out, back to the sign-in page
    # customer portal: the signed-in customer's own tickets (IDOR: test_portal_tickets.py)
    ("portal.my_tickets", "GET"): portal(200),
    ("portal.ticket", "GET"): portal(200),
    ("portal.ticket_state_json", "GET"): portal(200),
    ("portal.ticket_events", "GET"): portal(200),
    ("portal.reply", "POST"): portal(303),  # an empty reply: flashed, back to the ticket
    ("portal.solved", "POST"): portal(303),
    ("portal.reopen", "POST"): portal(303),  # not resolved: flashed, back to the ticket
    ("portal.new_ticket", "GET"): portal(200),
    ("portal.new_ticket", "POST"): portal(422),  # an empty form: the errors are shown
    ("portal.self_served", "POST"): portal(303),
    ("portal.attachment", "GET"): portal(200),  # Laura's own file (IDOR: test_attachments.py)
    ("portal.privacy", "GET"): portal(200),
    ("portal.privacy_export", "POST"): portal(200),
    ("portal.privacy_erase", "POST"): portal(202),  # the confirmation link is e-mailed
}


class StubIndex:
    """Stands in for the KB index so no model is loaded."""

    embedder = FakeEmbedder()

    def get_article(self, article_id: str) -> None:
        return None

    def refresh(self) -> None:
        return None

    def search(self, query: str, k: int = 5, audience: str = "public", context: str | None = None) -> Any:
        return SimpleNamespace(hits=[], answerable=False)


def route_methods(app: Flask) -> set[tuple[str, str]]:
    return {(rule.endpoint, method) for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def test_every_route_has_a_row(app):
    routes = route_methods(app)
    assert sorted(routes - set(ROUTES)) == [], "new routes: add a row to ROUTES with the expected status per role"
    assert sorted(set(ROUTES) - routes) == [], "rows for routes that no longer exist"


@pytest.fixture
def world(app: Flask, tmp_path: Path) -> dict[str, Any]:
    widget = tmp_path / "widget"
    widget.mkdir()
    (widget / "carechat.js").write_text("/* widget */")
    app.config["WIDGET_DIR"] = str(widget)
    app.extensions["care_kb"] = StubIndex()
    opened = app.test_client().post("/api/v1/tickets", json=ticket_body(),
                                    headers={"Authorization": f"Bearer {SERVICE_TOKEN}",
                                             "Idempotency-Key": "world"}).get_json()
    from escalation import canned
    from escalation.models import OutboxMail

    with app.app_context():
        mail_id = db.session.query(OutboxMail.id).order_by(OutboxMail.id).first()[0]
        response_id = canned.create(db.session, canned.Draft.of("Hello", "Hello {{ customer_name }}", None), "kim").id
        db.session.commit()
    register(app, app.test_client())  # Laura's portal account (her address opened the ticket)
    with app.app_context():  # a file she sent on her ticket
        ticket = tickets.get_by_number(db.session, opened["number"])
        attachment_id = tickets.customer_message(db.session, ticket, "a file", [
            Upload("notes.txt", "text/plain", b"hello")]).attachments[0].id
        db.session.commit()
    return {"number": opened["number"], "token": opened["token"], "mail_id": mail_id, "response_id": response_id,
            "article_id": "no-such-article", "attachment_id": attachment_id, "filename": "carechat.js",
            "name": "acknowledgement", "agent_id": 2, "rating": 5}


def assert_error_shape(body: Any, where: str) -> None:
    """Every API error, whatever answers it (a service function, Flask, the rate limiter, the
    health checks), has the one shape: {"error": {"code", "message", "details"}}."""
    assert isinstance(body, dict) and set(body) == {"error"}, f"{where}: {body!r}"
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, f"{where}: {error!r}"
    assert isinstance(error["code"], str) and error["code"] and isinstance(error["message"], str) \
        and error["message"] and isinstance(error["details"], dict), f"{where}: {error!r}"


def caller(app: Flask, role: str) -> tuple[FlaskClient, dict[str, str]]:
    client = app.test_client()
    if role == "customer":  # Laura, registered and verified in ``world``; her ticket is {number}
        assert sign_in(client) == 302
    if role in {"agent", "admin"}:
        username = "tim" if role == "agent" else "kim"
        assert client.post("/login", data={"username": username, "password": DEMO_PASSWORD}).status_code == 302
    headers = {"Authorization": f"Bearer {SERVICE_TOKEN}"} if role == "bot" else {}
    return client, headers


def url_for_rule(app: Flask, endpoint: str, values: dict[str, Any]) -> str:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    if endpoint == "static":
        return "/static/console.css"
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: str(values[m.group(1)]), rule.rule)


def fill(body: dict[str, Any] | None, values: dict[str, Any]) -> dict[str, Any] | None:
    if body is None:
        return None
    return {k: v.format(**values) if isinstance(v, str) and "{" in v else v for k, v in body.items()}


@pytest.mark.parametrize("endpoint,method", sorted(ROUTES), ids=[f"{m} {e}" for e, m in sorted(ROUTES)])
def test_route_by_role(app, world, endpoint, method):
    row = ROUTES[(endpoint, method)]
    url = url_for_rule(app, endpoint, world)
    wrong = []
    for role in ROLES:
        client, headers = caller(app, role)
        response = client.open(url, method=method, headers={**headers, **row.headers},
                               data=fill(row.data, world), json=fill(row.json, world))
        got: int | str = response.status_code
        if got == 302 and response.headers["Location"].startswith("/login"):
            got = LOGIN
        elif got == 302 and response.headers["Location"].startswith("/portal/sign-in"):
            got = PORTAL_LOGIN
        response.close()  # the event streams are never read
        if got != row.expected(role):
            wrong.append(f"{role}: expected {row.expected(role)}, got {got}")
        if isinstance(got, int) and got >= 400 and endpoint.startswith("api."):
            assert_error_shape(response.get_json(), f"{method} {endpoint} as {role} ({got})")
    assert wrong == []


# ---- headers and cookies -------------------------------------------------------------------

@pytest.fixture
def https_app(tmp_path: Path):
    with databases.test_database(tmp_path) as url:
        app = create_app({"TESTING": True, "DATABASE_URL": url, "SERVICE_TOKEN": SERVICE_TOKEN,
                          "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False,
                          "PUBLIC_URL": "https://care.example.com"})
        upgrade(app)
        with app.app_context():
            seed_demo_users(db.session, DEMO_PASSWORD)
            db.session.commit()
        yield app
        app.extensions["care_engine"].dispose()


def session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "signing in sets the session cookie"
    return cookies[-1]


def test_cookies_are_httponly_and_samesite_and_not_secure_over_http(client):
    response = client.post("/login", data={"username": "kim", "password": DEMO_PASSWORD})
    cookie = session_cookie(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # PUBLIC_URL is http://: a Secure cookie would never come back


def test_cookies_are_secure_when_public_url_is_https(https_app):
    response = https_app.test_client().post("/login", data={"username": "kim", "password": DEMO_PASSWORD})
    cookie = session_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert https_app.config["REMEMBER_COOKIE_SECURE"] is True


def test_hsts_only_when_public_url_is_https(client, https_app):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    for path in ("/login", "/api/v1/health", "/track"):
        hsts = https_app.test_client().get(path).headers.get("Strict-Transport-Security", "")
        match = re.fullmatch(r"max-age=(\d+); includeSubDomains", hsts)
        assert match and int(match.group(1)) >= 31536000


def test_console_pages_have_the_security_headers(client, auth):
    auth.login()
    response = client.get("/admin/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# ---- secrets are never logged --------------------------------------------------------------

def test_secrets_never_appear_in_logs(app, client, caplog, capfd):
    password = DEMO_PASSWORD
    caplog.set_level(logging.DEBUG)
    logging.getLogger().setLevel(logging.DEBUG)
    headers = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    client.post("/api/v1/tickets", json=ticket_body(), headers={**headers, "Idempotency-Key": "log-1"})
    client.get("/api/v1/tickets/CR-10001", headers=headers)
    client.get("/api/v1/tickets/CR-99999", headers=headers)  # a 404 with the token
    client.get("/api/v1/tickets/CR-10001", headers={"Authorization": f"Bearer {SERVICE_TOKEN}x"})  # wrong token
    assert client.post("/login", data={"username": "kim", "password": password}).status_code == 302
    client.post("/logout")
    assert client.post("/login", data={"username": "kim", "password": password + "-wrong"}).status_code == 401
    with app.app_context():
        app.logger.debug("a debug line, so the capture is known to work")
    captured = capfd.readouterr()
    text = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records) + captured.out + captured.err
    assert "a debug line" in text
    assert SERVICE_TOKEN not in text
    assert password not in text  # neither the right password nor the wrong one


# ---- NUL characters (PostgreSQL cannot store them: found by the fuzz test) ----------------------

def test_nul_characters_are_refused_at_the_edge_on_every_database(client, bot_headers):
    opened = client.post("/api/v1/tickets", json=ticket_body(),
                         headers={**bot_headers, "Idempotency-Key": "nul"}).get_json()
    refused = [
        client.post(f"/api/v1/conversations/{opened['token']}/messages", json={"body": "a\u0000b"}),
        client.post("/api/v1/tickets", json=ticket_body(name="a\u0000b"),
                    headers={**bot_headers, "Idempotency-Key": "n2"}),
        client.post("/api/v1/tickets", json=ticket_body(nlu={"k\u0000": 1}),
                    headers={**bot_headers, "Idempotency-Key": "n3"}),
        client.post("/api/v1/privacy/export", json={"email": "a\u0000@example.com"}, headers=bot_headers),
        client.get("/api/v1/conversations/a%00b"),
        client.get("/api/v1/kb/search?q=a%00"),
        client.post("/track", data={"number": "CR-1\u0000", "email": "laura@example.com"}),
        client.post("/login", data={"username": "kim\u0000", "password": "x"}),
    ]
    assert [r.status_code for r in refused] == [400] * len(refused)
    assert refused[0].get_json()["error"]["code"] == "nul_character"
    control = client.post(f"/api/v1/conversations/{opened['token']}/messages", json={"body": "a\u0001b"})
    assert control.status_code == 201
