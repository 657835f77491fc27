"""Outgoing mail: the MIME message of an outbox row, and the SMTP client that delivers it.

:class:`SmtpSender` speaks SMTP in two steps, envelope then data, so the outbox can record
the moment after which a mail may have been delivered (see :mod:`.outbox`).
"""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from types import TracebackType
from typing import Any

from ..models import OutboxMail
from . import files, messageids

LOOP_HEADER = "X-Care-Loop"


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipient: str


class SendRefused(Exception):
    """The SMTP server answered with an error code; ``permanent`` for 5xx."""

    def __init__(self, stage: str, code: int, reply: bytes | str, *, permanent: bool | None = None) -> None:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
        super().__init__(f"{stage} refused: {code} {text}"[:500])
        self.code = code
        self.permanent = 500 <= code < 600 if permanent is None else permanent


def build_message(mail: OutboxMail, config: Any) -> bytes:
    """The mail as sent: text and HTML alternatives (and its files, see :mod:`.files`),
    threading and anti-loop headers."""
    name, address = messageids.support_address(config)
    message = EmailMessage()
    message["From"] = formataddr((name, address))
    message["To"] = mail.to_addr
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.created_at)
    message["Message-ID"] = mail.message_id
    if mail.in_reply_to:
        message["In-Reply-To"] = mail.in_reply_to
    if mail.thread_references:
        message["References"] = mail.thread_references
    if mail.auto_submitted:
        # RFC 3834: an answer to the customer's mail is auto-replied, a notice auto-generated
        message["Auto-Submitted"] = "auto-replied" if mail.in_reply_to else "auto-generated"
        message["X-Auto-Response-Suppress"] = "All"
    message[LOOP_HEADER] = address
    if mail.unsubscribe_url:  # RFC 2369 + RFC 8058: one click in the mail program, no page to visit
        message["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(mail.body_text)
    message.add_alternative(mail.body_html, subtype="html")
    if mail.attachments:
        files.attach(message, mail.attachments)
    return message.as_bytes(policy=SMTP)


def tls_context(config: Any) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=config["MAIL_CA_FILE"] or None)


class SmtpSender:
    """One SMTP session: connect (plain, STARTTLS or SSL), log in, then envelope + data per mail."""

    def __init__(self, host: str, port: int, *, security: str = "starttls", username: str = "",
                 password: str = "", timeout: float = 10.0, context: ssl.SSLContext | None = None) -> None:
        if security not in ("starttls", "ssl", "none"):
            raise ValueError(f"SMTP_SECURITY must be starttls, ssl or none, not {security!r}")
        context = context or ssl.create_default_context()
        if security == "ssl":
            self._smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            self._smtp = smtplib.SMTP(host, port, timeout=timeout)
        try:
            self._smtp.ehlo()
            if security == "starttls":
                self._smtp.starttls(context=context)
                self._smtp.ehlo()
            if username:
                self._smtp.login(username, password)
        except (OSError, smtplib.SMTPException):
            self.close()
            raise

    @classmethod
    def from_config(cls, config: Any) -> SmtpSender:
        return cls(config["SMTP_HOST"], int(config["SMTP_PORT"]), security=config["SMTP_SECURITY"],
                   username=config["SMTP_USERNAME"], password=config["SMTP_PASSWORD"],
                   timeout=float(config["SMTP_TIMEOUT"]), context=tls_context(config))

    def envelope(self, envelope: Envelope) -> None:
        """MAIL FROM and RCPT TO; nothing is delivered yet."""
        code, reply = self._smtp.mail(envelope.sender)
        if code != 250:
            # our own sender refused: a setting to fix, not a reason to drop the mail
            raise SendRefused("MAIL FROM", code, reply, permanent=False)
        code, reply = self._smtp.rcpt(envelope.recipient)
        if code not in (250, 251):
            raise SendRefused("RCPT TO", code, reply)

    def data(self, message: bytes) -> None:
        """DATA: after the server's 250 the mail is delivered."""
        try:
            code, reply = self._smtp.data(message)
        except smtplib.SMTPDataError as exc:  # refused at the DATA command itself
            raise SendRefused("DATA", exc.smtp_code, exc.smtp_error) from exc
        if code != 250:
            raise SendRefused("DATA", code, reply)

    def reset(self) -> None:
        try:
            self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            pass  # the next envelope on a broken connection fails and is retried

    def close(self) -> None:
        try:
            self._smtp.quit()
        except (OSError, smtplib.SMTPException):
            self._smtp.close()

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
