"""Helpers for the portal tests: register, verify through the mail in the outbox, sign in."""
from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from escalation.db import db
from escalation.models import OutboxMail

PASSWORD = "laura-secret-42"
LINK = re.compile(r"http://care\.test(/portal/[\w/.\-]+)")


def mails_to(app: Flask, address: str) -> list[OutboxMail]:
    with app.app_context():
        return list(db.session.scalars(select(OutboxMail).where(OutboxMail.to_addr == address)
                                       .order_by(OutboxMail.id)))


def last_link(app: Flask, address: str) -> str:
    """The path of the link in the newest account mail to ``address``."""
    account_mails = [m for m in mails_to(app, address) if m.kind == "account"]
    assert account_mails, f"no account mail to {address}"
    found = LINK.search(account_mails[-1].body_text)
    assert found, account_mails[-1].body_text
    return found.group(1)


def register(app: Flask, client: FlaskClient, email: str = "laura@example.com", name: str = "Laura Smith",
             password: str = PASSWORD) -> FlaskClient:
    """Register and verify ``email``; ``client`` is signed in to the portal afterwards."""
    response = client.post("/portal/register", data={"name": name, "email": email, "password": password})
    assert response.status_code == 202, response.get_data(as_text=True)
    link = last_link(app, email)
    assert link.startswith("/portal/verify/")
    assert client.get(link).status_code == 200  # a page with a button: the GET spends nothing
    response = client.post(link)
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/tickets")
    return client


def sign_in(client: FlaskClient, email: str = "laura@example.com", password: str = PASSWORD) -> int:
    return client.post("/portal/sign-in", data={"email": email, "password": password}).status_code
