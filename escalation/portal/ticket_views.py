"""My tickets, one ticket's page (thread, live updates, reply, solved / reopen), a new ticket.

Every ticket route looks the ticket up by number *and* the signed-in customer
(:func:`own_ticket`): another customer's ticket is "not found", exactly like a number that
does not exist, so the portal tells nobody which numbers are taken.
"""
from __future__ import annotations

import secrets
from typing import Any

from flask import Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import func, select

from .. import attachments, surveys, tickets
from ..db import db
from ..errors import NotFound, ServiceError
from ..event_streams import event_stream
from ..lifecycle import OPEN_STATUSES
from ..models import Attachment, CustomerAccount, Message, Ticket, TicketEvent
from . import bp, current_customer, customer_required
from .forms import ButtonForm, ReplyForm, SelfServedForm, TicketForm

PAGE_SIZE = 50
FILTERS = ("open", "all")


def me() -> CustomerAccount:
    account = current_customer()
    if account is None:  # customer_required runs first
        abort(401)
    return account


def my_ticket_query(account: CustomerAccount, which: str = "open") -> Any:
    """The account's tickets, latest update first (index ``tickets (customer_id, updated_at)``)."""
    query = select(Ticket).where(Ticket.customer_id == account.customer_id)
    if which == "open":
        query = query.where(Ticket.status.in_(OPEN_STATUSES))
    return query.order_by(Ticket.updated_at.desc(), Ticket.id.desc())


def own_ticket(number: str) -> Ticket:
    ticket = db.session.scalar(select(Ticket).where(Ticket.number == number.strip().upper(),
                                                    Ticket.customer_id == me().customer_id))
    if ticket is None:
        raise NotFound(f"You have no ticket {number}. Check the number, or see all your tickets.",
                       code="ticket_not_found")
    return ticket


def ticket_state(ticket: Ticket) -> dict[str, Any]:
    """What the ticket page shows about the ticket itself (also sent to the page live)."""
    if ticket.first_response_at is not None:
        first_reply = {"kind": "answered", "at": ticket.first_response_at.isoformat()}
    elif ticket.first_response_due is not None and ticket.status in OPEN_STATUSES:
        first_reply = {"kind": "expected", "at": ticket.first_response_due.isoformat()}
    else:
        first_reply = {"kind": "none", "at": None}
    return {"number": ticket.number, "status": ticket.status, "status_label": ticket.status.replace("_", " "),
            "agent": ticket.assignee.name if ticket.assignee else None,
            "updated_at": ticket.updated_at.isoformat(), "first_reply": first_reply,
            "can_resolve": ticket.status in OPEN_STATUSES, "can_reopen": ticket.status == "resolved"}


@bp.get("/")
def index() -> Any:
    return redirect(url_for("portal.my_tickets") if current_customer() else url_for("portal.sign_in"))


@bp.get("/tickets")
@customer_required
def my_tickets() -> Any:
    which = request.args.get("status", "open")
    which = which if which in FILTERS else "open"
    page = request.args.get("page", "1")
    page_number = int(page) if page.isdigit() and 0 < int(page) < 10_000 else 1
    rows = db.session.scalars(my_ticket_query(me(), which).limit(PAGE_SIZE + 1)
                              .offset((page_number - 1) * PAGE_SIZE)).unique().all()
    return render_template("portal/my_tickets.html", tickets=rows[:PAGE_SIZE], which=which, page=page_number,
                           more=len(rows) > PAGE_SIZE, state=ticket_state)


@bp.get("/tickets/<number>")
@customer_required
def ticket(number: str) -> Any:
    item = own_ticket(number)
    last_event_id = db.session.scalar(select(func.max(TicketEvent.id))
                                      .where(TicketEvent.ticket_id == item.id)) or 0
    ticket_files = db.session.scalars(select(Attachment).where(Attachment.ticket_id == item.id,
                                                               Attachment.message_id.is_(None))
                                      .order_by(Attachment.id)).all()
    return render_template("portal/ticket.html", ticket=item, state=ticket_state(item), ticket_files=ticket_files,
                           messages=tickets.public_messages(item), last_event_id=last_event_id,
                           reply_form=ReplyForm(), button=ButtonForm())


