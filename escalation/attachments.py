"""Attachments: files customers and agents send with their messages.

- **What is accepted** is decided from the file's first bytes, never from the name or the
  browser's Content-Type: PNG, JPEG, GIF, WebP, PDF, or UTF-8 text without NUL bytes — and
  the name's extension must agree (``.txt`` for text, so an ``.html`` or ``.svg`` file is
  refused even though it is text). ``ATTACHMENT_TYPES`` narrows the list, ``ATTACHMENT_MAX_BYTES``
  caps each file, ``ATTACHMENT_MAX_FILES`` the files of one message.
- **Where it lives**: behind :class:`Storage` (``put`` / ``open`` / ``delete`` by an opaque
  key). :class:`FolderStorage` keeps the files in ``ATTACHMENTS_DIR`` (default: the instance
  folder, which the web server never serves); an object store plugs in by implementing the
  three methods and setting ``app.extensions["care_attachments"]``.
- **How it is served** (:func:`download`): only by routes that first check the caller may see
  the ticket, always ``Content-Disposition: attachment``, ``X-Content-Type-Options: nosniff``
  and a ``sandbox`` CSP, so not even a text file that holds HTML is ever rendered as a page.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from flask import Flask, Request, Response, current_app, send_file
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from .errors import ValidationFailed
from .models import Attachment, Message, Ticket

# type -> extensions its file names may have
KNOWN_TYPES: dict[str, tuple[str, ...]] = {
    "image/png": (".png",), "image/jpeg": (".jpg", ".jpeg"), "image/gif": (".gif",), "image/webp": (".webp",),
    "application/pdf": (".pdf",), "text/plain": (".txt", ".log", ".csv"),
}
UPLOAD_ENDPOINTS = frozenset({"portal.reply", "portal.new_ticket", "agent.reply"})
FORM_ALLOWANCE = 256 * 1024  # the text fields beside the files


def sniff(head: bytes) -> str | None:
    """The type the content really is (from its first bytes), or None when not one we take."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:  # a multi-byte character cut at the end is still text
            if exc.start < len(head) - 3:
                return None
        return "text/plain"
    return None


def clean_name(name: str) -> str:
    """A file name to show and to offer for download: no folders, no control characters."""
    name = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:110] + dot + ext[:8]) if dot else name[:120]
    return name or "attachment"


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def open(self, key: str) -> IO[bytes]: ...

    def delete(self, key: str) -> None: ...


