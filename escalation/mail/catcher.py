"""The development mail catcher: an SMTP server on loopback that keeps every mail, and a page to read them.

``make run`` starts it (``python -m escalation.mail.catcher``, its own process and ports) and
points the worker's ``CARE_SMTP_*`` settings at it, so every mail the service sends can be
read at ``http://127.0.0.1:8025/``. The page also lets you write to support *as a customer*:
a new mail, or a reply to one of the caught mails (threaded by its Message-ID). Those go
through the same inbound path as a real mail server's pipe (:func:`.inbound.receive_and_commit`,
what ``flask mail-in`` runs), so a customer's e-mail journey can be walked in the browser.
Mail that arrives over SMTP addressed to the support address (``CARE_MAIL_FROM``) is fed to
that path too.

Development only: it binds loopback addresses and nothing else (anything else is refused),
every form carries a per-process token and the ``Host`` header must be the loopback one, so
a web page elsewhere cannot post into it. Production keeps real SMTP/IMAP settings, and
``make run`` does not start the catcher when ``CARE_SMTP_HOST`` is set.

Caught mail is stored in SQLite (``var/mailcatcher.sqlite3``). HTML bodies are shown only
inside a sandboxed frame (``sandbox`` without scripts, served with a ``sandbox`` CSP and no
network access), and the text part, headers and links are escaped like every other page.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import re
import secrets
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formataddr, make_msgid, parseaddr
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, jsonify, redirect, render_template, request, url_for
from werkzeug.serving import make_server

log = logging.getLogger("escalation.mail.catcher")

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "mailcatcher"
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; form-action 'self'; "
            "base-uri 'none'; frame-ancestors 'none'")
# the HTML part of a mail: no scripts, no network, no forms, its own origin
MAIL_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
URL_IN_TEXT = re.compile(r"https?://[^\s<>\"')]+")


def require_loopback(host: str) -> str:
    """``host`` if it is a loopback address; the catcher never listens anywhere else."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the mail catcher listens on loopback only, not {host!r}")
    return host


# --- the store ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Caught:
    id: int
    received_at: float
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def received(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.received_at))

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.raw)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def header(self, name: str) -> str:
        try:
            return str(self.message.get(name) or "")
        except (ValueError, IndexError):
            return ""

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        if body is None:
            return ""
        try:
            content = body.get_content()
        except (LookupError, UnicodeError):
            return ""
        return content if isinstance(content, str) else ""

    def links(self) -> list[str]:
        """The http(s) links in the mail (HTML ``href``s, then URLs in the text), without repeats."""
        collector = _Links()
        collector.feed(self.part("html"))
        found = collector.hrefs + URL_IN_TEXT.findall(self.part("plain"))
        return list(dict.fromkeys(u for u in found if u.startswith(("http://", "https://"))))

    def as_json(self, *, full: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id, "received_at": self.received_at, "from": self.header("From"),
            "to": self.rcpt_tos, "subject": self.header("Subject"), "message_id": self.header("Message-ID"),
            "in_reply_to": self.header("In-Reply-To"),
        }
        if full:
            data.update(text=self.part("plain"), html=self.part("html"), links=self.links(),
                        headers={k: str(v) for k, v in self.message.items()})
        return data


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href") if tag == "a" else None
        if href:
            self.hrefs.append(href.strip())


