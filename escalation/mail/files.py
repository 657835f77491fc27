"""Files by e-mail, in and out.

- **In** (:func:`in_message`, :func:`keep`): the files of a customer's mail are checked file
  by file against the portal's limits (:func:`escalation.attachments.sort_out`: type from the
  content, ``ATTACHMENT_MAX_BYTES``, ``ATTACHMENT_MAX_FILES``) and stored through the same
  storage. A file that is refused is never dropped silently: the thread gets a note that the
  agents and the customer see ("report.exe was not accepted: …"), and the acknowledgement (new
  ticket) or a notice (reply) tells the sender, with the ticket's portal page to add it there.
- **Out** (:func:`plan`, :func:`attach`): an agent's reply is mailed with its files attached
  as long as they add up to ``MAIL_ATTACH_MAX_TOTAL``; above that the mail names the files and
  links to the ticket's portal page instead (one large file never makes a mail bounce).

Served files keep the one rule of :func:`escalation.attachments.download`: always a download,
``nosniff``, HTML and SVG never accepted in the first place.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from .. import attachments, events
from ..attachments import Refusal, Upload
from ..models import Attachment, Message, Ticket

log = logging.getLogger("escalation.mail.files")
NOTE_AUTHOR = "Customer Care"


def portal_url(ticket: Ticket) -> str:
    """The ticket's page in the customer portal (sign in or register with the ticket's address)."""
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/portal/tickets/{ticket.number}"


# --- in --------------------------------------------------------------------------------

def in_message(message: EmailMessage) -> list[tuple[str, bytes]]:
    """(file name, content) of every attachment of a mail, the body parts left out."""
    found: list[tuple[str, bytes]] = []
    for part in message.iter_attachments():
        if part.is_multipart() and part.get_content_type() != "message/rfc822":
            continue  # a nested alternative/related: not a file
        name = part.get_filename() or ""
        if part.get_content_type() == "message/rfc822":
            data = part.as_bytes()
            name = name or "forwarded message.eml"
        else:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
        found.append((name or f"attachment-{len(found) + 1}", data))
    return found


@dataclass
class Kept:
    """What became of a mail's files: the ones stored, the ones refused (with why)."""

    uploads: list[Upload] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def keep(message: EmailMessage) -> Kept:
    uploads, refused = attachments.sort_out(in_message(message), current_app.config)
    return Kept(uploads, refused)


def refusal_lines(refused: Sequence[Refusal]) -> list[str]:
    return [f"{r.name} was not accepted: {r.reason}" for r in refused]


def note_refused(session: Session, ticket: Ticket, refused: Sequence[Refusal]) -> Message | None:
    """A note in the thread (agents and customer see it) naming each refused file and why."""
    if not refused:
        return None
    body = "\n".join([*refusal_lines(refused),
                      "The sender was told by e-mail and can add the files on the ticket's page in the portal."])
    note = Message(ticket=ticket, author_type="system", author_name=NOTE_AUTHOR, body=body)
    session.add(note)
    session.flush()
    events.record(session, ticket, "message", events.message_payload(note))
    return note


def refused_context(ticket: Ticket, refused: Sequence[Refusal]) -> dict[str, Any]:
    """What a mail template needs to tell the sender about refused files."""
    config = current_app.config
    return {"refused": [{"name": r.name, "reason": r.reason} for r in refused],
            "portal_url": portal_url(ticket),
            "attachment_limits": f"{', '.join(sorted({e for x in attachments.allowed_types(config).values() for e in x}))}"
                                 f" files up to {attachments.megabytes(int(config['ATTACHMENT_MAX_BYTES']))} MB each"}


# --- out -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """The files of an outgoing mail: attached, or (too large together) linked."""

    files: tuple[Attachment, ...]
    attached: bool

    def context(self, ticket: Ticket) -> dict[str, Any]:
        return {"attachments": [{"name": a.filename, "size": size_label(a.size)} for a in self.files],
                "attached": self.attached, "portal_url": portal_url(ticket)}


def plan(messages: Iterable[Message]) -> Plan:
    files = tuple(a for m in messages for a in m.attachments)
    total = sum(a.size for a in files)
    return Plan(files, attached=bool(files) and total <= int(current_app.config["MAIL_ATTACH_MAX_TOTAL"]))


def size_label(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


def attach(message: EmailMessage, files: Sequence[Attachment]) -> None:
    """Add the files to an outgoing message (it becomes multipart/mixed). A file missing from
    the storage is left out and logged; the mail still names it and links to the portal."""
    for row in files:
        try:
            with attachments.storage().open(row.storage_key) as stream:
                data = stream.read()
        except OSError as exc:
            log.warning("attachment %s (%s) is not in the storage (%s); mailed without it", row.id, row.filename,
                        exc)
            continue
        maintype, _, subtype = row.content_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=row.filename)
