"""Outgoing e-mail in the admin console: what waits, what was sent, what failed, and sending again."""
from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request, url_for
from flask_login import current_user

from ..auth import role_required
from ..consoles import act
from ..db import db
from ..mail import outbox as mail_outbox
from ..models import OUTBOX_STATUSES
from . import bp


@bp.get("/outbox")
@role_required("admin")
def outbox() -> Any:
    """Outgoing e-mail: what waits, what was sent, and what failed (with the reason)."""
    status = request.args.get("status", "")
    status = status if status in OUTBOX_STATUSES else ""
    mails = mail_outbox.listing(db.session, status)
    return render_template("admin/outbox.html", mails=mails, numbers=mail_outbox.ticket_numbers(db.session, mails),
                           counts=mail_outbox.counts(db.session), status=status, statuses=OUTBOX_STATUSES,
                           smtp_host=current_app.config["SMTP_HOST"])


@bp.post("/outbox/<int:mail_id>/send-again")
@role_required("admin")
def outbox_send_again(mail_id: int) -> Any:
    def run() -> str:
        mail = mail_outbox.send_again(db.session, mail_id, current_user.username)
        return f"The mail to {mail.to_addr} is queued again."
    return act(run, url_for("admin.outbox", status=request.args.get("status", "")), code=302)
