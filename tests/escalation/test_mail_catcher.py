"""The development mail catcher: real SMTP on loopback, a page of every mail, writing to support.

Its own small web app (not a route of the service), so instead of rows in the route × role
table it has its own access tests here: loopback only, the Host header, the form token.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from escalation import tickets
from escalation.db import db
from escalation.mail import catcher, outbox
from escalation.mail.inbound import receive_and_commit
from escalation.models import Message, Ticket

from .mail_servers import free_port, wait_for_port

SUPPORT = "care@support.example.com"
HOST = {"Host": "127.0.0.1:8025"}


@pytest.fixture
def caught(app, tmp_path: Path) -> Iterator[tuple[catcher.Store, object]]:
    """The catcher's SMTP server and page, wired to the test app like ``make run`` wires them."""
    store = catcher.Store(tmp_path / "mailcatcher.sqlite3")
    port = free_port()

    def inbound(raw: bytes) -> str:
        with app.app_context():
            return str(receive_and_commit(db.session, raw))

    controller = catcher.start_smtp(store, "127.0.0.1", port, support=SUPPORT, inbound=inbound)
    wait_for_port(port)
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_SECURITY="none")
    page = catcher.create_app(store, support=SUPPORT, inbound=inbound, smtp_port=port).test_client()
    yield store, page
    controller.stop()
    store.close()


def deliver(app) -> None:
    with app.app_context():
        outbox.deliver_due(app, "w1")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com", ""])
def test_it_listens_on_loopback_only(tmp_path, host):
    store = catcher.Store(tmp_path / "c.sqlite3")
    with pytest.raises(ValueError, match="loopback"):
        catcher.start_smtp(store, host, free_port())
    with pytest.raises(ValueError, match="loopback"):
        catcher.main(["--host", host, "--store", str(tmp_path / "m.sqlite3")])
    assert catcher.require_loopback("127.0.0.1") and catcher.require_loopback("::1")


def test_every_mail_the_worker_sends_is_on_the_page(app, caught):
    store, page = caught
    with app.app_context():
        number = tickets.open_ticket(db.session, name="Laura Smith", email="laura@example.com",
                                     subject="Can't sign in").ticket.number
        db.session.commit()
    deliver(app)
    listing = page.get("/", headers=HOST)
    assert listing.status_code == 200
    assert number in listing.text and "laura@example.com" in listing.text
    [mail] = store.listing()
    shown = page.get(f"/mails/{mail.id}", headers=HOST)
    assert shown.status_code == 200 and number in shown.text
    html = page.get(f"/mails/{mail.id}/html", headers=HOST)
    assert number in html.text
    api = page.get("/api/mails?to=laura@example.com", headers=HOST).get_json()["mails"]
    assert [m["subject"] for m in api] == [mail.header("Subject")]
    assert any(link.startswith("http://care.test/track") for link in api[0]["links"])


def test_a_hostile_mail_is_shown_as_text_and_its_html_only_sandboxed(app, caught):
    import smtplib
    from email.message import EmailMessage

    store, page = caught
    hostile = EmailMessage()
    hostile["From"], hostile["To"] = "Eve <eve@example.com>", "laura@example.com"
    hostile["Subject"] = "<script>alert('subject')</script>"
    hostile.set_content("<b>bold</b> <script>alert('text')</script>")
    hostile.add_alternative("<p onclick=alert(1)>hi</p><script>alert('html')</script>", subtype="html")
    with smtplib.SMTP("127.0.0.1", app.config["SMTP_PORT"]) as smtp:
        smtp.send_message(hostile)
    [mail] = store.listing()
    for path in ("/", f"/mails/{mail.id}"):
        shown = page.get(path, headers=HOST).text
        assert "<script>" not in shown and "&lt;script&gt;" in shown
    assert "&lt;b&gt;bold&lt;/b&gt;" in page.get(f"/mails/{mail.id}", headers=HOST).text
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in page.get(f"/mails/{mail.id}", headers=HOST).text
    html = page.get(f"/mails/{mail.id}/html", headers=HOST)
    csp = html.headers["Content-Security-Policy"]
    assert csp.startswith("sandbox;") and "default-src 'none'" in csp and "script-src" not in csp
    assert "alert('html')" in html.text  # served as the mail has it, but it cannot run: sandbox, no script-src


