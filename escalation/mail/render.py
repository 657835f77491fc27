"""Mail templates: ``escalation/templates/mail/<kind>.subject.txt``, ``<kind>.txt`` and ``<kind>.html``.

An admin can replace them at ``/admin/mail-templates`` (stored in ``mail_templates``); either
way they are rendered in a Jinja sandbox that escapes the HTML part and leaves subject and text
alone, so customer text in the HTML part is always escaped (see :mod:`.templates_store`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import object_session

from .templates_store import REPLY_MARKER, render_mail

__all__ = ["REPLY_MARKER", "Rendered", "render"]  # REPLY_MARKER: inbound mail cuts a reply there


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(kind: str, **context: Any) -> Rendered:
    context = {"reply_marker": REPLY_MARKER, **context}
    ticket = context.get("ticket")
    session = object_session(ticket) if ticket is not None else None
    subject, text, html = render_mail(kind, context, session)
    return Rendered(subject=re.sub(r"\s+", " ", subject).strip()[:300], text=text.strip() + "\n", html=html)
