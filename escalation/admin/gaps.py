"""The KB-gap report (routes of the admin blueprint): questions the KB could not answer,
grouped by meaning, and a draft article started from a group."""
from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import kb_gaps, publishing
from ..auth import role_required
from ..db import db
from ..errors import ServiceError
from ..kb import get_index, index_article
from ..models import Ticket
from . import bp

PERIODS = (7, 28, 90)


@bp.get("/kb-gaps")
@role_required("admin")
def kb_gaps_report() -> Any:
    days = request.args.get("days", 28, type=int)
    days = days if days in PERIODS else 28
    gaps, alone = kb_gaps.report(db.session, get_index(), days=days)
    return render_template("admin/kb_gaps.html", gaps=gaps, alone=alone, days=days, periods=PERIODS)


@bp.route("/kb-gaps/draft", methods=["GET", "POST"])
@role_required("admin")
def kb_gap_draft() -> Any:
    """GET: a draft prefilled from a cluster's questions and its tickets' resolutions; POST: publish it."""
    if request.method == "POST":
        try:
            article = publishing.write(db.session, current_user, title=request.form.get("title", ""),
                                       body=request.form.get("body", ""),
                                       audience=request.form.get("audience", "public"))
            db.session.commit()
        except ServiceError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return render_template("admin/kb_gap_draft.html", title=request.form.get("title", ""),
                                   body=request.form.get("body", ""), numbers=[]), 422
        index_article(current_app._get_current_object(), article)  # type: ignore[attr-defined]
        flash(f"Published “{article.title}”; the assistant answers these questions with it now.", "success")
        return redirect(url_for("admin.kb_gaps_report"), code=303)
    examples = [q for q in request.args.getlist("q") if q.strip()][:kb_gaps.EXAMPLES]
    numbers = request.args.getlist("t")[:20]
    resolutions = list(db.session.scalars(select(Ticket.resolution).where(Ticket.number.in_(numbers),
                                                                          Ticket.resolution != "")))
    title, body = kb_gaps.draft(examples, resolutions)
    return render_template("admin/kb_gap_draft.html", title=title, body=body, numbers=numbers)
