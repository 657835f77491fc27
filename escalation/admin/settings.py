"""The desk's switches in the admin console (automatic assignment), and ``desk_setting`` for templates."""
from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import desk_settings
from ..auth import role_required
from ..db import db
from . import bp


@bp.app_template_global("desk_setting")
def desk_setting(key: str) -> Any:
    """A desk setting's current value, for templates (the queue shows automatic assignment)."""
    return desk_settings.get(db.session, key)


@bp.route("/settings", methods=["GET", "POST"])
@role_required("admin")
def settings() -> Any:
    """Help-desk switches: automatic assignment of new tickets."""
    if request.method == "POST":
        wanted = request.form.get("auto_assign") == "on"
        if desk_settings.set_value(db.session, "auto_assign", wanted, current_user.username):
            db.session.commit()
            flash("Automatic assignment is on: new tickets go to the best available agent, and waiting ones "
                  "are assigned on the worker's next pass." if wanted else
                  "Automatic assignment is off: new tickets wait in the queue for you or an agent to take them.",
                  "success")
        else:
            flash(f"Automatic assignment already was {'on' if wanted else 'off'}.", "info")
        back = url_for("admin.queue") if request.form.get("back") == "queue" else url_for("admin.settings")
        return redirect(back, code=303)
    return render_template("admin/settings.html", settings=desk_settings.listing(db.session))
