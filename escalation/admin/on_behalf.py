"""Raise a ticket on someone's behalf: a phone call, a meeting, a Slack message, a walk-in.

The admin finds the person (customer or employee: anyone who wrote before is a customer
row) or types a new name and e-mail, says how the request came in and what it is about;
the ticket is opened by :func:`escalation.tickets.open_ticket` like any other, so the person
gets the usual acknowledgement e-mail and the ticket enters the queue (and the staff
channel in Slack).
"""
from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select

from .. import tickets
from ..auth import role_required
from ..db import db
from ..models import STAFF_CHANNELS, Customer
from . import bp

SEARCH_LIMIT = 10
CHANNEL_LABELS = {"phone": "Phone call", "meeting": "Meeting", "slack": "Slack message", "walk_in": "Walk-in",
                  "email": "E-mail"}
EMAIL_SHAPE = "@"


def find_people(query: str) -> list[Customer]:
    if len(query) < 2:
        return []
    like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return list(db.session.scalars(select(Customer).where(or_(Customer.email.ilike(like, escape="\\"),
                                                              Customer.name.ilike(like, escape="\\")))
                                   .order_by(Customer.name).limit(SEARCH_LIMIT)))


def _errors(form: dict[str, str]) -> dict[str, str]:
    errors = {}
    if not form["name"] or len(form["name"]) > 120:
        errors["name"] = "Give the person's name."
    email = form["email"]
    if not email or EMAIL_SHAPE not in email or " " in email or len(email) > 254 or "." not in email.split("@")[-1]:
        errors["email"] = "Give an e-mail address like name@example.com: the acknowledgement goes there."
    if form["channel"] not in STAFF_CHANNELS:
        errors["channel"] = "Choose how the request came in."
    if not form["description"]:
        errors["description"] = "Describe the request: it is what the agent reads first."
    if len(form["subject"]) > 200:
        errors["subject"] = "At most 200 characters."
    return errors


@bp.route("/tickets/new", methods=["GET", "POST"])
@role_required("admin")
def new_ticket() -> Any:
    fields = ("name", "email", "channel", "subject", "description")
    form = {key: (request.form.get(key) or request.args.get(key) or "").strip() for key in fields}
    query = request.args.get("q", "").strip()
    errors: dict[str, str] = {}
    if request.method == "POST":
        errors = _errors(form)
        if not errors:
            subject = form["subject"] or form["description"].splitlines()[0][:200]
            opened = tickets.open_ticket(db.session, name=form["name"], email=form["email"], subject=subject,
                                         description=form["description"], channel=form["channel"],
                                         actor=current_user.username)
            db.session.commit()
            ticket = opened.ticket
            flash(f"{ticket.number} opened for {ticket.customer.name} ({CHANNEL_LABELS[form['channel']]}); "
                  f"the acknowledgement goes to {ticket.customer.email}.", "success")
            return redirect(url_for("admin.ticket", number=ticket.number))
    return render_template("admin/ticket_new.html", form=form, errors=errors, q=query, people=find_people(query),
                           channels=[(c, CHANNEL_LABELS[c]) for c in STAFF_CHANNELS]), 422 if errors else 200
