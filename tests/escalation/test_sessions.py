"""Console sessions end on the server: a copied cookie dies with logout or a password change;
and signing in costs one password hash whether the username exists or not (issue 12, findings 5, 9)."""
from __future__ import annotations

import hashlib

import pytest
from click.testing import Result
from sqlalchemy import select

from escalation import users
from escalation.db import db
from escalation.models import User

from .conftest import DEMO_PASSWORD


def copied_session(app, client):
    """A second browser holding a copy of ``client``'s session cookie (what a thief would hold)."""
    cookie = client.get_cookie("session")
    assert cookie is not None, "signing in sets the session cookie"
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def test_a_copied_session_cookie_no_longer_opens_the_console_after_logout(app, client, auth):
    assert auth.login("tim").status_code == 302
    thief = copied_session(app, client)
    assert thief.get("/agent/").status_code == 200  # the copy works while the session is live
    assert auth.logout().status_code == 302
    after = thief.get("/agent/")
    assert after.status_code == 302 and after.headers["Location"].startswith("/login")
    # signing in again works, with a fresh session; the old copy stays dead
    assert auth.login("tim").status_code == 302
    assert client.get("/agent/").status_code == 200
    assert thief.get("/agent/").status_code == 302


def test_a_password_change_ends_every_session_of_that_user(app, client, auth):
    auth.login("tim")
    other_browser = copied_session(app, client)
    with app.app_context():
        tim = db.session.scalar(select(User).where(User.username == "tim"))
        users.set_password(db.session, tim, "a-brand-new-password")
        db.session.commit()
    for browser in (client, other_browser):
        response = browser.get("/agent/")
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert auth.login("tim", DEMO_PASSWORD).status_code == 401
    assert auth.login("tim", "a-brand-new-password").status_code == 302


def test_set_password_command_changes_it_and_signs_the_user_out(app, client, auth):
    auth.login("tim")
    result: Result = app.test_cli_runner().invoke(args=["set-password", "tim"],
                                                  input="changed-password-1\nchanged-password-1\n")
    assert result.exit_code == 0, result.output
    assert "tim" in result.output and "signed out" in result.output
    assert client.get("/agent/").status_code == 302
    assert auth.login("tim", "changed-password-1").status_code == 302
    short = app.test_cli_runner().invoke(args=["set-password", "tim"], input="short\nshort\n")
    assert short.exit_code != 0 and "8 characters" in short.output


def test_other_users_sessions_survive_someone_elses_logout(app):
    tim, kim = app.test_client(), app.test_client()
    tim.post("/login", data={"username": "tim", "password": DEMO_PASSWORD})
    kim.post("/login", data={"username": "kim", "password": DEMO_PASSWORD})
    tim.post("/logout")
    assert kim.get("/admin/").status_code == 200


# ---- login timing: the same work for known and unknown usernames ---------------------------

@pytest.fixture
def kdf_calls(monkeypatch):
    """Counts the scrypt runs behind werkzeug's password hashing (the real function still runs)."""
    calls: list[int] = []
    real = hashlib.scrypt

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    return calls


@pytest.mark.parametrize("username,password", [
    ("tim", DEMO_PASSWORD),  # known, right password
    ("tim", "wrong-password"),  # known, wrong password
    ("nobody-by-this-name", "wrong-password"),  # unknown
    ("inactive", DEMO_PASSWORD),  # exists but switched off
])
def test_signing_in_costs_one_password_hash_whoever_asks(app, kdf_calls, username, password):
    with app.app_context():
        users.create_user(db.session, username="inactive", name="Gone", email="gone@example.com",
                          role="agent", password=DEMO_PASSWORD)
        db.session.scalar(select(User).where(User.username == "inactive")).active = False
        db.session.commit()
        users.authenticate(db.session, "warm-up", "x")  # the dummy hash is made once per process
        kdf_calls.clear()
        found = users.authenticate(db.session, username, password)
    assert len(kdf_calls) == 1
    assert (found is not None) == (username == "tim" and password == DEMO_PASSWORD)
