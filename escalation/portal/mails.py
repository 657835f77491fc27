"""The account e-mails (verification, sign-in link, reset, "already registered", erasure),
queued in the outbox in the caller's transaction like every other mail.

Templates: ``templates/mail/portal_account.{subject.txt,txt,html}`` (one set, worded per
purpose), rendered by Flask's Jinja (the HTML part autoescaped). They carry a secret link,
so they are not threaded onto any ticket and are not editable at ``/admin/mail-templates``.
"""
from __future__ import annotations

import re

from flask import current_app, render_template, url_for
from sqlalchemy.orm import Session

from ..mail.messageids import support_address
from ..mail.outbox import enqueue
from ..mail.render import Rendered
from ..models import CustomerAccount, OutboxMail
from . import accounts, link_settings

# purpose of the mail -> (purpose of the link it carries, the route that takes the link)
LINKS = {"verify": ("verify", "portal.verify"), "sign_in": ("sign_in", "portal.use_link"),
         "reset": ("reset", "portal.reset"), "erase": ("erase", "portal.erase_confirm")}


def _valid_for(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = max(1, seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def public_url(endpoint: str, **values: str) -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/") + url_for(endpoint, **values)


def send(session: Session, account: CustomerAccount, purpose: str) -> OutboxMail:
    """Queue the ``purpose`` mail to the account's address, with a fresh one-time link."""
    settings = link_settings()
    valid_for = ""
    if purpose == "registered":
        action_url = public_url("portal.sign_in")
    else:
        link_purpose, endpoint = LINKS[purpose]
        action_url = public_url(endpoint, token=accounts.make_link_token(settings, account, link_purpose))
        valid_for = _valid_for(settings.max_age[link_purpose])
    context = {"purpose": purpose, "name": account.customer.name, "action_url": action_url,
               "valid_for": valid_for, "support_name": support_address(current_app.config)[0] or "Customer Care"}
    subject = render_template("mail/portal_account.subject.txt", **context)
    rendered = Rendered(subject=re.sub(r"\s+", " ", subject).strip()[:300],
                        text=render_template("mail/portal_account.txt", **context).strip() + "\n",
                        html=render_template("mail/portal_account.html", **context))
    return enqueue(session, kind="account", to_addr=account.customer.email, rendered=rendered, ticket=None,
                   thread=False)
