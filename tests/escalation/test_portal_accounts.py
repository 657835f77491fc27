"""Customer accounts: register once, verify by e-mail, sign in (password or link), reset,
sign out for real; no enumeration; rate limits; customers never reach the consoles."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from escalation.db import db
from escalation.models import AuditEntry, CustomerAccount

from .conftest import ticket_body
from .portal_helpers import PASSWORD, last_link, mails_to, register, sign_in

LAURA = "laura@example.com"


def test_register_verify_and_see_my_tickets(app, client):
    register(app, client)
    page = client.get("/portal/tickets")
    assert page.status_code == 200 and "Laura Smith" in page.get_data(as_text=True)
    mail = [m for m in mails_to(app, LAURA) if m.kind == "account"][0]
    assert "Confirm your e-mail address" in mail.subject and mail.ticket_id is None
    with app.app_context():
        actions = [a.action for a in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-3:] == ["portal_register", "portal_verify", "portal_sign_in"]


def test_nothing_is_visible_before_the_address_is_verified(app, client):
    client.post("/portal/register", data={"name": "Laura", "email": LAURA, "password": PASSWORD})
    assert client.get("/portal/tickets").status_code == 302  # not signed in
    assert sign_in(client) == 401  # the right password, but the address is not verified
    assert "earlier ones no longer work" in client.post(
        "/portal/sign-in", data={"email": LAURA, "password": PASSWORD}).get_data(as_text=True)


def test_a_verification_link_works_once_and_a_forged_one_never(app, client):
    client.post("/portal/register", data={"name": "Laura", "email": LAURA, "password": PASSWORD})
    link = last_link(app, LAURA)
    assert client.post(link).status_code == 302
    other = app.test_client()
    assert other.post(link).status_code == 400  # used
    assert other.post(link[:-3] + "abc").status_code == 400  # tampered signature
    assert other.post("/portal/verify/not-a-token").status_code == 400


def test_an_expired_link_is_refused(app, client):
    app.config["PORTAL_VERIFY_HOURS"] = 0  # every link is older than 0 s by the time it is used
    client.post("/portal/register", data={"name": "Laura", "email": LAURA, "password": PASSWORD})
    import time

    time.sleep(1.1)
    response = client.post(last_link(app, LAURA))
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)


def test_register_the_same_address_twice_answers_the_same_and_changes_nothing(app, client):
    register(app, client)
    client.post("/portal/sign-out")
    stranger = app.test_client()
    first = stranger.post("/portal/register", data={"name": "Mallory", "email": LAURA, "password": "mallory-pass-1"})
    fresh = stranger.post("/portal/register", data={"name": "Nobody", "email": "nobody@example.com",
                                                    "password": "whatever-pass-1"})
    assert first.status_code == fresh.status_code == 202

    def words(response):
        return re.sub(r"\S+@example\.com", "ADDRESS", response.get_data(as_text=True))

    assert words(first) == words(fresh)  # the page is the same for a known and an unknown address
    assert sign_in(client, LAURA, "mallory-pass-1") == 401  # the password did not change
    assert sign_in(client) == 302
    kinds = [m.subject for m in mails_to(app, LAURA) if m.kind == "account"]
    assert "You already have" in kinds[-1]  # Laura is told; nobody else learns anything


@pytest.mark.parametrize("path", ["/portal/sign-in/link", "/portal/forgot"])
def test_asking_for_a_mail_answers_the_same_for_known_and_unknown_addresses(app, client, path):
    register(app, app.test_client())
    known = client.post(path, data={"email": LAURA})
    unknown = client.post(path, data={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.get_data(as_text=True).replace(LAURA, "X") == unknown.get_data(as_text=True).replace(
        "nobody@example.com", "X")
    assert mails_to(app, "nobody@example.com") == []


def test_wrong_password_and_unknown_address_get_the_same_answer(app, client):
    register(app, app.test_client())
    wrong = client.post("/portal/sign-in", data={"email": LAURA, "password": "wrong-password"})
    unknown = client.post("/portal/sign-in", data={"email": "nobody@example.com", "password": "wrong-password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_data(as_text=True).replace(LAURA, "X") == unknown.get_data(as_text=True).replace(
        "nobody@example.com", "X")


def test_sign_in_with_an_emailed_link_once(app, client):
    register(app, app.test_client())
    assert client.post("/portal/sign-in/link", data={"email": LAURA}).status_code == 202
    link = last_link(app, LAURA)
    assert link.startswith("/portal/sign-in/link/")
    assert client.get(link).status_code == 200 and client.get("/portal/tickets").status_code == 302
    assert client.post(link).status_code == 302
    assert client.get("/portal/tickets").status_code == 200
    assert app.test_client().post(link).status_code == 400  # used


def test_reset_password_signs_out_every_other_session(app, client):
    register(app, client)
    assert client.get("/portal/tickets").status_code == 200
    other = app.test_client()
    other.post("/portal/forgot", data={"email": LAURA})
    link = last_link(app, LAURA)
    assert other.post(link, data={"password": "short"}).status_code == 422
    assert other.post(link, data={"password": "a-new-password-9"}).status_code == 302
    assert other.get("/portal/tickets").status_code == 200
    assert client.get("/portal/tickets").status_code == 302  # the old session ended
    assert sign_in(app.test_client(), LAURA, PASSWORD) == 401
    assert sign_in(app.test_client(), LAURA, "a-new-password-9") == 302


def test_sign_out_ends_the_session_even_for_a_copy_of_the_cookie(app, client):
    register(app, client)
    cookie = client.get_cookie("session").value
    assert client.post("/portal/sign-out").status_code == 302
    assert client.get("/portal/tickets").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", cookie)  # the cookie from before signing out
    response = replay.get("/portal/tickets")
    assert response.status_code == 302 and "/portal/sign-in" in response.headers["Location"]
    with app.app_context():
        account = db.session.scalar(select(CustomerAccount))
        assert account.session_version == 2


def test_a_customer_session_never_opens_the_consoles(app, client):
    register(app, client)
    for path in ("/admin/", "/agent/", "/admin/privacy", "/agent/tickets/CR-10001"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), path


def test_a_staff_session_is_a_stranger_to_the_portal(app, client, auth):
    auth.login("kim")
    response = client.get("/portal/tickets")
    assert response.status_code == 302 and "/portal/sign-in" in response.headers["Location"]


def test_passwords_are_hashed_with_scrypt(app, client):
    register(app, client)
    with app.app_context():
        account = db.session.scalar(select(CustomerAccount))
    assert account.password_hash.startswith("scrypt:") and PASSWORD not in account.password_hash


def test_failed_sign_ins_are_rate_limited_with_the_staff_bucket(app, client):
    app.config["RATE_LIMIT_LOGINS"] = 3
    register(app, app.test_client())
    for _ in range(2):
        assert sign_in(client, LAURA, "wrong-password") == 401
    assert client.post("/login", data={"username": "kim", "password": "wrong"}).status_code == 401
    blocked = client.post("/portal/sign-in", data={"email": LAURA, "password": PASSWORD})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "Too many sign-in attempts" in blocked.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/portal/forgot", "/portal/sign-in/link", "/portal/register"])
def test_mails_asked_for_are_rate_limited(app, client, path):
    app.config["RATE_LIMIT_PORTAL_MAILS"] = 2
    data = {"email": "nobody@example.com", "name": "N", "password": "long-enough-1"}
    assert [client.post(path, data=data).status_code for _ in range(3)] == [202, 202, 429]


def test_tickets_from_every_channel_appear_once_the_address_is_verified(app, client, bot_headers):
    api = app.test_client()
    chat = api.post("/api/v1/tickets", json=ticket_body(email="Laura@Example.com"),
                    headers={**bot_headers, "Idempotency-Key": "chat"}).get_json()
    mail = api.post("/api/v1/tickets", json=ticket_body(channel="email", conversation_id=None, subject="By mail"),
                    headers={**bot_headers, "Idempotency-Key": "mail"}).get_json()
    api.post("/api/v1/tickets", json=ticket_body(email="other@example.com", conversation_id="c2"),
             headers={**bot_headers, "Idempotency-Key": "other"})
    register(app, client)
    page = client.get("/portal/tickets").get_data(as_text=True)
    assert re.findall(r'data-number="(CR-\d+)"', page) == [mail["number"], chat["number"]]
