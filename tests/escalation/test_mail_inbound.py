"""Inbound e-mail: new tickets, replies on the thread, and mail that must not be answered."""
from __future__ import annotations

import os
import subprocess
import sys
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest
from sqlalchemy import func, select

from escalation import tickets
from escalation.db import db
from escalation.mail import inbound
from escalation.mail.htmltext import html_to_text
from escalation.models import MailMessageId, Message, OutboxMail, Ticket, User

SUPPORT = "care@support.example.com"


def raw_mail(*, sender: str = "Laura Smith <laura@example.com>", subject: str = "My account is inactive",
             body: str | None = "Hello, my account has been inactive for 2 years. Can you reactivate it?",
             html: str | None = None, message_id: str | None = "<laura-1@mail.example.com>",
             **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = f"Customer Care <{SUPPORT}>"
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    if body is not None:
        message.set_content(body)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    return message.as_bytes(policy=SMTP)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def receive(raw: bytes) -> inbound.Received:
    return inbound.receive_and_commit(db.session, raw)


def ticket(number: str) -> Ticket:
    return tickets.get_by_number(db.session, number)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_new_mail_opens_an_email_ticket_for_the_sender(ctx):
    result = receive(raw_mail())
    assert result.outcome == "opened"
    t = ticket(result.number)
    assert (t.channel, t.subject, t.customer.email, t.customer.name) == \
        ("email", "My account is inactive", "laura@example.com", "Laura Smith")
    assert (t.category, t.status, t.owner) == ("account-access", "new", "queued")  # triaged like chat
    assert "inactive for 2 years" in t.description
    assert [(m.author_type, m.body) for m in t.messages] == [("customer", t.description)]
    ack = db.session.scalars(select(OutboxMail).where(OutboxMail.ticket_id == t.id)).one()
    assert (ack.kind, ack.to_addr, ack.in_reply_to) == ("acknowledgement", "laura@example.com",
                                                        "<laura-1@mail.example.com>")
    assert ack.thread_references == "<laura-1@mail.example.com>"


def test_the_plain_text_part_is_preferred(ctx):
    result = receive(raw_mail(body="plain words", html="<p>html words</p>"))
    assert ticket(result.number).description == "plain words"


def test_an_html_only_mail_becomes_safe_text(ctx):
    html = ("<html><head><style>p {color: red}</style><script>alert('x')</script></head><body>"
            "<p>I can&#39;t log in &amp; I&nbsp;tried</p><p>twice<br>today <b>&lt;help&gt;</b></p>"
            "<img src=x onerror=alert(1)><a href='https://example.com/x'>link</a></body></html>")
    result = receive(raw_mail(body=None, html=html))
    text = ticket(result.number).description
    assert text == "I can't log in & I tried\n\ntwice\ntoday <help>\n\nlink <https://example.com/x>"
    assert "alert" not in text and "color" not in text


@pytest.mark.parametrize("html, text", [
    ("<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
    ("<div>a</div><div>b</div>", "a\n\nb"),
    ("<table><tr><td>x</td><td>y</td></tr></table>", "x y"),
    ("<p>unclosed <b>bold", "unclosed bold"),
    ("<svg><text>drawn</text></svg>after", "after"),
])
def test_html_to_text(html, text):
    assert html_to_text(html) == text


def test_encoded_subjects_and_other_charsets_are_decoded(ctx):
    message = EmailMessage()
    message["From"] = "Zoë Müller <zoe@example.com>"
    message["To"] = SUPPORT
    message["Subject"] = "Rückerstattung für Bestellung"
    message["Message-ID"] = "<zoe-1@example.com>"
    message.set_content("Grüße aus Köln", charset="iso-8859-1")
    result = receive(message.as_bytes(policy=SMTP))
    t = ticket(result.number)
    assert (t.subject, t.description, t.customer.name) == ("Rückerstattung für Bestellung", "Grüße aus Köln",
                                                           "Zoë Müller")


def test_a_reply_naming_our_message_id_joins_the_thread(ctx):
    number = receive(raw_mail()).number
    ack = db.session.scalars(select(OutboxMail).where(OutboxMail.kind == "acknowledgement")).one()
    reply = raw_mail(subject="Re: something else entirely", message_id="<laura-2@mail.example.com>",
                     body=f"It is the account laura77.\n\nOn Mon, Care wrote:\n> {inbound.REPLY_MARKER}\n> Hello",
                     In_Reply_To=ack.message_id, References=f"<laura-1@mail.example.com> {ack.message_id}")
    result = receive(reply)
    assert (result.outcome, result.number) == ("appended", number)
    assert [m.body for m in ticket(number).messages][-1] == "It is the account laura77."
    assert count(Ticket) == 1


def test_a_reply_with_the_number_in_the_subject_joins_the_thread(ctx):
    number = receive(raw_mail()).number
    result = receive(raw_mail(subject=f"Re: [{number}] My account", message_id="<laura-3@mail.example.com>",
                              body="Any news?\n\n> quoted\n> history"))
    assert (result.outcome, result.number) == ("appended", number)
    assert ticket(number).messages[-1].body == "Any news?"


def test_someone_else_using_the_number_gets_their_own_ticket(ctx):
    number = receive(raw_mail()).number
    result = receive(raw_mail(sender="mallory@evil.example", subject=f"Re: [{number}] close it",
                              message_id="<m-1@evil.example>", body="please close"))
    assert result.outcome == "opened" and result.number != number
    assert len(ticket(number).messages) == 1


def test_a_reply_reopens_a_resolved_ticket(ctx):
    number = receive(raw_mail()).number
    t, tim = ticket(number), db.session.scalar(select(User).where(User.username == "tim"))
    tickets.assign(db.session, t, tim, "kim")
    tickets.reply(db.session, t, tim, "Done, try again")
    tickets.resolve(db.session, t, tim, "Reactivated")
    db.session.commit()
    result = receive(raw_mail(subject=f"Re: [{number}] Resolved", message_id="<laura-4@mail.example.com>",
                              body="Still does not work"))
    assert result.outcome == "appended"
    assert (ticket(number).status, ticket(number).owner) == ("in_progress", "agent")


def test_a_reply_to_a_closed_ticket_opens_a_follow_up(ctx):
    number = receive(raw_mail()).number
    t, tim = ticket(number), db.session.scalar(select(User).where(User.username == "tim"))
    tickets.assign(db.session, t, tim, "kim")
    tickets.acknowledge(db.session, t, tim)
    tickets.resolve(db.session, t, tim, "Reactivated")
    tickets.close(db.session, t, "worker")
    db.session.commit()
    result = receive(raw_mail(subject=f"Re: [{number}]", message_id="<laura-5@mail.example.com>", body="Again"))
    assert result.outcome == "opened" and result.number != number
    assert ticket(result.number).description.startswith(f"(follow-up to {number})")


def test_the_same_message_twice_counts_once(ctx):
    first, second = receive(raw_mail()), receive(raw_mail())
    assert first.outcome == "opened"
    assert (second.outcome, second.reason) == ("ignored", "already received (<laura-1@mail.example.com>)")
    assert count(Ticket) == 1 and count(OutboxMail) == 1


def test_a_message_without_message_id_is_still_recognised_when_delivered_again(ctx):
    assert receive(raw_mail(message_id=None)).outcome == "opened"
    assert receive(raw_mail(message_id=None)).outcome == "ignored"
    assert count(Ticket) == 1


@pytest.mark.parametrize("headers, reason", [
    ({"Auto_Submitted": "auto-replied"}, "auto-reply (Auto-Submitted: auto-replied)"),
    ({"Auto_Submitted": "auto-generated; owner-email=x@example.com"}, "auto-reply (Auto-Submitted: auto-generated)"),
    ({"X_Autoreply": "yes"}, "auto-reply (X-Autoreply)"),
    ({"Precedence": "bulk"}, "auto-reply (Precedence: bulk)"),
    ({"Precedence": "junk"}, "auto-reply (Precedence: junk)"),
    ({"Precedence": "List"}, "auto-reply (Precedence: list)"),
    ({"sender": "MAILER-DAEMON@mx.example.com"}, "bounce (from MAILER-DAEMON)"),
    ({"sender": "Mail Delivery System <mailer-daemon@mx.example.com>"}, "bounce (from MAILER-DAEMON)"),
    ({"Return_Path": "<>"}, "bounce (empty return path)"),
    ({"X_Care_Loop": SUPPORT}, "loop (X-Care-Loop)"),
    ({"sender": f"Customer Care <{SUPPORT}>"}, "loop (sent from our own address)"),
])
def test_auto_replies_bounces_and_loops_are_not_answered(ctx, headers, reason):
    sender = headers.pop("sender", "Laura Smith <laura@example.com>")
    result = receive(raw_mail(sender=sender, **headers))
    assert (result.outcome, result.reason) == ("ignored", reason)
    assert count(Ticket) == 0 and count(OutboxMail) == 0


def test_auto_submitted_no_is_a_person(ctx):
    assert receive(raw_mail(Auto_Submitted="no")).outcome == "opened"


def test_a_delivery_status_report_is_a_bounce(ctx):
    report = (f"From: postmaster-robot@mx.example.com\r\nTo: {SUPPORT}\r\nSubject: Undelivered Mail\r\n"
              "Message-ID: <dsn-1@mx.example.com>\r\nMIME-Version: 1.0\r\n"
              'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
              "--b\r\nContent-Type: text/plain\r\n\r\nCould not deliver.\r\n"
              "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n"
              "Final-Recipient: rfc822; nobody@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n")
    result = receive(report.encode())
    assert (result.outcome, result.reason) == ("ignored", "bounce (multipart/report)")


def test_our_own_mail_coming_back_is_a_loop(ctx):
    receive(raw_mail())
    ack = db.session.scalars(select(OutboxMail)).one()
    echoed = raw_mail(sender="Laura Smith <laura@example.com>", message_id=ack.message_id, subject=ack.subject)
    assert receive(echoed).reason == "loop (our own Message-ID)"


def test_inbound_ids_are_recorded_for_threading(ctx):
    number = receive(raw_mail()).number
    rows = db.session.execute(select(MailMessageId.message_id, MailMessageId.direction)
                              .where(MailMessageId.ticket_id == ticket(number).id)
                              .order_by(MailMessageId.id)).all()
    assert [direction for _, direction in rows] == ["out", "in"]
    assert rows[1][0] == "<laura-1@mail.example.com>"


def test_mail_in_command_reads_one_message_from_stdin(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["mail-in"], input=raw_mail())
    assert result.exit_code == 0, result.output
    assert result.output.startswith("opened CR-")
    again = runner.invoke(args=["mail-in"], input=raw_mail())
    assert again.exit_code == 0 and again.output.startswith("ignored: already received")
    assert runner.invoke(args=["mail-in"], input=b"").exit_code == 65
    bounce = runner.invoke(args=["mail-in"], input=raw_mail(sender="MAILER-DAEMON@mx.example.com",
                                                            message_id="<b@mx>"))
    assert (bounce.exit_code, bounce.output.strip()) == (0, "ignored: bounce (from MAILER-DAEMON)")
    with app.app_context():
        assert count(Ticket) == 1


def test_mail_in_as_a_mail_server_pipes_it(app, tmp_path, repo_root):
    """The real command line, as an MTA runs it: `flask --app escalation mail-in < message.eml`."""
    (tmp_path / "message.eml").write_bytes(raw_mail())
    env = {**os.environ, "CARE_DATABASE_URL": app.config["DATABASE_URL"], "CARE_INSTANCE_DIR": str(tmp_path),
           "CARE_LOG_LEVEL": "WARNING"}
    flask = Path(sys.executable).with_name("flask")
    with open(tmp_path / "message.eml", "rb") as stdin:
        done = subprocess.run([str(flask), "--app", "escalation", "mail-in"], stdin=stdin, capture_output=True,
                              env=env, cwd=repo_root, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    number = done.stdout.decode().split()[1].rstrip(":")
    with app.app_context():
        assert ticket(number).channel == "email"


def test_mail_in_asks_the_mail_server_to_retry_when_the_database_is_away(app, tmp_path):
    app.config["DATABASE_URL"] = f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"
    from escalation.db import make_engine

    app.extensions["care_db"].configure(bind=make_engine(app.config["DATABASE_URL"]))
    result = app.test_cli_runner().invoke(args=["mail-in"], input=raw_mail())
    assert result.exit_code == 75


def test_messages_rows_are_customer_messages(ctx):
    number = receive(raw_mail()).number
    message = db.session.scalars(select(Message).where(Message.ticket_id == ticket(number).id)).one()
    assert (message.author_type, message.author_name, message.internal) == ("customer", "Laura Smith", False)
