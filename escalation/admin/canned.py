"""Canned responses in the admin console: the saved replies agents insert into the reply box."""
from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import canned as responses
from ..auth import role_required
from ..db import db
from ..triage import CATEGORIES
from . import bp


def _canned_page(draft: Any = None, *, editing: Any = None, errors: dict[str, str] | None = None,
                 status: int = 200) -> Any:
    template = "admin/canned_edit.html" if editing is not None else "admin/canned.html"
    return render_template(template, responses=responses.listing(db.session), draft=draft, editing=editing,
                           errors=errors or {}, categories=CATEGORIES, placeholders=responses.PLACEHOLDERS), status


def _canned_draft() -> Any:
    return responses.Draft.of(request.form.get("title", ""), request.form.get("body", ""),
                           request.form.get("category", ""))


@bp.route("/canned", methods=["GET", "POST"])
@role_required("admin")
def canned() -> Any:
    """The saved replies agents insert into the reply box: the list, and a form for a new one."""
    if request.method == "GET":
        return _canned_page()
    draft = _canned_draft()
    try:
        row = responses.create(db.session, draft, current_user.username)
        db.session.commit()
    except responses.CannedRefused as exc:
        db.session.rollback()
        flash("The response was not saved: fix the errors below.", "error")
        return _canned_page(draft, errors=exc.errors, status=422)
    flash(f"“{row.title}” is saved; agents can insert it now.", "success")
    return redirect(url_for("admin.canned"), code=303)


@bp.route("/canned/<int:response_id>", methods=["GET", "POST"])
@role_required("admin")
def canned_edit(response_id: int) -> Any:
    row = responses.get(db.session, response_id)
    if request.method == "GET":
        return _canned_page(responses.Draft.of(row.title, row.body, row.category), editing=row)
    draft = _canned_draft()
    try:
        responses.update(db.session, response_id, draft, current_user.username)
        db.session.commit()
    except responses.CannedRefused as exc:
        db.session.rollback()
        flash("The changes were not saved: fix the errors below.", "error")
        return _canned_page(draft, editing=responses.get(db.session, response_id), errors=exc.errors, status=422)
    flash(f"“{draft.title}” is saved.", "success")
    return redirect(url_for("admin.canned"), code=303)


@bp.post("/canned/<int:response_id>/delete")
@role_required("admin")
def canned_delete(response_id: int) -> Any:
    title = responses.delete(db.session, response_id, current_user.username)
    db.session.commit()
    flash(f"“{title}” is deleted. Replies already sent with it are not affected.", "success")
    return redirect(url_for("admin.canned"), code=303)
