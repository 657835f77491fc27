"""Attachments: accepted by content (and a matching name), size and count limits, stored
outside the web root behind the Storage interface, served only to who may see the ticket,
always as a download with nosniff."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from escalation import attachments, tickets
from escalation.db import db
from escalation.errors import ValidationFailed
from escalation.models import Attachment, User

from .portal_helpers import register

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
HTML = b"<!doctype html><script>alert(document.cookie)</script>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
CONFIG = {"ATTACHMENT_MAX_BYTES": 1000, "ATTACHMENT_MAX_FILES": 2,
          "ATTACHMENT_TYPES": "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain"}


def upload(name: str, data: bytes):
    from werkzeug.datastructures import FileStorage

    return FileStorage(io.BytesIO(data), filename=name)


@pytest.mark.parametrize("name,data,kind", [
    ("screen.png", PNG, "image/png"), ("photo.JPG", b"\xff\xd8\xff\xe0" + b"x" * 10, "image/jpeg"),
    ("invoice.pdf", PDF, "application/pdf"), ("log.txt", "Grüße, error 42\n".encode(), "text/plain"),
    ("page.txt", HTML, "text/plain"),  # text that holds HTML is text: it is never rendered (see download)
])
def test_accepted_by_content_and_name(name, data, kind):
    [accepted] = attachments.accept([upload(name, data)], CONFIG)
    assert (accepted.content_type, accepted.data) == (kind, data)


@pytest.mark.parametrize("name,data", [
    ("page.html", HTML), ("logo.svg", SVG), ("picture.png", HTML),  # HTML/SVG, or HTML claiming to be a PNG
    ("report.pdf", PNG),  # the content decides, and the name must agree
    ("tool.exe", b"MZ\x90\x00\x03\x00\x00\x00"), ("blob.txt", b"\x00\x01binary"),
    ("big.txt", b"a" * 1001),
])
def test_refused(name, data):
    with pytest.raises(ValidationFailed) as refused:
        attachments.accept([upload(name, data)], CONFIG)
    assert refused.value.details["file"] == name


def test_at_most_so_many_files_and_types_from_the_setting():
    with pytest.raises(ValidationFailed):
        attachments.accept([upload(f"{i}.txt", b"x") for i in range(3)], CONFIG)
    with pytest.raises(ValidationFailed):
        attachments.accept([upload("a.png", PNG)], {**CONFIG, "ATTACHMENT_TYPES": "application/pdf"})


@pytest.mark.parametrize("raw,clean", [("../../etc/passwd", "passwd"), ("C:\\Users\\x\\report.pdf", "report.pdf"),
                                       ("a\u0000b\nc.txt", "abc.txt"), ("", "attachment"), ("..", "attachment")])
def test_file_names_lose_folders_and_control_characters(raw, clean):
    assert attachments.clean_name(raw) == clean


@pytest.fixture
def laura(app, client, bot_headers):
    number = client.post("/api/v1/tickets", json={"name": "Laura Smith", "email": "laura@example.com",
                                                  "subject": "Screen broken", "channel": "web_chat"},
                         headers={**bot_headers, "Idempotency-Key": "att"}).get_json()["number"]
    register(app, client)
    with app.app_context():
        ticket = tickets.get_by_number(db.session, number)
        tim = db.session.scalar(select(User).where(User.username == "tim"))
        tickets.assign(db.session, ticket, tim, "kim")
        db.session.commit()
    return number


def download(client, url):
    """GET a file and close the response (it streams from the storage)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


def files_of(app, number):
    with app.app_context():
        ticket = tickets.get_by_number(db.session, number)
        return db.session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id)
                                  .order_by(Attachment.id)).all()


