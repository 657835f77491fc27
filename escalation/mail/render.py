"""Mail templates: ``escalation/templates/mail/<kind>.subject.txt``, ``<kind>.txt`` and ``<kind>.html``.

They are rendered with the app's Jinja environment, which escapes ``.html`` templates and
leaves ``.txt`` ones alone, so customer text in the HTML part is always escaped.
(Admin-editable templates stored in the database are a later step.)
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import current_app

REPLY_MARKER = "##- Please type your reply above this line -##"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(kind: str, **context: Any) -> Rendered:
    env = current_app.jinja_env
    context = {"reply_marker": REPLY_MARKER, **context}
    subject = env.get_template(f"mail/{kind}.subject.txt").render(context)
    text = env.get_template(f"mail/{kind}.txt").render(context)
    html = env.get_template(f"mail/{kind}.html").render(context)
    return Rendered(subject=re.sub(r"\s+", " ", subject).strip()[:300], text=text.strip() + "\n", html=html)