class Store:
    """Caught mail in one SQLite file; safe to use from the SMTP and the HTTP threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._lock = threading.Lock()
        self.arrived = threading.Condition(self._lock)
        with self._lock:
            self._db.execute("CREATE TABLE IF NOT EXISTS mails (id INTEGER PRIMARY KEY, received_at REAL NOT NULL, "
                             "mail_from TEXT NOT NULL, rcpt_tos TEXT NOT NULL, raw BLOB NOT NULL)")
            self._db.commit()

    def add(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> int:
        with self._lock:
            cursor = self._db.execute("INSERT INTO mails (received_at, mail_from, rcpt_tos, raw) VALUES (?, ?, ?, ?)",
                                      (time.time(), mail_from, json.dumps(rcpt_tos), raw))
            self._db.commit()
            self.arrived.notify_all()
            return int(cursor.lastrowid or 0)

    def _row(self, row: tuple[Any, ...]) -> Caught:
        return Caught(id=row[0], received_at=row[1], mail_from=row[2], rcpt_tos=json.loads(row[3]), raw=row[4])

    def get(self, mail_id: int) -> Caught | None:
        with self._lock:
            row = self._db.execute("SELECT id, received_at, mail_from, rcpt_tos, raw FROM mails WHERE id = ?",
                                   (mail_id,)).fetchone()
        return self._row(row) if row else None

    def listing(self, *, to: str = "", limit: int = 500) -> list[Caught]:
        """Newest first; ``to`` keeps the mail for one recipient."""
        with self._lock:
            rows = self._db.execute("SELECT id, received_at, mail_from, rcpt_tos, raw FROM mails "
                                    "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        mails = [self._row(r) for r in rows]
        return [m for m in mails if not to or to.lower() in (a.lower() for a in m.rcpt_tos)]

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM mails")
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()


# --- SMTP --------------------------------------------------------------------------------

Inbound = Callable[[bytes], str]


class _Handler:
    def __init__(self, store: Store, support: str, inbound: Inbound | None) -> None:
        self.store, self.support, self.inbound = store, support.lower(), inbound

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        rcpts = [str(r) for r in envelope.rcpt_tos]
        self.store.add(str(envelope.mail_from or ""), rcpts, raw)
        if self.inbound is not None and self.support in (r.lower() for r in rcpts):
            try:
                log.info("to support: %s", self.inbound(raw))
            except Exception:  # noqa: BLE001 - a dev tool: keep catching, say what failed
                log.exception("could not hand the mail to support's inbound path")
        return "250 2.0.0 caught"


def start_smtp(store: Store, host: str, port: int, *, support: str = "", inbound: Inbound | None = None) -> Any:
    """aiosmtpd in a thread on ``host:port`` (loopback only); returns its controller (``.stop()``)."""
    from aiosmtpd.controller import Controller

    controller = Controller(_Handler(store, support, inbound), hostname=require_loopback(host), port=port,
                            server_hostname="mailcatcher.localhost")
    controller.start()
    return controller


# --- the page ----------------------------------------------------------------------------

def compose(*, from_name: str, from_addr: str, to_addr: str, subject: str, body: str,
            reply_to: Caught | None = None) -> bytes:
    """A customer's mail to support, as their mail program would write it."""
    message = EmailMessage()
    message["From"] = formataddr((from_name, from_addr))
    message["To"] = to_addr
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=from_addr.rpartition("@")[2] or "customer.localhost")
    if reply_to is not None:
        parent = reply_to.header("Message-ID").strip()
        references = " ".join(x for x in (reply_to.header("References").strip(), parent) if x)
        if parent:
            message["In-Reply-To"] = parent
        if references:
            message["References"] = references
    message.set_content(body)
    return bytes(message)


