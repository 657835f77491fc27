"""The worker polls a real IMAP server (dovecot on loopback) and answers through a real SMTP server."""
from __future__ import annotations

from sqlalchemy import func, select

from escalation import tickets
from escalation.db import db
from escalation.models import Ticket
from escalation.worker import run_pass

from .mail_servers import Dovecot, dovecot, dovecot_tls, smtp_server, tls_files  # noqa: F401  (fixtures)
from .test_mail_inbound import raw_mail


def configure(app, imap: Dovecot, smtp=None, *, secure: bool = False, **extra) -> None:
    app.config.update(imap.settings(secure=secure), **extra)
    if smtp is not None:
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, SMTP_SECURITY="none")


def ticket_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Ticket.id)))


def test_laura_writes_an_email_and_hears_back_in_the_same_pass(app, dovecot, smtp_server):
    configure(app, dovecot, smtp_server)
    dovecot.deliver(raw_mail())
    result = run_pass(app, "w1")
    assert (result["mail_received"], result["mail_sent"]) == (1, 1)
    [ack] = smtp_server.wait_for(1)
    assert ack.rcpt_tos == ["laura@example.com"]
    assert ack.message["In-Reply-To"] == "<laura-1@mail.example.com>"
    number = ack.message["Subject"].split("]")[0].strip(" [")
    with app.app_context():
        t = tickets.get_by_number(db.session, number)
        assert (t.channel, t.customer.email) == ("email", "laura@example.com")
    assert dovecot.flags() == ["1 (FLAGS (\\Seen))"]
    assert run_pass(app, "w1")["mail_received"] == 0  # seen mail is not fetched again


def test_replies_join_the_thread_and_auto_replies_are_dropped(app, dovecot, smtp_server):
    configure(app, dovecot, smtp_server)
    dovecot.deliver(raw_mail())
    run_pass(app, "w1")
    [ack] = smtp_server.wait_for(1)
    dovecot.deliver(raw_mail(subject="Re: your ticket", message_id="<laura-2@mail.example.com>", body="Thanks!",
                             In_Reply_To=ack.message["Message-ID"].strip()))
    dovecot.deliver(raw_mail(subject="Out of office", message_id="<ooo@mail.example.com>", body="I am away",
                             Auto_Submitted="auto-replied", In_Reply_To=ack.message["Message-ID"].strip()))
    dovecot.deliver(raw_mail(sender="MAILER-DAEMON@mx.example.com", subject="Undeliverable",
                             message_id="<bounce@mx.example.com>"))
    assert run_pass(app, "w1")["mail_received"] == 3
    assert ticket_count(app) == 1
    with app.app_context():
        [t] = db.session.scalars(select(Ticket)).unique().all()
        assert [m.body for m in t.messages] == [t.description, "Thanks!"]
    assert len(smtp_server.messages) == 1  # nothing answered the auto-reply or the bounce
    assert all("\\Seen" in flags for flags in dovecot.flags())


def test_a_message_fetched_again_after_a_crash_counts_once(app, dovecot, smtp_server):
    """The worker committed the ticket but died before flagging the message \\Seen."""
    configure(app, dovecot, smtp_server)
    dovecot.deliver(raw_mail())
    run_pass(app, "w1")
    imap = dovecot.connect()
    try:
        imap.store("1", "-FLAGS", "(\\Seen)")
    finally:
        imap.logout()
    assert run_pass(app, "w1")["mail_received"] == 1  # fetched again, recognised
    assert ticket_count(app) == 1
    assert len(smtp_server.messages) == 1
    assert dovecot.flags() == ["1 (FLAGS (\\Seen))"]


def test_imap_over_tls_with_a_checked_certificate(app, dovecot_tls, tls_files, smtp_server):
    configure(app, dovecot_tls, smtp_server, secure=True, MAIL_CA_FILE=tls_files[0])
    dovecot_tls.deliver(raw_mail())
    assert run_pass(app, "w1")["mail_received"] == 1
    assert ticket_count(app) == 1


def test_an_unreachable_mailbox_is_retried_next_pass(app, dovecot, caplog):
    configure(app, dovecot)
    dovecot.deliver(raw_mail())
    dovecot.stop()
    assert run_pass(app, "w1")["mail_received"] == 0
    assert "IMAP server 127.0.0.1 unavailable" in caplog.text
    dovecot.start()
    assert run_pass(app, "w1")["mail_received"] == 1
    assert ticket_count(app) == 1


def test_a_wrong_imap_password_is_logged_not_fatal(app, dovecot, caplog):
    configure(app, dovecot, IMAP_PASSWORD="wrong")
    dovecot.deliver(raw_mail())
    assert run_pass(app, "w1")["mail_received"] == 0
    assert "AUTHENTICATIONFAILED" in caplog.text or "authentication failed" in caplog.text.lower()
    assert ticket_count(app) == 0
