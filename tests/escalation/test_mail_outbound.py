"""Outgoing e-mail: which changes send what, how it looks, and delivery through a real SMTP server."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from escalation import tickets
from escalation.db import db
from escalation.mail.outbound import SmtpSender
from escalation.models import OutboxMail, User
from escalation.worker import run_pass

from .conftest import ticket_body
from .mail_servers import SmtpServer, smtp_server, tls_files  # noqa: F401  (fixtures)
from .test_mail_inbound import raw_mail


def user(name: str) -> User:
    return db.session.scalar(select(User).where(User.username == name))


def queued(kind: str | None = None) -> list[OutboxMail]:
    query = select(OutboxMail).order_by(OutboxMail.id)
    if kind:
        query = query.where(OutboxMail.kind == kind)
    return list(db.session.scalars(query))


def smtp_settings(server: SmtpServer, **extra) -> dict:
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": server.port, "SMTP_SECURITY": "none", **extra}


def open_chat_ticket(client, bot_headers, key: str = "k1", **overrides) -> str:
    response = client.post("/api/v1/tickets", json=ticket_body(**overrides),
                           headers={**bot_headers, "Idempotency-Key": key})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["number"]


def test_a_chat_ticket_is_acknowledged_by_mail_with_number_and_tracking_link(app, client, bot_headers, smtp_server):
    app.config.update(smtp_settings(smtp_server))
    number = open_chat_ticket(client, bot_headers)
    assert run_pass(app, "w1")["mail_sent"] == 1
    [mail] = smtp_server.wait_for(1)
    message = mail.message
    assert mail.rcpt_tos == ["laura@example.com"] and mail.mail_from == "care@support.example.com"
    # long headers are folded (RFC 5322); unfolded, the subject is:
    assert message["Subject"].strip() == f"[{number}] We received your request"
    assert message["From"] == "Customer Care <care@support.example.com>"
    assert message["Auto-Submitted"] == "auto-generated" and message["X-Care-Loop"] == "care@support.example.com"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert f"ticket {number}" in text and f"http://care.test/track?number={number}" in text
    assert f'href="http://care.test/track?number={number}"' in html
    with app.app_context():
        [row] = queued("acknowledgement")
        assert (row.status, row.attempts, message["Message-ID"]) == ("sent", 0, row.message_id)


def test_the_same_idempotent_request_acknowledges_once(app, client, bot_headers):
    open_chat_ticket(client, bot_headers, key="same")
    again = client.post("/api/v1/tickets", json=ticket_body(), headers={**bot_headers, "Idempotency-Key": "same"})
    assert again.status_code == 200
    with app.app_context():
        assert len(queued("acknowledgement")) == 1


def test_mail_is_written_in_the_same_transaction_as_the_change(app):
    with app.app_context():
        tickets.open_ticket(db.session, name="Austin", email="austin@example.com", subject="Locked out")
        db.session.rollback()
        assert queued() == []
        tickets.open_ticket(db.session, name="Austin", email="austin@example.com", subject="Locked out")
        db.session.commit()
    with app.app_context():
        assert [m.kind for m in queued()] == ["acknowledgement"]


def test_the_acknowledgement_never_repeats_what_the_customer_typed(app):
    """Anyone can type anyone's address into the chat: the first mail to it must not carry the
    typist's words (a phishing line in the subject, a link in the greeting) (issue #12)."""
    lure = "URGENT verify your bank at http://evil.example"
    with app.app_context():
        tickets.open_ticket(db.session, name=lure, email="victim@example.com", subject=lure, description=lure)
        db.session.commit()
        [ack] = queued()
        assert "evil.example" not in ack.subject + ack.body_text + ack.body_html
        assert "URGENT" not in ack.subject + ack.body_text + ack.body_html


