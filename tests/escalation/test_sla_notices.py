"""SLA notices: each admin gets one e-mail when a ticket becomes at risk or breached."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from escalation import sla, tickets
from escalation.db import db
from escalation.mail import templates_store
from escalation.models import OutboxMail, Ticket, User, utcnow
from escalation.users import create_user
from escalation.worker import run_pass

XSS = "<script>alert(1)</script>"


def notices():
    return db.session.scalars(select(OutboxMail).where(OutboxMail.kind == "sla_notice").order_by(OutboxMail.id)).all()


def open_ticket(subject="Question about my order"):
    ticket = tickets.open_ticket(db.session, name="Laura", email="laura@example.com", subject=subject).ticket
    db.session.commit()
    return ticket


def test_one_notice_per_change_never_on_every_pass(app):
    with app.app_context():
        ticket = open_ticket()
        start = ticket.created_at  # normal priority: first response due after 4 h
        assert sla.check_all(db.session, now=start + timedelta(hours=1)) == []
        assert notices() == []
        sla.check_all(db.session, now=start + timedelta(hours=3, minutes=30))
        db.session.commit()
        [at_risk] = notices()
        assert at_risk.to_addr == "kim@support.example.com" and at_risk.ticket_id == ticket.id
        assert at_risk.subject == f"[{ticket.number}] SLA at risk: Question about my order"
        assert "first response target is due" in at_risk.body_text
        assert f"http://care.test/admin/tickets/{ticket.number}" in at_risk.body_text
        assert "assign it to an agent now" in at_risk.body_text
        assert at_risk.in_reply_to == "" and at_risk.status == "pending"
        for minutes in (35, 40, 50):  # still at risk: nothing more
            sla.check_all(db.session, now=start + timedelta(hours=3, minutes=minutes))
        assert len(notices()) == 1
        sla.check_all(db.session, now=start + timedelta(hours=4, minutes=1))
        db.session.commit()
        breached = notices()[-1]
        assert len(notices()) == 2 and breached.subject.startswith(f"[{ticket.number}] SLA breached:")
        assert "The target is missed" in breached.body_text
        for hours in (5, 8, 30):  # breached stays breached: nothing more
            sla.check_all(db.session, now=start + timedelta(hours=hours))
        assert len(notices()) == 2


def test_every_active_admin_gets_one(app):
    with app.app_context():
        create_user(db.session, username="ann", name="Ann Admin", email="ann@support.example.com", role="admin",
                    password="password-123")
        gone = create_user(db.session, username="old", name="Old Admin", email="old@support.example.com",
                           role="admin", password="password-123")
        gone.active = False
        db.session.commit()
        ticket = open_ticket()
        sla.check_all(db.session, now=ticket.created_at + timedelta(hours=4, minutes=1))
        db.session.commit()
        assert sorted(m.to_addr for m in notices()) == ["ann@support.example.com", "kim@support.example.com"]
        ann = next(m for m in notices() if m.to_addr.startswith("ann"))
        assert ann.body_text.startswith("Hello Ann Admin,")


def test_the_worker_sends_them_once(app):
    with app.app_context():
        ticket = open_ticket()
        tickets.assign(db.session, ticket, db.session.scalar(select(User).where(User.username == "tim")), "kim")
        ticket.first_response_due = utcnow() - timedelta(minutes=1)
        db.session.commit()
        assert run_pass(app, "w1")["sla_changes"] == 1
        assert run_pass(app, "w1")["sla_changes"] == 0
        [notice] = notices()
        assert "Assignee:  Tim Agent" in notice.body_text and "Check with Tim Agent" in notice.body_text
        db.session.expire_all()  # the worker used its own session
        assert db.session.get(Ticket, ticket.id).sla_state == "breached"


def test_customer_text_is_escaped_in_the_html_part(app):
    with app.app_context():
        ticket = open_ticket(subject=f"Order {XSS}")
        sla.check_all(db.session, now=ticket.created_at + timedelta(hours=5))
        [notice] = notices()
        assert XSS not in notice.body_html and "&lt;script&gt;" in notice.body_html
        assert XSS in notice.body_text  # plain text is plain


def test_the_template_is_listed_for_the_admin_editor(client, auth):
    assert templates_store.validate("sla_notice", templates_store.shipped("sla_notice")) == {}
    auth.login("kim")
    listing = client.get("/admin/mail-templates").get_data(as_text=True)
    assert 'href="/admin/mail-templates/sla_notice"' in listing and "SLA notice" in listing
    page = client.get("/admin/mail-templates/sla_notice").get_data(as_text=True)
    assert "admin.name" in page and "sla_state" in page


def test_an_edited_template_is_used(client, auth, app):
    auth.login("kim")
    sources = templates_store.shipped("sla_notice")
    response = client.post("/admin/mail-templates/sla_notice",
                           data={"subject": "ALERT {{ ticket.number }} {{ sla_state }}", "text": sources.text,
                                 "html": sources.html, "action": "save"})
    assert response.status_code == 303
    with app.app_context():
        ticket = open_ticket()
        sla.check_all(db.session, now=ticket.created_at + timedelta(hours=5))
        assert notices()[0].subject == f"ALERT {ticket.number} breached"
