"""The admin's own mail settings (``/admin/notifications``): new-ticket alerts, each or as a
digest every N minutes (:mod:`escalation.mail.alerts`), and the desk's working hours that the
expected-wait figure uses (:mod:`escalation.expected_wait`)."""
from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import desk_settings, expected_wait
from ..auth import role_required
from ..db import db
from ..errors import ServiceError, ValidationFailed
from ..models import ALERT_PREFS, utcnow
from . import bp

ALERT_LABELS = {"off": "No e-mail about new tickets",
                "each": "An e-mail for each new ticket",
                "digest": "A digest of the new tickets every few minutes"}


@bp.route("/notifications", methods=["GET", "POST"])
@role_required("admin")
def notifications() -> Any:
    if request.method == "POST":
        try:
            if request.form.get("form") == "hours":
                hours = expected_wait.parse_hours(request.form.get("desk_hours", ""))
                desk_settings.set_value(db.session, "desk_hours", hours.text, current_user.username)
                flash(f"Working hours: {hours.text or '24/7'}.", "success")
            else:
                pref = request.form.get("new_ticket_alerts", "")
                minutes = request.form.get("alert_digest_minutes", "15")
                if pref not in ALERT_PREFS or not minutes.isdigit() or not 1 <= int(minutes) <= 1440:
                    raise ValidationFailed("Choose an option, and a digest interval from 1 to 1440 minutes.")
                user = current_user._get_current_object()  # type: ignore[attr-defined]
                if pref == "digest" and user.new_ticket_alerts != "digest":
                    user.alert_digest_through = utcnow()  # the first digest covers what comes from now on
                user.new_ticket_alerts, user.alert_digest_minutes = pref, int(minutes)
                flash(f"Saved: {ALERT_LABELS[pref].lower()}.", "success")
            db.session.commit()
        except ServiceError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        return redirect(url_for("admin.notifications"), code=303)
    return render_template("admin/notifications.html", labels=ALERT_LABELS,
                           desk_hours=desk_settings.get(db.session, "desk_hours"))