def test_customer_text_is_escaped_in_the_html_part(app):
    with app.app_context():
        t = tickets.open_ticket(db.session, name="<b>Eve</b>", email="eve@example.com", subject="Hi",
                                channel="email").ticket
        tim = user("tim")
        tickets.assign(db.session, t, tim, "kim")
        tickets.reply(db.session, t, tim, "<script>alert(1)</script> & more")
        db.session.commit()
        [allocated] = queued("allocated")
        assert "&lt;b&gt;Eve&lt;/b&gt;" in allocated.body_html and "<b>Eve" not in allocated.body_html
        [reply] = queued("agent_reply")
        assert "<script>" not in reply.body_html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in reply.body_html
        assert "<script>alert(1)</script> & more" in reply.body_text  # the text part is text


def test_assignment_notifies_the_agent(app):
    with app.app_context():
        t = tickets.open_ticket(db.session, name="Austin", email="austin@example.com", subject="Locked out").ticket
        tickets.assign(db.session, t, user("tim"), user("kim"))
        db.session.commit()
        [notice] = queued("assigned")
        assert (notice.to_addr, notice.in_reply_to, notice.thread_references) == ("tim@support.example.com", "", "")
        assert notice.subject == f"[{t.number}] Assigned to you: Locked out"
        assert f"http://care.test/agent/tickets/{t.number}" in notice.body_text
        assert "by kim" in notice.body_text


def test_agent_replies_go_out_by_mail_only_on_email_tickets(app):
    with app.app_context():
        chat = tickets.open_ticket(db.session, name="Laura", email="laura@example.com", subject="Chat").ticket
        mail = tickets.open_ticket(db.session, name="Laura", email="laura@example.com", subject="Mail",
                                   channel="email").ticket
        tim = user("tim")
        for t in (chat, mail):
            tickets.assign(db.session, t, tim, "kim")
            tickets.reply(db.session, t, tim, "internal thoughts", internal=True)
            tickets.reply(db.session, t, tim, "Try signing in again <now>")
        db.session.commit()
        [reply] = queued("agent_reply")
        assert (reply.ticket_id, reply.to_addr, reply.auto_submitted) == (mail.id, "laura@example.com", False)
        assert reply.subject == f"[{mail.number}] Tim Agent replied to your request"  # no customer text
        assert "Try signing in again <now>" in reply.body_text and "Tim Agent" in reply.body_text
        assert "Try signing in again &lt;now&gt;" in reply.body_html
        assert "internal thoughts" not in reply.body_text


def test_resolving_sends_the_survey_link(app):
    with app.app_context():
        t = tickets.open_ticket(db.session, name="Laura", email="laura@example.com", subject="Inactive").ticket
        tim = user("tim")
        tickets.assign(db.session, t, tim, "kim")
        tickets.acknowledge(db.session, t, tim)
        tickets.resolve(db.session, t, tim, "Reactivated the account")
        db.session.commit()
        [notice] = queued("resolved")
        assert f"http://care.test/track?number={t.number}" in notice.body_text
        assert "Reactivated the account" not in notice.body_text  # the resolution note is for agents


def test_an_email_thread_is_threaded(app, smtp_server):
    """Ack answers the customer's mail; the agent's reply answers their latest one; References grow."""
    app.config.update(smtp_settings(smtp_server))
    with app.app_context():
        from escalation.mail.inbound import receive_and_commit

        number = receive_and_commit(db.session, raw_mail()).number
        run_pass(app, "w1")
        [ack] = smtp_server.wait_for(1)
        assert ack.message["In-Reply-To"] == "<laura-1@mail.example.com>"
        assert ack.message["References"] == "<laura-1@mail.example.com>"
        assert ack.message["Auto-Submitted"] == "auto-replied"
        receive_and_commit(db.session, raw_mail(subject="Re: it", message_id="<laura-2@mail.example.com>",
                                                body="more", In_Reply_To=ack.message["Message-ID"]))
        t = tickets.get_by_number(db.session, number)
        tickets.assign(db.session, t, user("tim"), "kim")
        tickets.reply(db.session, t, user("tim"), "Here is how")
        db.session.commit()
    run_pass(app, "w1")
    to_laura = [m.message for m in smtp_server.wait_for(4) if m.rcpt_tos == ["laura@example.com"]]
    allocated, reply = to_laura[-2:]
    assert allocated["Subject"] == f"Tim is looking at {number}"
    assert reply["In-Reply-To"] == "<laura-2@mail.example.com>"
    assert reply["References"].split() == ["<laura-1@mail.example.com>", ack.message["Message-ID"].strip(),
                                           "<laura-2@mail.example.com>", allocated["Message-ID"].strip()]
    assert "Auto-Submitted" not in reply


