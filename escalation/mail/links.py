"""The pages our mails link to, without signing in: the signed link is the credential.

- ``/mail/unsubscribe/<token>``: the customer's e-mail preference (everything / only
  important / nothing). ``POST`` with ``List-Unsubscribe=One-Click`` (RFC 8058, what mail
  programs send from their "Unsubscribe" button) sets "nothing" at once; the page's form sets
  any choice. The link never expires.
- ``/mail/rate/<token>/<rating>``: the resolved mail's one-click rating, recorded on the
  click (like Zendesk's good/bad links), then an optional comment. Clicking another rating
  changes it. The links expire after ``CARE_SURVEY_LINK_DAYS``.

The forms are CSRF-exempt: a forged request would need the signed token, which only the
customer's mailbox has. (A link scanner that fetches every link of a mail can record a
rating; the customer's own click changes it.)
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import surveys
from ..db import db
from ..errors import ValidationFailed
from ..http import csrf
from ..models import NOTIFY_PREFS, Survey
from . import preferences

bp = Blueprint("maillinks", __name__, url_prefix="/mail")
csrf.exempt(bp)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> Any:
    customer = preferences.customer_for(db.session, token)
    saved = False
    if request.method == "POST":
        one_click = request.form.get("List-Unsubscribe") == "One-Click"
        pref = "none" if one_click else request.form.get("pref", "")
        if pref not in NOTIFY_PREFS:
            raise ValidationFailed("Choose one of the options.", details={"field": "pref"})
        preferences.set_pref(customer, pref)
        db.session.commit()
        saved = True
        if one_click:
            return {"status": "unsubscribed"}
    return render_template("public/mail_preferences.html", customer=customer, labels=preferences.PREF_LABELS,
                           saved=saved, token=token)


def _rate(token: str, rating: int, comment: str | None = None) -> tuple[Any, Any]:
    """Record the rating; a second click racing the first (both inserting the one survey row)
    is retried once, and then finds the row and changes it."""
    for attempt in (1, 2):
        ticket = preferences.ticket_for_rating(db.session, token)
        try:
            survey = surveys.rate_from_mail(db.session, ticket, rating, comment)
            db.session.commit()
            return ticket, survey
        except IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@bp.get("/rate/<token>/<int:rating>")
def rate(token: str, rating: int) -> Any:
    ticket, survey = _rate(token, rating)
    return render_template("public/rate.html", ticket=ticket, survey=survey, token=token,
                           ratings=preferences.RATINGS, thanks=False)


@bp.route("/rate/<token>", methods=["GET", "POST"])
def comment(token: str) -> Any:
    ticket = preferences.ticket_for_rating(db.session, token)
    survey = None
    if request.method == "POST":
        raw = request.form.get("rating", "")
        if not raw.isdigit():
            raise ValidationFailed("Choose a rating from 1 to 5.", details={"field": "rating"})
        ticket, survey = _rate(token, int(raw), request.form.get("comment", ""))
    else:
        survey = db.session.scalar(select(Survey).where(Survey.ticket_id == ticket.id))
    return render_template("public/rate.html", ticket=ticket, survey=survey, token=token,
                           ratings=preferences.RATINGS, thanks=request.method == "POST")
