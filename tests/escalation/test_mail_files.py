"""Files by e-mail: a customer's mail keeps its files within the portal's limits (a refused one
is named in the thread and to the sender), an agent's reply is mailed with its files up to
CARE_MAIL_ATTACH_MAX_TOTAL and links to the portal above it. The last tests run on real SMTP
on loopback (the mail catcher) and download through the portal."""
from __future__ import annotations

import smtplib
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP

import pytest
from sqlalchemy import select

from escalation import attachments, tickets
from escalation.db import db
from escalation.mail import files, inbound, outbox
from escalation.mail.outbound import build_message
from escalation.models import Attachment, Message, OutboxMail, User

from .portal_helpers import register
from .test_mail_catcher import SUPPORT, caught, deliver  # noqa: F401 - the catcher fixture

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 40
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'


def mail_with(files_: list[tuple[str, bytes, str]], *, sender: str = "Laura Smith <laura@example.com>",
              subject: str = "Broken screen", body: str = "Photo attached.",
              message_id: str = "<laura-files-1@mail.example.com>", **headers: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"] = sender, f"Customer Care <{SUPPORT}>"
    message["Subject"], message["Message-ID"] = subject, message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    for name, data, content_type in files_:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes(policy=SMTP)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def thread(number: str) -> list[Message]:
    ticket = tickets.get_by_number(db.session, number)
    return list(db.session.scalars(select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id)))


def outbox_of(kind: str) -> list[OutboxMail]:
    return list(db.session.scalars(select(OutboxMail).where(OutboxMail.kind == kind).order_by(OutboxMail.id)))


# --- unit: the parts of a mail, the limits -----------------------------------------------

def test_the_files_of_a_mail_are_found_and_the_body_is_not_one_of_them():
    raw = mail_with([("shot.png", PNG, "image/png"), ("notes.txt", "Grüße\n".encode(), "text/plain")],
                    body="See the files.")
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert files.in_message(message) == [("shot.png", PNG), ("notes.txt", "Grüße\n".encode())]
    assert inbound.body_text(message) == "See the files."


def test_each_file_is_judged_alone_against_the_upload_limits():
    config = {"ATTACHMENT_MAX_BYTES": 1000, "ATTACHMENT_MAX_FILES": 2,
              "ATTACHMENT_TYPES": "image/png,application/pdf,text/plain"}
    kept, refused = attachments.sort_out([("a.png", PNG), ("report.exe", EXE), ("logo.svg", SVG),
                                          ("big.pdf", PDF + b"x" * 1000), ("b.pdf", PDF), ("c.png", PNG)], config)
    assert [(u.name, u.content_type) for u in kept] == [("a.png", "image/png"), ("b.pdf", "application/pdf")]
    assert [r.name for r in refused] == ["report.exe", "logo.svg", "big.pdf", "c.png"]
    assert refused[0].reason == "we take only .csv, .log, .pdf, .png, .txt files."
    assert refused[2].reason == "it is larger than 1 MB."
    assert refused[3].reason == "we keep at most 2 files of one message."


# --- inbound ----------------------------------------------------------------------------

def test_a_new_mail_with_files_keeps_the_good_ones_and_says_which_were_refused(ctx):
    result = inbound.receive_and_commit(db.session, mail_with([("shot.png", PNG, "image/png"),
                                                               ("report.exe", EXE, "application/octet-stream")]))
    assert result.outcome == "opened" and "1 file(s) not accepted" in result.reason
    customer_message, note = thread(result.number)
    assert [(a.filename, a.content_type) for a in customer_message.attachments] == [("shot.png", "image/png")]
    assert note.author_type == "system" and not note.internal
    assert note.body.startswith("report.exe was not accepted: we take only ")
    [ack] = outbox_of("acknowledgement")
    assert "report.exe: we take only" in ack.body_text
    assert f"http://care.test/portal/tickets/{result.number}" in ack.body_text
    assert "report.exe" in ack.body_html and f"/portal/tickets/{result.number}" in ack.body_html


def test_a_reply_by_mail_with_a_refused_file_gets_a_note_and_a_notice(ctx):
    number = inbound.receive_and_commit(db.session, mail_with([])).number
    reply = mail_with([("logo.svg", SVG, "image/svg+xml"), ("invoice.pdf", PDF, "application/pdf")],
                      subject=f"Re: [{number}] Broken screen", body="And the invoice.",
                      message_id="<laura-files-2@mail.example.com>")
    result = inbound.receive_and_commit(db.session, reply)
    assert result.outcome == "appended" and result.number == number
    *_, answer, note = thread(number)
    assert answer.body == "And the invoice." and [a.filename for a in answer.attachments] == ["invoice.pdf"]
    assert note.body.startswith("logo.svg was not accepted")
    [notice] = outbox_of("attachment_refused")
    assert notice.to_addr == "laura@example.com" and number in notice.subject
    assert "logo.svg" in notice.body_text and f"/portal/tickets/{number}" in notice.body_text
    assert notice.in_reply_to  # it threads into the ticket like every customer mail


def test_a_file_name_with_html_is_escaped_in_the_mail_to_the_sender(ctx):
    inbound.receive_and_commit(db.session, mail_with([("<img src=x onerror=alert(1)>.exe", EXE,
                                                       "application/octet-stream")]))
    [ack] = outbox_of("acknowledgement")
    assert "<img" not in ack.body_html and "&lt;img src=x onerror=alert(1)&gt;.exe" in ack.body_html


def test_a_mail_of_files_only_is_kept(ctx):
    result = inbound.receive_and_commit(db.session, mail_with([("shot.png", PNG, "image/png")], body=""))
    [message] = thread(result.number)
    assert message.body == "(files only)" and len(message.attachments) == 1


