"""The outgoing mails' templates in the admin console: list, edit with a preview, reset."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..auth import role_required
from ..db import db
from ..mail import templates_store
from . import bp


@bp.get("/mail-templates")
@role_required("admin")
def mail_templates() -> Any:
    """The outgoing mails' templates: which are the admin's own and which the shipped files."""
    return render_template("admin/mail_templates.html", templates=templates_store.listing(db.session))


def _mail_template_form(name: str, sources: Any, *, errors: dict[str, str] | None = None,
                        preview: Any = None, status: int = 200) -> Any:
    label, audience = templates_store.TEMPLATES[name]
    return render_template("admin/mail_template_edit.html", name=name, label=label, audience=audience,
                           sources=sources, errors=errors or {}, preview=preview,
                           row=templates_store.stored(db.session, name), parts=templates_store.PART_LABELS,
                           variables=templates_store.VARIABLES[name]), status


@bp.route("/mail-templates/<name>", methods=["GET", "POST"])
@role_required("admin")
def mail_template(name: str) -> Any:
    """Edit one template; "Preview" renders the form's text with a sample ticket, "Save" stores it."""
    if name not in templates_store.TEMPLATES:
        abort(404)
    if request.method == "GET":
        return _mail_template_form(name, templates_store.effective(db.session, name))
    sources = templates_store.Sources(**{p: (request.form.get(p) or "").replace("\r\n", "\n")
                                         for p in templates_store.PARTS})
    errors = templates_store.validate(name, sources)
    if errors:
        flash("The template was not saved: fix the errors below." if request.form.get("action") != "preview"
              else "The template cannot be previewed: fix the errors below.", "error")
        return _mail_template_form(name, sources, errors=errors, status=422)
    if request.form.get("action") == "preview":
        subject, text, html = templates_store.render_sources(name, sources, templates_store.sample_context(name))
        return _mail_template_form(name, sources, preview={"subject": " ".join(subject.split()), "text": text,
                                                            "html": html})
    templates_store.save(db.session, name, sources, current_user.username)
    db.session.commit()
    flash(f"The {templates_store.TEMPLATES[name][0].lower()} template is saved; the next mail uses it.", "success")
    return redirect(url_for("admin.mail_template", name=name), code=303)


@bp.post("/mail-templates/<name>/reset")
@role_required("admin")
def mail_template_reset(name: str) -> Any:
    if name not in templates_store.TEMPLATES:
        abort(404)
    if templates_store.reset(db.session, name, current_user.username):
        db.session.commit()
        flash(f"The {templates_store.TEMPLATES[name][0].lower()} template is back to the default.", "success")
    else:
        flash("This template already is the default.", "success")
    return redirect(url_for("admin.mail_template", name=name), code=303)