def test_starttls_with_login_and_a_checked_certificate(app, tls_files):
    server = SmtpServer(tls=tls_files, login=("care", "s3cret"))
    server.start()
    try:
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, SMTP_SECURITY="starttls",
                          SMTP_USERNAME="care", SMTP_PASSWORD="s3cret", MAIL_CA_FILE=tls_files[0])
        with app.app_context():
            tickets.open_ticket(db.session, name="Laura", email="laura@example.com", subject="Hi")
            db.session.commit()
        assert run_pass(app, "w1")["mail_sent"] == 1
        assert len(server.wait_for(1)) == 1 and server.logins == ["care"]
    finally:
        server.stop()


def test_an_untrusted_certificate_is_refused_and_the_mail_waits(app, tls_files):
    server = SmtpServer(tls=tls_files)
    server.start()
    try:
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, SMTP_SECURITY="starttls")
        with app.app_context():
            tickets.open_ticket(db.session, name="Laura", email="laura@example.com", subject="Hi")
            db.session.commit()
        assert run_pass(app, "w1")["mail_sent"] == 0
        with app.app_context():
            [mail] = queued()
            assert (mail.status, mail.attempts) == ("pending", 1)
            assert "CERTIFICATE_VERIFY_FAILED" in mail.last_error
        assert server.messages == []
    finally:
        server.stop()


def test_implicit_tls(app, tls_files):
    server = SmtpServer(tls=tls_files, implicit_tls=True)
    server.start()
    try:
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, SMTP_SECURITY="ssl",
                          MAIL_CA_FILE=tls_files[0])
        with app.app_context():
            tickets.open_ticket(db.session, name="Laura", email="laura@example.com", subject="Hi")
            db.session.commit()
        assert run_pass(app, "w1")["mail_sent"] == 1
        assert len(server.wait_for(1)) == 1
    finally:
        server.stop()


def test_wrong_smtp_password_keeps_the_mail_for_later(app, tls_files):
    server = SmtpServer(tls=tls_files, login=("care", "right"))
    server.start()
    try:
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, SMTP_SECURITY="starttls",
                          SMTP_USERNAME="care", SMTP_PASSWORD="wrong", MAIL_CA_FILE=tls_files[0])
        with app.app_context():
            tickets.open_ticket(db.session, name="Laura", email="laura@example.com", subject="Hi")
            db.session.commit()
        run_pass(app, "w1")
        with app.app_context():
            [mail] = queued()
            assert mail.status == "pending" and "SMTPAuthenticationError" in mail.last_error
    finally:
        server.stop()


def test_no_smtp_host_means_mail_waits_unsent(app):
    with app.app_context():
        tickets.open_ticket(db.session, name="Laura", email="laura@example.com", subject="Hi")
        db.session.commit()
    assert run_pass(app, "w1")["mail_sent"] == 0
    with app.app_context():
        assert [(m.status, m.attempts) for m in queued()] == [("pending", 0)]


def test_unknown_security_mode_is_a_clear_error():
    with pytest.raises(ValueError, match="SMTP_SECURITY"):
        SmtpSender("127.0.0.1", 1, security="tls")


def test_a_bad_security_setting_keeps_mail_waiting_with_the_reason(app, smtp_server):
    app.config.update(smtp_settings(smtp_server, SMTP_SECURITY="tls"))
    with app.app_context():
        tickets.open_ticket(db.session, name="Laura", email="laura@example.com", subject="Hi")
        db.session.commit()
    assert run_pass(app, "w1")["mail_sent"] == 0  # the worker carries on
    with app.app_context():
        [mail] = queued()
        assert mail.status == "pending" and "SMTP_SECURITY must be starttls, ssl or none" in mail.last_error
