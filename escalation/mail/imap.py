"""The worker's IMAP step: fetch unseen mail from the support mailbox and process it.

Each message is processed and committed before it is flagged ``\\Seen``. A worker that stops
in between fetches it again next time, and :mod:`.inbound` recognises it by its Message-ID,
so a message is neither lost nor counted twice. A message that cannot be processed is
flagged ``\\Seen`` and ``\\Flagged`` so a person can look at it in the mailbox.
"""
from __future__ import annotations

import imaplib
import logging
import ssl
from types import TracebackType
from typing import Any

from flask import Flask

from ..db import db
from ..errors import ServiceError
from .inbound import receive_and_commit
from .outbound import tls_context

log = logging.getLogger("escalation.mail.imap")


class ImapMailbox:
    """One IMAP session on one folder: list unseen, fetch without marking, flag."""

    def __init__(self, host: str, port: int, *, username: str, password: str, mailbox: str = "INBOX",
                 security: str = "ssl", timeout: float = 10.0, context: ssl.SSLContext | None = None) -> None:
        if security not in ("ssl", "starttls", "none"):
            raise ValueError(f"IMAP_SECURITY must be ssl, starttls or none, not {security!r}")
        context = context or ssl.create_default_context()
        if security == "ssl":
            self._imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=timeout)
        else:
            self._imap = imaplib.IMAP4(host, port, timeout=timeout)
        try:
            if security == "starttls":
                self._imap.starttls(ssl_context=context)
            self._imap.login(username, password)
            status, data = self._imap.select(self._quote(mailbox))
            if status != "OK":
                raise imaplib.IMAP4.error(f"cannot open mailbox {mailbox!r}: {data!r}")
        except (OSError, imaplib.IMAP4.error):
            self._imap.shutdown()
            raise

    @classmethod
    def from_config(cls, config: Any) -> ImapMailbox:
        return cls(config["IMAP_HOST"], int(config["IMAP_PORT"]), username=config["IMAP_USERNAME"],
                   password=config["IMAP_PASSWORD"], mailbox=config["IMAP_MAILBOX"],
                   security=config["IMAP_SECURITY"], timeout=float(config["SMTP_TIMEOUT"]),
                   context=tls_context(config))

    @staticmethod
    def _quote(mailbox: str) -> str:
        return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def unseen(self) -> list[bytes]:
        status, data = self._imap.uid("SEARCH", None, "UNSEEN")
        if status != "OK":
            raise imaplib.IMAP4.error(f"SEARCH failed: {data!r}")
        return data[0].split() if data and data[0] else []

    def fetch(self, uid: bytes) -> bytes | None:
        """The raw message (BODY.PEEK, so it stays unseen until :meth:`flag`); None if it is gone."""
        status, data = self._imap.uid("FETCH", uid, "(BODY.PEEK[])")
        if status != "OK":
            raise imaplib.IMAP4.error(f"FETCH failed: {data!r}")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        return None

    def flag(self, uid: bytes, *flags: str) -> None:
        self._imap.uid("STORE", uid, "+FLAGS", f"({' '.join(flags)})")

    def close(self) -> None:
        try:
            self._imap.close()
            self._imap.logout()
        except (OSError, imaplib.IMAP4.error):
            self._imap.shutdown()

    def __enter__(self) -> ImapMailbox:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def poll(app: Flask, *, limit: int = 50) -> int:
    """Process up to ``limit`` unseen messages; returns how many were processed. Needs an app context.

    IMAP trouble is logged and retried next pass; a database error propagates (the message
    stays unseen and is fetched again).
    """
    config = app.config
    if not config["IMAP_HOST"]:
        return 0
    done = 0
    try:
        with ImapMailbox.from_config(config) as box:
            for uid in box.unseen()[:limit]:
                raw = box.fetch(uid)
                if raw is None:
                    continue
                try:
                    receive_and_commit(db.session, raw)
                except (ServiceError, ValueError, LookupError, UnicodeError) as exc:
                    db.session.rollback()
                    log.error("could not process IMAP message %s (%s); flagged in the mailbox for a person",
                              uid.decode(), exc)
                    box.flag(uid, "\\Seen", "\\Flagged")
                    continue
                box.flag(uid, "\\Seen")
                done += 1
    except (OSError, imaplib.IMAP4.error, ValueError) as exc:  # ValueError: a setting to fix
        log.warning("IMAP server %s unavailable (%s: %s); trying again next pass", config["IMAP_HOST"],
                    exc.__class__.__name__, exc)
    return done