def test_writing_to_support_opens_a_ticket_and_a_reply_joins_it(app, caught):
    store, page = caught
    token = catcher_token(page)
    sent = page.post("/send", headers=HOST, data={"token": token, "from_name": "Laura Smith",
                                                   "from_addr": "laura@example.com", "subject": "Inactive account",
                                                   "body": "Please reactivate my account."})
    assert sent.status_code == 302 and "opened" in sent.headers["Location"]
    with app.app_context():
        ticket = db.session.scalars(select(Ticket)).one()
        assert ticket.channel == "email" and ticket.customer.email == "laura@example.com"
        number = ticket.number
    deliver(app)
    acknowledgement = next(m for m in store.listing() if "laura@example.com" in m.rcpt_tos)
    replied = page.post("/send", headers=HOST, data={"token": token, "reply_to": str(acknowledgement.id),
                                                      "from_addr": "laura@example.com", "body": "It is urgent."})
    assert "appended" in replied.headers["Location"] and number in replied.headers["Location"]
    with app.app_context():
        bodies = db.session.scalars(select(Message.body).order_by(Message.id)).all()
    assert bodies == ["Please reactivate my account.", "It is urgent."]


def test_mail_to_support_over_smtp_takes_the_inbound_path(app, caught):
    import smtplib

    store, _page = caught
    port = app.config["SMTP_PORT"]
    raw = catcher.compose(from_name="Austin", from_addr="austin@example.com", to_addr=SUPPORT,
                          subject="Locked out", body="After the security update I cannot sign in.")
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail("austin@example.com", [SUPPORT], raw)
    with app.app_context():
        assert db.session.scalars(select(Ticket.subject)).all() == ["Locked out"]
    assert len(store.listing(to=SUPPORT)) == 1


def catcher_token(page) -> str:
    import re

    match = re.search(r'name="token" value="([^"]+)"', page.get("/", headers=HOST).text)
    assert match
    return match.group(1)


def test_forms_need_the_page_token_and_a_loopback_host(app, caught):
    store, page = caught
    body = {"from_addr": "mallory@example.com", "body": "spam"}
    assert page.post("/send", headers=HOST, data=body).status_code == 403
    assert page.post("/send", headers=HOST, data={**body, "token": "guess"}).status_code == 403
    assert page.post("/clear", headers=HOST).status_code == 403
    # a DNS-rebound name pointing at 127.0.0.1 is refused, even for reading
    assert page.get("/", headers={"Host": "attacker.example:8025"}).status_code == 421
    assert page.post("/send", headers={"Host": "attacker.example"},
                     data={**body, "token": catcher_token(page)}).status_code == 421
    with app.app_context():
        assert db.session.scalars(select(Ticket)).all() == []
    assert page.get("/", headers=HOST).headers["Content-Security-Policy"].startswith("default-src 'none'")


@pytest.mark.browser
def test_the_html_part_shows_in_a_browser_and_its_scripts_do_not_run(tmp_path, browser):
    """The sandboxed frame does show the mail (its CSP allows this page to frame it), and the
    mail's script stays text: no ``allow-scripts``, no ``script-src``."""
    import threading
    from email.message import EmailMessage

    from werkzeug.serving import make_server

    store = catcher.Store(tmp_path / "c.sqlite3")
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "care@support.example.com", "laura@example.com", "Hello"
    mail.set_content("text part")
    mail.add_alternative("<p>HTML part</p><script>document.body.append('SCRIPT RAN')</script>", subtype="html")
    store.add("care@support.example.com", ["laura@example.com"], bytes(mail))
    server = make_server("127.0.0.1", free_port(), catcher.create_app(store, support=SUPPORT, inbound=lambda raw: ""),
                         threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page = browser.new_page()
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/mails/1")
        frame = page.frame_locator("[data-testid=html]")
        from playwright.sync_api import expect

        expect(frame.locator("p")).to_have_text("HTML part")
        page.wait_for_timeout(300)
        assert "SCRIPT RAN" not in frame.locator("body").inner_text()
    finally:
        page.close()
        server.shutdown()
        store.close()
