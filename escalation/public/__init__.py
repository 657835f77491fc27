"""Customer-facing pages: the demo website with the widget, help articles, ticket tracking."""
from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, send_from_directory, url_for

from .. import expected_wait, tickets
from ..db import db
from ..errors import NotFound, RateLimited
from ..health import service_health
from ..http import error_response, wants_json
from ..kb import get_index, setting_path
from ..ratelimit import tracked_number

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> Any:
    return redirect(url_for("public.demo"))


@bp.get("/healthz")
def healthz() -> Any:
    return service_health()


@bp.get("/demo")
def demo() -> Any:
    return render_template("public/demo.html", rasa_url=current_app.config["RASA_URL"],
                           api_url=current_app.config["PUBLIC_URL"])


@bp.get("/widget/<path:filename>")
def widget(filename: str) -> Any:
    folder = setting_path(current_app, "WIDGET_DIR")
    if not (folder / "carechat.js").exists():
        abort(503, description="The widget is not built yet: run `make widget` (or `make run`).")
    response = send_from_directory(folder, filename, max_age=300)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/help/<article_id>")
def article(article_id: str) -> Any:
    found = get_index().get_article(article_id)
    if found is None or found.audience != "public":
        raise NotFound("There is no help article at this address. Search the help centre or ask the assistant.")
    from kb_index.sections import anchor, article_sections, plain  # loaded with the index already

    sections = [(heading, anchor(heading), plain(text)) for heading, text in article_sections(found)]
    return render_template("public/article.html", article=found, sections=sections)


@bp.errorhandler(RateLimited)
def too_many_lookups(exc: RateLimited) -> Any:
    """Blocked after too many failed lookups: the tracking page says until when."""
    if wants_json():
        return error_response(exc)
    return render_template("public/track.html", number=tracked_number(), ticket=None, error=exc.message), 429, \
        {"Retry-After": str(exc.retry_after)}


@bp.route("/track", methods=["GET", "POST"])
def track() -> Any:
    number = tracked_number()
    email = (request.form.get("email") or "").strip().lower()
    if request.method == "GET" or not number or not email:
        return render_template("public/track.html", number=number, ticket=None, error=None)
    ticket = None
    try:
        found = tickets.get_by_number(db.session, number)
        if hmac.compare_digest(found.customer.email.encode(), email.encode()):
            ticket = found
    except NotFound:
        pass
    if ticket is None:
        return render_template("public/track.html", number=number, ticket=None,
                               error="We found no ticket with that number and e-mail. Check both: the number "
                                     "is in your confirmation (it looks like CR-10042)."), 404
    wait = expected_wait.for_ticket(db.session, ticket) if ticket.status == "new" else None
    return render_template("public/track.html", number=number, ticket=ticket,
                           messages=tickets.public_messages(ticket), error=None, wait=wait)