@bp.get("/tickets/<number>/state")
@customer_required
def ticket_state_json(number: str) -> Any:
    return jsonify(ticket_state(own_ticket(number)))


@bp.get("/tickets/<number>/events")
@customer_required
def ticket_events(number: str) -> Response:
    """The same stream the widget reads (public events only), for a ticket of this customer."""
    return event_stream(own_ticket(number).id, include_internal=False)


def _act(number: str, change: Any, done: str) -> Any:
    item = own_ticket(number)
    try:
        change(item)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(done, "success")
    return redirect(url_for("portal.ticket", number=item.number), code=303)


@bp.post("/tickets/<number>/reply")
@customer_required
def reply(number: str) -> Any:
    form = ReplyForm()
    if not form.validate_on_submit():
        own_ticket(number)
        flash("Write your reply before sending it.", "error")
        return redirect(url_for("portal.ticket", number=number), code=303)

    def send(item: Ticket) -> None:
        uploads = attachments.accept(request.files.getlist("attachments"), current_app.config)
        tickets.customer_message(db.session, item, form.body.data or "", uploads)

    return _act(number, send, "Reply sent.")


@bp.post("/tickets/<number>/solved")
@customer_required
def solved(number: str) -> Any:
    actor = f"customer:{me().customer_id}"
    return _act(number, lambda t: tickets.customer_resolve(db.session, t, actor),
                "Marked as solved. Thank you! If it comes back, reopen the ticket here.")


@bp.post("/tickets/<number>/reopen")
@customer_required
def reopen(number: str) -> Any:
    actor = f"customer:{me().customer_id}"
    return _act(number, lambda t: tickets.customer_reopen(db.session, t, actor),
                "Reopened: the team sees it again.")


@bp.get("/attachments/<int:attachment_id>")
@customer_required
def attachment(attachment_id: int) -> Any:
    """A file of one of my tickets — never of another customer's, never of an internal note."""
    row = db.session.scalar(select(Attachment).join(Ticket, Ticket.id == Attachment.ticket_id)
                            .outerjoin(Message, Message.id == Attachment.message_id)
                            .where(Attachment.id == attachment_id, Ticket.customer_id == me().customer_id,
                                   (Message.id.is_(None)) | (Message.internal.is_(False))))
    if row is None:
        raise NotFound("You have no such attachment.", code="attachment_not_found")
    return attachments.download(row)


@bp.route("/tickets/new", methods=["GET", "POST"])
@customer_required
def new_ticket() -> Any:
    form = TicketForm()
    if not form.validate_on_submit():
        return render_template("portal/new_ticket.html", form=form, served=SelfServedForm()), \
            422 if request.method == "POST" else 200
    try:
        uploads = attachments.accept(request.files.getlist("attachments"), current_app.config)
    except ServiceError as exc:
        return render_template("portal/new_ticket.html", form=form, served=SelfServedForm(),
                               upload_error=exc.message), 422
    account = me()
    opened = tickets.open_ticket(db.session, name=account.customer.name, email=account.customer.email,
                                 subject=form.subject.data or "", description=form.description.data or "",
                                 channel="web_form", actor=f"customer:{account.customer_id}")
    if form.category.data and form.category.data != opened.ticket.category:
        opened.ticket.category = form.category.data  # the customer's own choice beats the triage guess
    # the description is also the thread's first message (as for an e-mail): agents read it there,
    # and the files go with it
    tickets.customer_message(db.session, opened.ticket, form.description.data or "", uploads)
    db.session.commit()
    flash(f"Ticket {opened.ticket.number} is open. We will answer here and by e-mail.", "success")
    return redirect(url_for("portal.ticket", number=opened.ticket.number), code=303)


@bp.post("/tickets/new/self-served")
@customer_required
def self_served() -> Any:
    """"This answered my question" on a suggested article: counted as self-served (dashboard)."""
    form = SelfServedForm()
    if form.validate_on_submit():
        surveys.record_outcome(db.session, f"portal:{me().customer_id}:{secrets.token_hex(4)}", "self_served",
                               form.question.data or "", form.article_id.data)
        db.session.commit()
        flash("Glad that answered it! No ticket was opened.", "success")
    return redirect(url_for("portal.my_tickets"), code=303)