class FolderStorage:
    """Files in one folder (two-character fan-out), named by their random key."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not key.isalnum():
            raise ValueError("attachment keys are alphanumeric")
        return self.root / key[:2] / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".part")
        temporary.write_bytes(data)
        os.replace(temporary, path)  # never a half-written file under its real name

    def open(self, key: str) -> IO[bytes]:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def storage() -> Storage:
    return current_app.extensions["care_attachments"]


@dataclass(frozen=True)
class Upload:
    name: str
    content_type: str
    data: bytes


def allowed_types(config: Any) -> dict[str, tuple[str, ...]]:
    wanted = {t.strip() for t in str(config["ATTACHMENT_TYPES"]).split(",") if t.strip()}
    return {t: exts for t, exts in KNOWN_TYPES.items() if t in wanted}


def megabytes(size: int) -> int:
    return size // (1024 * 1024) or 1


def check(name: str, data: bytes, config: Any) -> Upload:
    """One file against the type and size settings; ValidationFailed names the file and why.
    ``data`` may be one byte longer than the limit (how a stream read tells it is too large)."""
    name = clean_name(name)
    limit = int(config["ATTACHMENT_MAX_BYTES"])
    if len(data) > limit:
        raise ValidationFailed(f"{name} is larger than {megabytes(limit)} MB; attach a smaller file.",
                               details={"field": "attachments", "file": name,
                                        "reason": f"it is larger than {megabytes(limit)} MB."})
    allowed = allowed_types(config)
    kind = sniff(data[:4096])
    extension = os.path.splitext(name)[1].lower()
    if kind is None or kind not in allowed or extension not in allowed[kind]:
        listed = ", ".join(sorted({e for exts in allowed.values() for e in exts}))
        raise ValidationFailed(f"{name} cannot be attached: we take {listed} files.",
                               details={"field": "attachments", "file": name,
                                        "reason": f"we take only {listed} files."})
    return Upload(name, kind, data)


def accept(files: Iterable[FileStorage], config: Any) -> list[Upload]:
    """Check the uploaded files against the settings; ValidationFailed names the file and why."""
    chosen = [f for f in files if f and f.filename]
    limit, most = int(config["ATTACHMENT_MAX_BYTES"]), int(config["ATTACHMENT_MAX_FILES"])
    if len(chosen) > most:
        raise ValidationFailed(f"Attach at most {most} files to one message.", details={"field": "attachments"})
    return [check(item.filename or "", item.stream.read(limit + 1), config) for item in chosen]


@dataclass(frozen=True)
class Refusal:
    """A file that was not kept, and why (shown to the agents and told to the sender)."""

    name: str
    reason: str


def sort_out(files: Iterable[tuple[str, bytes]], config: Any) -> tuple[list[Upload], list[Refusal]]:
    """The files of one e-mail, against the same limits as uploads, but file by file: the ones
    that pass are kept, each other one is refused with its reason (a mail cannot be sent back
    to fix, so one bad file does not cost the good ones)."""
    most = int(config["ATTACHMENT_MAX_FILES"])
    kept: list[Upload] = []
    refused: list[Refusal] = []
    for name, data in files:
        try:
            upload = check(name, data, config)
        except ValidationFailed as exc:
            refused.append(Refusal(clean_name(name), str(exc.details.get("reason") or exc.message)))
            continue
        if len(kept) >= most:
            refused.append(Refusal(upload.name, f"we keep at most {most} files of one message."))
            continue
        kept.append(upload)
    return kept, refused


def store(session: Session, ticket: Ticket, uploads: Sequence[Upload], uploaded_by: str,
          message: Message | None = None) -> list[Attachment]:
    """Write the files to the storage and add their rows (in the caller's transaction)."""
    rows = []
    for upload in uploads:
        key = secrets.token_hex(20)
        storage().put(key, upload.data)
        row = Attachment(ticket_id=ticket.id, filename=upload.name, content_type=upload.content_type,
                         size=len(upload.data), sha256=hashlib.sha256(upload.data).hexdigest(), storage_key=key,
                         uploaded_by=uploaded_by)
        if message is not None:
            row.message = message
        session.add(row)
        rows.append(row)
    return rows


def discard(keys: Iterable[str]) -> None:
    """Delete stored files (their rows are gone, e.g. after a GDPR erasure)."""
    for key in keys:
        storage().delete(key)


def download(attachment: Attachment) -> Response:
    """The file as a download — never rendered by the browser, whatever it contains."""
    response = send_file(storage().open(attachment.storage_key), mimetype=attachment.content_type,
                         as_attachment=True, download_name=attachment.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


class UploadRequest(Request):
    """Requests to the routes that take files may be as large as their files allow;
    every other request keeps ``MAX_CONTENT_LENGTH``."""

    @property
    def max_content_length(self) -> int | None:  # type: ignore[override]
        if self._max_content_length is None and self.url_rule is not None \
                and self.url_rule.endpoint in UPLOAD_ENDPOINTS and current_app:
            config = current_app.config
            return int(config["ATTACHMENT_MAX_BYTES"]) * int(config["ATTACHMENT_MAX_FILES"]) + FORM_ALLOWANCE
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


def init_app(app: Flask) -> None:
    app.request_class = UploadRequest
    app.extensions.setdefault("care_attachments", FolderStorage(app.config["ATTACHMENTS_DIR"]))