# --- outbound ---------------------------------------------------------------------------

def agent_reply_with(app, number: str, uploads: list[attachments.Upload]) -> None:
    ticket = tickets.get_by_number(db.session, number)
    tim = db.session.scalar(select(User).where(User.username == "tim"))
    if ticket.assignee_id != tim.id:
        tickets.assign(db.session, ticket, tim, "kim")
    tickets.reply(db.session, ticket, tim, "Here is the fixed invoice.", uploads=uploads)
    db.session.commit()


def test_an_agent_reply_is_mailed_with_its_files(app, ctx):
    number = inbound.receive_and_commit(db.session, mail_with([])).number
    agent_reply_with(app, number, [attachments.Upload("invoice.pdf", "application/pdf", PDF)])
    [mail] = outbox_of("agent_reply")
    assert [a.filename for a in mail.attachments] == ["invoice.pdf"]
    assert "Attached:" in mail.body_text and "invoice.pdf" in mail.body_text
    sent = BytesParser(policy=policy.default).parsebytes(build_message(mail, app.config))
    assert sent.get_content_type() == "multipart/mixed"
    [part] = list(sent.iter_attachments())
    assert part.get_filename() == "invoice.pdf" and part.get_content_type() == "application/pdf"
    assert part.get_payload(decode=True) == PDF
    assert "Here is the fixed invoice." in sent.get_body(preferencelist=("plain",)).get_content()


def test_files_above_the_total_are_linked_not_attached(app, ctx):
    app.config["MAIL_ATTACH_MAX_TOTAL"] = len(PDF) + len(PNG) - 1
    number = inbound.receive_and_commit(db.session, mail_with([])).number
    agent_reply_with(app, number, [attachments.Upload("invoice.pdf", "application/pdf", PDF),
                                   attachments.Upload("shot.png", "image/png", PNG)])
    [mail] = outbox_of("agent_reply")
    assert mail.attachments == []
    assert "too large together" in mail.body_text and f"http://care.test/portal/tickets/{number}" in mail.body_text
    assert "invoice.pdf" in mail.body_text and "shot.png" in mail.body_text
    sent = BytesParser(policy=policy.default).parsebytes(build_message(mail, app.config))
    assert list(sent.iter_attachments()) == []


def test_an_erased_file_leaves_the_queued_mail(app, ctx):
    number = inbound.receive_and_commit(db.session, mail_with([])).number
    agent_reply_with(app, number, [attachments.Upload("invoice.pdf", "application/pdf", PDF)])
    db.session.delete(db.session.scalars(select(Attachment)).one())
    db.session.commit()
    [mail] = outbox_of("agent_reply")
    db.session.refresh(mail)
    assert mail.attachments == []


# --- real SMTP on loopback --------------------------------------------------------------

def test_a_mail_with_a_file_over_smtp_opens_a_ticket_whose_file_downloads_safely(app, client, caught):
    store, _page = caught
    raw = mail_with([("notes.txt", b"<script>alert(1)</script> error 42\n", "text/plain"),
                     ("report.exe", EXE, "application/octet-stream")])
    with smtplib.SMTP("127.0.0.1", app.config["SMTP_PORT"]) as smtp:
        smtp.sendmail("laura@example.com", [SUPPORT], raw)
    with app.app_context():
        [row] = db.session.scalars(select(Attachment)).all()
        number = row.message.ticket.number
    register(app, client)  # Laura signs in to the portal with the address she wrote from
    response = client.get(f"/portal/attachments/{row.id}")
    data = response.get_data()
    response.close()
    assert response.status_code == 200 and data.startswith(b"<script>")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = client.get(f"/portal/tickets/{number}").get_data(as_text=True)
    assert "notes.txt" in page and "report.exe was not accepted" in page
    deliver(app)
    [ack] = [m for m in store.listing(to="laura@example.com") if number in m.header("Subject")]
    assert "report.exe" in ack.part("plain") and f"/portal/tickets/{number}" in ack.part("plain")


def test_an_agent_reply_with_a_file_arrives_over_smtp_with_the_file(app, caught):
    store, _page = caught
    with smtplib.SMTP("127.0.0.1", app.config["SMTP_PORT"]) as smtp:
        smtp.sendmail("laura@example.com", [SUPPORT], mail_with([]))
    with app.app_context():
        number = db.session.scalars(select(Message)).first().ticket.number
        agent_reply_with(app, number, [attachments.Upload("invoice.pdf", "application/pdf", PDF)])
    deliver(app)
    [reply] = [m for m in store.listing(to="laura@example.com") if "invoice" in m.part("plain")]
    [part] = list(reply.message.iter_attachments())
    assert part.get_filename() == "invoice.pdf" and part.get_payload(decode=True) == PDF


def test_the_refused_notice_arrives_over_smtp(app, caught):
    store, _page = caught
    port = app.config["SMTP_PORT"]
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail("laura@example.com", [SUPPORT], mail_with([]))
    deliver(app)
    with app.app_context():
        number = db.session.scalars(select(Message)).first().ticket.number
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail("laura@example.com", [SUPPORT],
                      mail_with([("page.html", b"<html><script>x()</script></html>", "text/html")],
                                subject=f"Re: {number}", message_id="<laura-files-9@mail.example.com>"))
    deliver(app)
    [notice] = [m for m in store.listing(to="laura@example.com") if "not accepted" in m.header("Subject")]
    assert "page.html" in notice.part("plain") and f"/portal/tickets/{number}" in notice.part("plain")

