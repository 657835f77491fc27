"""GDPR in the admin console: find a customer, export everything about them, erase them."""
from __future__ import annotations

import json
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import privacy as gdpr
from ..auth import role_required
from ..db import db
from ..errors import NotFound
from . import bp


@bp.route("/privacy", methods=["GET", "POST"])
@role_required("admin")
def privacy() -> Any:
    """GDPR: find a customer by e-mail (a POST, so the address stays out of URLs and logs)."""
    email = (request.form.get("email") or "").strip().lower()
    customer, rows, error = None, [], None
    if request.method == "POST" and email:
        try:
            customer = gdpr.find_customer(db.session, email)
        except NotFound as exc:
            error = exc.message
        else:
            rows = gdpr.tickets_of(db.session, customer)
    return render_template("admin/privacy.html", email=email, customer=customer, tickets=rows, error=error)


@bp.post("/privacy/export")
@role_required("admin")
def privacy_export() -> Any:
    customer = gdpr.find_customer(db.session, request.form.get("email", ""))
    data = gdpr.export_customer(db.session, customer, current_user.username)
    db.session.commit()
    return Response(json.dumps(data, indent=2, ensure_ascii=False), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="customer-{customer.id}.json"'})


@bp.post("/privacy/erase")
@role_required("admin")
def privacy_erase() -> Any:
    email = (request.form.get("email") or "").strip().lower()
    if not email or (request.form.get("confirm") or "").strip().lower() != email:
        flash("To erase, type the customer's e-mail address again in the confirmation field.", "error")
        return redirect(url_for("admin.privacy"), code=303)
    customer = gdpr.find_customer(db.session, email)
    result = gdpr.erase_customer(db.session, customer, current_user.username)
    db.session.commit()
    flash(f"Customer {result['customer_id']} erased: {len(result['tickets'])} ticket(s) kept, anonymised.", "success")
    return redirect(url_for("admin.privacy"), code=303)
