"""/admin/outbox: admins see what waits, what went out and what failed, and can send again."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from escalation import tickets
from escalation.db import db
from escalation.mail import outbox
from escalation.models import OutboxMail, utcnow

from .conftest import DEMO_PASSWORD


def make_failed_mail(app) -> OutboxMail:
    with app.app_context():
        t = tickets.open_ticket(db.session, name="Laura <b>", email="laura@example.com", subject="Inactive").ticket
        db.session.commit()
        mail = db.session.scalars(select(OutboxMail)).one()
        mail.status, mail.attempts, mail.last_error = "failed", 20, "gave up after 20 attempts: <timeout>"
        db.session.commit()
        assert t.number
        return mail


def test_only_admins_see_the_outbox(client, auth):
    assert client.get("/admin/outbox").status_code == 302  # to the login page
    auth.login("tim", DEMO_PASSWORD)
    assert client.get("/admin/outbox").status_code == 403
    assert client.post("/admin/outbox/1/send-again").status_code == 403


def test_the_outbox_lists_mail_with_failures_and_their_reason(app, client, auth):
    make_failed_mail(app)
    auth.login()
    page = client.get("/admin/outbox").get_data(as_text=True)
    assert 'data-testid="outbox"' in page
    assert "laura@example.com" in page and "acknowledgement" in page
    assert "gave up after 20 attempts: &lt;timeout&gt;" in page  # escaped
    assert 'data-testid="count-failed">1<' in page
    assert "No SMTP server is set" in page
    assert 'href="/admin/tickets/CR-10001"' in page
    assert "Send again" in page
    assert "laura@example.com" not in client.get("/admin/outbox?status=sent").get_data(as_text=True)


def test_send_again_puts_a_failed_mail_back_in_the_queue(app, client, auth):
    mail = make_failed_mail(app)
    auth.login()
    response = client.post(f"/admin/outbox/{mail.id}/send-again", follow_redirects=True)
    assert "is queued again" in response.get_data(as_text=True)
    with app.app_context():
        again = db.session.get(OutboxMail, mail.id)
        assert (again.status, again.attempts, again.last_error) == ("pending", 0, "queued again by kim")
        assert again.next_attempt_at <= utcnow() + timedelta(seconds=1)
    second = client.post(f"/admin/outbox/{mail.id}/send-again", follow_redirects=True)
    assert "Only failed mail can be sent again" in second.get_data(as_text=True)


def test_counts_cover_every_status(app):
    with app.app_context():
        assert outbox.counts(db.session) == {"pending": 0, "sending": 0, "sent": 0, "failed": 0}