def create_app(store: Store, *, support: str, inbound: Inbound, smtp_port: int = 0,
               allowed_hosts: set[str] | None = None) -> Flask:
    """The catcher's web page. ``inbound`` takes a raw mail for support and says what became of it."""
    app = Flask(__name__, template_folder=str(TEMPLATES))
    app.config.update(CATCHER_TOKEN=secrets.token_urlsafe(24), MAX_CONTENT_LENGTH=256 * 1024)

    @app.before_request
    def loopback_host_only() -> None:
        # a DNS-rebound name that points at 127.0.0.1 is not "localhost": refuse it
        host = (request.host or "").rsplit(":", 1)[0].strip("[]")
        if allowed_hosts is not None and request.host not in allowed_hosts:
            abort(421)
        try:
            require_loopback(host)
        except ValueError:
            abort(421)
        if request.method == "POST" and not secrets.compare_digest(
                request.form.get("token", ""), app.config["CATCHER_TOKEN"]):
            abort(403)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify({"status": "ok", "smtp_port": smtp_port})

    @app.get("/")
    def index() -> Any:
        to = request.args.get("to", "")
        return render_template("index.html", mails=store.listing(to=to), to=to, support=support,
                               token=app.config["CATCHER_TOKEN"], notice=request.args.get("notice", ""),
                               smtp_port=smtp_port)

    def found(mail_id: int) -> Caught:
        mail = store.get(mail_id)
        if mail is None:
            abort(404)
        return mail

    @app.get("/mails/<int:mail_id>")
    def show(mail_id: int) -> Any:
        mail = found(mail_id)
        # a mail support sent can be answered as its recipient, as the customer's mail program would
        from_support = parseaddr(mail.header("From"))[1].lower() == support.lower()
        return render_template("mail.html", mail=mail, data=mail.as_json(), support=support,
                               token=app.config["CATCHER_TOKEN"], can_reply=from_support,
                               customer=mail.rcpt_tos[0] if mail.rcpt_tos else "")

    @app.get("/mails/<int:mail_id>/html")
    def html(mail_id: int) -> Response:
        response = Response(found(mail_id).part("html") or "<p>(this mail has no HTML part)</p>",
                            mimetype="text/html")
        response.headers["Content-Security-Policy"] = MAIL_CSP
        return response

    @app.get("/mails/<int:mail_id>.eml")
    def raw(mail_id: int) -> Response:
        return Response(found(mail_id).raw, mimetype="text/plain")

    @app.get("/api/mails")
    def api_listing() -> Any:
        return jsonify({"mails": [m.as_json() for m in store.listing(to=request.args.get("to", ""))]})

    @app.get("/api/mails/<int:mail_id>")
    def api_mail(mail_id: int) -> Any:
        return jsonify(found(mail_id).as_json())

    @app.post("/send")
    def send() -> Any:
        form = request.form
        from_addr = (form.get("from_addr") or "").strip()
        body = (form.get("body") or "").strip()
        if "@" not in from_addr or not body:
            return redirect(url_for("index", notice="Give your e-mail address and write something."))
        parent = store.get(int(form["reply_to"])) if (form.get("reply_to") or "").isdigit() else None
        subject = (form.get("subject") or "").strip()
        if parent is not None and not subject:
            subject = "Re: " + parent.header("Subject")
        raw = compose(from_name=(form.get("from_name") or "").strip(), from_addr=from_addr, to_addr=support,
                      subject=subject or "(no subject)", body=body, reply_to=parent)
        store.add(from_addr, [support], raw)
        outcome = inbound(raw)
        return redirect(url_for("index", notice=f"Sent to {support} as {from_addr}: {outcome}"))

    @app.post("/clear")
    def clear() -> Any:
        store.clear()
        return redirect(url_for("index", notice="All caught mail deleted."))

    return app


def escalation_inbound() -> tuple[Inbound, str]:
    """Support's inbound path in this process (the escalation app's ``receive_and_commit``, what
    ``flask mail-in`` runs) and the support address it answers for."""
    from .. import create_app as create_escalation
    from ..db import db
    from .inbound import receive_and_commit

    escalation = create_escalation()
    lock = threading.Lock()

    def deliver(raw: bytes) -> str:
        with lock, escalation.app_context():
            return str(receive_and_commit(db.session, raw))

    return deliver, parseaddr(escalation.config["MAIL_FROM"])[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m escalation.mail.catcher", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    parser.add_argument("--store", type=Path, default=Path("var/mailcatcher.sqlite3"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    host = require_loopback(args.host)
    inbound, support = escalation_inbound()
    store = Store(args.store)
    controller = start_smtp(store, host, args.smtp_port, support=support, inbound=inbound)
    app = create_app(store, support=support, inbound=inbound, smtp_port=args.smtp_port)
    server = make_server(host, args.http_port, app, threaded=True)
    log.info("mail catcher: SMTP on %s:%d, mail at http://%s:%d/", host, args.smtp_port, host, args.http_port)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