def test_a_portal_reply_with_a_file_is_stored_outside_the_web_root_and_downloaded(app, client, laura, tmp_path):
    response = client.post(f"/portal/tickets/{laura}/reply",
                           data={"body": "Here is a screenshot", "attachments": (io.BytesIO(PNG), "shot.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 303
    [row] = files_of(app, laura)
    stored = Path(app.config["ATTACHMENTS_DIR"]) / row.storage_key[:2] / row.storage_key
    assert stored.read_bytes() == PNG and str(tmp_path) in str(stored)
    assert "escalation/static" not in str(stored)
    got = download(client, f"/portal/attachments/{row.id}")
    assert got.status_code == 200 and got.data == PNG
    assert got.headers["Content-Disposition"].startswith("attachment;") and "shot.png" in got.headers[
        "Content-Disposition"]
    assert got.headers["X-Content-Type-Options"] == "nosniff" and got.mimetype == "image/png"
    assert "shot.png" in client.get(f"/portal/tickets/{laura}").get_data(as_text=True)


def test_text_holding_html_is_a_sandboxed_download_never_a_page(app, client, laura):
    client.post(f"/portal/tickets/{laura}/reply", data={"body": "log", "attachments": (io.BytesIO(HTML), "x.txt")},
                content_type="multipart/form-data")
    [row] = files_of(app, laura)
    got = download(client, f"/portal/attachments/{row.id}")
    assert got.mimetype == "text/plain" and got.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in got.headers["Content-Security-Policy"]


def test_a_refused_file_changes_nothing_and_says_why(app, client, laura):
    response = client.post(f"/portal/tickets/{laura}/reply", data={"body": "see", "attachments": (
        io.BytesIO(SVG), "logo.svg")}, content_type="multipart/form-data", follow_redirects=True)
    assert "logo.svg cannot be attached" in response.get_data(as_text=True)
    assert files_of(app, laura) == []
    with app.app_context():
        assert [m.body for m in tickets.get_by_number(db.session, laura).messages] == []


def post_file(client, url, name, data, **fields):
    """A multipart POST encoded in memory (the test client would spool a big body to a temp file)."""
    from werkzeug.test import encode_multipart

    boundary, body = encode_multipart({**fields, "attachments": upload(name, data)})
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_ten_megabytes_are_accepted_on_upload_routes_only(app, client, laura):
    ten_mb = b"a" * (10 * 1024 * 1024)
    response = post_file(client, f"/portal/tickets/{laura}/reply", "big.txt", ten_mb, body="big log")
    assert response.status_code == 303 and files_of(app, laura)[0].size == len(ten_mb)
    too_big = post_file(client, f"/portal/tickets/{laura}/reply", "bigger.txt", ten_mb + b"a", body="bigger")
    assert too_big.status_code == 303
    assert "larger than 10 MB" in client.get(f"/portal/tickets/{laura}").get_data(as_text=True)
    elsewhere = client.post("/portal/sign-in", data={"email": "x@example.com", "password": "a" * 300_000})
    assert elsewhere.status_code == 413  # every other route keeps MAX_CONTENT_LENGTH


def test_agent_replies_with_a_file_and_the_customer_downloads_it(app, client, auth, laura):
    staff = app.test_client()
    assert staff.post("/login", data={"username": "tim", "password": "demo-password-1"}).status_code == 302
    staff.post(f"/agent/tickets/{laura}/acknowledge")
    response = staff.post(f"/agent/tickets/{laura}/reply", data={"body": "The fix, step by step", "attachments": (
        io.BytesIO(PDF), "fix.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 302
    [row] = files_of(app, laura)
    assert "fix.pdf" in staff.get(f"/agent/tickets/{laura}").get_data(as_text=True)
    assert download(staff, f"/agent/attachments/{row.id}").data == PDF
    assert download(client, f"/portal/attachments/{row.id}").data == PDF


def test_an_internal_notes_file_never_reaches_the_customer(app, client, laura):
    staff = app.test_client()
    staff.post("/login", data={"username": "tim", "password": "demo-password-1"})
    staff.post(f"/agent/tickets/{laura}/reply", data={"body": "note", "internal": "1", "attachments": (
        io.BytesIO(b"internal notes"), "notes.txt")}, content_type="multipart/form-data")
    [row] = files_of(app, laura)
    assert download(client, f"/portal/attachments/{row.id}").status_code == 404
    assert "notes.txt" not in client.get(f"/portal/tickets/{laura}").get_data(as_text=True)
    assert download(staff, f"/agent/attachments/{row.id}").status_code == 200


def test_another_customers_attachment_is_not_found(app, client, bot_headers, laura):
    client.post(f"/portal/tickets/{laura}/reply", data={"body": "mine", "attachments": (io.BytesIO(PNG), "a.png")},
                content_type="multipart/form-data")
    [row] = files_of(app, laura)
    bob = app.test_client()
    bob.post("/api/v1/tickets", json={"name": "Bob", "email": "bob@example.com", "subject": "hi"},
             headers={**bot_headers, "Idempotency-Key": "bob"})
    register(app, bob, email="bob@example.com", name="Bob")
    assert download(bob, f"/portal/attachments/{row.id}").status_code == 404
    assert download(bob, "/portal/attachments/999999").status_code == 404  # the same answer
    assert download(app.test_client(), f"/portal/attachments/{row.id}").status_code == 302  # anonymous: sign in


def test_a_new_ticket_by_the_form_with_a_file(app, client, laura):
    response = client.post("/portal/tickets/new", data={"subject": "Invoice wrong", "description": "See PDF",
                                                        "category": "billing", "attachments": (io.BytesIO(PDF),
                                                                                               "invoice.pdf")},
                           content_type="multipart/form-data")
    number = response.headers["Location"].rsplit("/", 1)[1]
    [row] = files_of(app, number)
    assert "invoice.pdf" in client.get(f"/portal/tickets/{number}").get_data(as_text=True)
    with app.app_context():  # the description is the thread's first message, with the file
        [message] = tickets.get_by_number(db.session, number).messages
        assert (message.author_type, message.body, message.id) == ("customer", "See PDF", row.message_id)


class MemoryStorage:
    """An object store stand-in: the Storage interface is three methods."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, key: str, data: bytes) -> None:
        self.blobs[key] = data

    def open(self, key: str):
        return io.BytesIO(self.blobs[key])

    def delete(self, key: str) -> None:
        self.blobs.pop(key, None)


def test_another_storage_plugs_in_and_erasure_deletes_the_files(app, client, laura):
    store = app.extensions["care_attachments"] = MemoryStorage()
    client.post(f"/portal/tickets/{laura}/reply", data={"body": "x", "attachments": (io.BytesIO(PNG), "a.png")},
                content_type="multipart/form-data")
    assert list(store.blobs.values()) == [PNG]
    from escalation import privacy

    with app.app_context():
        privacy.erase_customer(db.session, privacy.find_customer(db.session, "laura@example.com"), "kim")
        db.session.commit()
    assert store.blobs == {} and files_of(app, laura) == []
