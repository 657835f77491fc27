"""My data: download everything stored about me (the admins' export), or have it erased.

Erasure is confirmed through a one-time link e-mailed to the account's address, then done by
:func:`escalation.privacy.erase_customer` (the admins' erasure), which also closes the account.
Both are audit-logged by customer id, as the admins' actions are.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Response, render_template, session

from .. import privacy as gdpr
from ..db import db
from . import accounts, bp, customer_required, link_settings, mails
from .account_views import _link_page, _sent
from .forms import ButtonForm
from .ticket_views import me


@bp.get("/privacy")
@customer_required
def privacy() -> Any:
    return render_template("portal/privacy.html", button=ButtonForm())


@bp.post("/privacy/export")
@customer_required
def privacy_export() -> Any:
    account = me()
    data = gdpr.export_customer(db.session, account.customer, f"customer:{account.customer_id}")
    db.session.commit()
    return Response(json.dumps(data, indent=2, ensure_ascii=False), mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="my-data.json"'})


@bp.post("/privacy/erase")
@customer_required
def privacy_erase() -> Any:
    account = me()
    mails.send(db.session, account, "erase")
    db.session.commit()
    return _sent(account.customer.email)


@bp.route("/privacy/erase/<token>", methods=["GET", "POST"])
def erase_confirm(token: str) -> Any:
    def act(_form: Any) -> Any:
        account = accounts.use_link(db.session, link_settings(), token, "erase")
        gdpr.erase_customer(db.session, account.customer, f"customer:{account.customer_id}")
        db.session.commit()
        session.clear()
        return render_template("portal/message.html", title="Your data is erased",
                               message="Your name, e-mail address and everything you wrote to us are erased, and "
                                       "your account is closed. Thank you for having been our customer.")

    return _link_page("erase", token, title="Erase my data", submit="Erase my data for good",
                      intro="This cannot be undone: your name, e-mail address and everything you wrote to us are "
                            "erased and your account closed; the ticket numbers stay, without them, for our "
                            "statistics.", act=act)
