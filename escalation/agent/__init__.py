"""The agent console: my tickets, presence, the conversation with its transcript, canned
responses, reply and resolve."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from .. import problems, tickets
from .. import queue as ticket_queue
from ..auth import role_required, safe_next
from ..consoles import act, chosen_agent
from ..customers import customer_history
from ..dashboard import NO_FIGURES
from ..db import db
from ..errors import ServiceError
from ..event_streams import event_stream
from ..figure_snapshots import AGENT_FIGURES_DAYS, page_snapshot
from ..lifecycle import OPEN_STATUSES, allowed_actions
from ..models import CHANNELS, PRIORITIES, STATUSES, Ticket, TicketEvent, User
from ..queue import MAX_PAGE, QueueFilter
from ..triage import CATEGORIES
from ..numbers import int_from

bp = Blueprint("agent", __name__, url_prefix="/agent")
FIGURES_DAYS = AGENT_FIGURES_DAYS  # "your figures": CSAT, first reply and resolution over this many days


@bp.get("/")
@role_required("agent", "admin")
def my_tickets() -> Any:
    """The agent's own tickets with the admin queue's filters (kept in the URL), next deadline first,
    and the agent's own figures (CSAT, first reply, resolution). The "Unassigned" view
    (``?assignee=none``) lists the tickets nobody has yet, with the same filters, to take one;
    any other assignee means the agent's own."""
    wanted = QueueFilter.from_args(request.args, page=int_from(request.args, "page", default=1, minimum=1,
                                                                 maximum=MAX_PAGE))
    unassigned = wanted.assignee == "none"
    rows, has_next = ticket_queue.page(db.session, wanted, assignee_id=None if unassigned else current_user.id)
    figures = page_snapshot(f"agents:{FIGURES_DAYS}")  # every agent's, live on a small desk (figure_snapshots.page_snapshot)
    mine = figures.value.get(current_user.id, NO_FIGURES)
    return render_template("agent/my_tickets.html", tickets=rows, open_statuses=OPEN_STATUSES, f=wanted,
                           statuses=STATUSES, priorities=PRIORITIES, categories=CATEGORIES, channels=CHANNELS,
                           sla_filters=ticket_queue.SLA_FILTERS, sorts=ticket_queue.SORTS, has_next=has_next,
                           per_page=ticket_queue.PAGE_SIZE, figures=mine, figures_days=FIGURES_DAYS,
                           figures_as_of=figures.as_of, unassigned=unassigned)


@bp.post("/presence")
@role_required("agent", "admin")
def presence() -> Any:
    """Online, away or offline: automatic assignment only gives tickets to online agents."""
    from ..users import PRESENCE_HELP, set_presence

    wanted = request.form.get("presence", "")

    def run() -> tuple[str, str]:
        if set_presence(db.session, current_user, wanted):
            return f"You are {wanted} now: {PRESENCE_HELP[wanted]}.", "success"
        return f"You already are {wanted}.", "info"
    return act(run, safe_next(request.form.get("next")) or url_for("agent.my_tickets"))


@bp.get("/tickets/<number>")
@role_required("agent", "admin")
def ticket(number: str) -> Any:
    from .. import canned

    item = tickets.get_by_number(db.session, number)
    last_event_id = db.session.scalar(select(func.max(TicketEvent.id)).where(TicketEvent.ticket_id == item.id)) or 0
    draft, chosen = "", int_from(request.args, "canned")
    if chosen:  # the picker without JavaScript: the chosen response, filled in, pre-fills the reply box
        try:
            draft = canned.filled(db.session, chosen, item, current_user)
        except ServiceError as exc:
            flash(exc.message, "error")
    agents = db.session.scalars(select(User).where(User.role == "agent", User.active.is_(True))
                                .order_by(User.name)).all()
    return render_template("agent/ticket.html", ticket=item, actions=allowed_actions(item.status),
                           agents=agents, history=customer_history(db.session, item),
                           live_events_url=url_for("agent.ticket_events", number=item.number),
                           last_event_id=last_event_id, draft=draft, chosen=chosen,
                           responses=canned.for_ticket(db.session, item, current_user))


def _act(number: str, action: Callable[[Ticket], str]) -> Any:
    """One use case on a ticket, in the consoles' one transaction-and-flash helper."""
    item = tickets.get_by_number(db.session, number)
    return act(lambda: action(item), url_for("agent.ticket", number=number), code=302)


@bp.post("/tickets/<number>/acknowledge")
@role_required("agent", "admin")
def acknowledge(number: str) -> Any:
    def run(item: Ticket) -> str:
        tickets.acknowledge(db.session, item, current_user)
        return "Acknowledged: the customer now sees that you have the conversation."
    return _act(number, run)


@bp.post("/tickets/<number>/reply")
@role_required("agent", "admin")
def reply(number: str) -> Any:
    from flask import current_app

    from .. import attachments

    internal = request.form.get("internal") == "1"

    def run(item: Ticket) -> str:
        uploads = attachments.accept(request.files.getlist("attachments"), current_app.config)
        tickets.reply(db.session, item, current_user, request.form.get("body", ""), internal=internal,
                      uploads=uploads)
        return "Internal note saved." if internal else "Reply sent to the customer."
    return _act(number, run)


@bp.post("/tickets/<number>/hand-off")
@role_required("agent", "admin")
def hand_off(number: str) -> Any:
    """The agent gives their ticket to a colleague or back to the queue (before a holiday, say)."""
    from ..handoffs import hand_off as give

    to = chosen_agent()

    def run(item: Ticket) -> str:
        give(db.session, item, current_user, to=to, note=request.form.get("note", ""))
        return f"{item.number} handed off to {to.name if to else 'the queue'}."
    return _act(number, run)


@bp.post("/tickets/<number>/resolve")
@role_required("agent", "admin")
def resolve(number: str) -> Any:
    def run(item: Ticket) -> str:
        # a problem ticket resolves its linked tickets too (escalation/problems.py)
        linked = problems.resolve(db.session, item, current_user, request.form.get("resolution", ""))
        return f"{item.number} resolved." + (f" With it {len(linked)} linked ticket(s)." if linked else "")
    return _act(number, run)


@bp.get("/tickets/<number>/events")
@role_required("agent", "admin")
def ticket_events(number: str) -> Any:
    """The console's live stream: every event of the ticket, internal notes included."""
    item = tickets.get_by_number(db.session, number)
    return event_stream(item.id, include_internal=True)


@bp.post("/next")
@role_required("agent")
def pick_next() -> Any:
    """Take the next ticket from the queue (skills first, then priority and age)."""
    from ..claims import pick_next as take

    try:
        item = take(db.session, current_user)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("agent.my_tickets"))
    if item is None:
        flash("The queue is empty: nothing is waiting for an agent.", "info")
        return redirect(url_for("agent.my_tickets"))
    flash(f"You took {item.number}.", "success")
    return redirect(url_for("agent.ticket", number=item.number))


@bp.post("/tickets/<number>/claim")
@role_required("agent")
def claim(number: str) -> Any:
    from ..claims import claim as take

    item = tickets.get_by_number(db.session, number)
    try:
        take(db.session, item.id, current_user)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("agent.my_tickets"))
    flash(f"You took {number}.", "success")
    return redirect(url_for("agent.ticket", number=number))


@bp.post("/tickets/<number>/publish")
@role_required("agent", "admin")
def publish(number: str) -> Any:
    """Save the fix as a KB article: stored, then indexed at once so the bot can answer it."""
    from flask import current_app

    from ..kb import index_article
    from ..publishing import publish as publish_article

    item = tickets.get_by_number(db.session, number)
    try:
        article = publish_article(db.session, item, current_user, title=request.form.get("title", ""),
                                  body=request.form.get("body", ""),
                                  audience=request.form.get("audience", "public"))
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("agent.ticket", number=number))
    index_article(current_app._get_current_object(), article)  # type: ignore[attr-defined]
    flash(f"Published “{article.title}” to the knowledge base; the assistant can answer with it now.", "success")
    return redirect(url_for("agent.ticket", number=number))


@bp.get("/attachments/<int:attachment_id>")
@role_required("agent", "admin")
def attachment(attachment_id: int) -> Any:
    """A file of a ticket's thread, as a download (never shown inline)."""
    from .. import attachments
    from ..errors import NotFound
    from ..models import Attachment

    row = db.session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound("There is no such attachment.", code="attachment_not_found")
    return attachments.download(row)


@bp.get("/kb")
@role_required("agent", "admin")
def kb_search() -> Any:
    """KB search beside the ticket: public and internal articles."""
    from ..kb import get_index

    query = request.args.get("q", "").strip()[:1000]
    number = request.args.get("ticket", "")
    hits = get_index().search(query, k=8, audience="internal").hits if query else []
    return render_template("agent/kb.html", q=query, hits=hits, number=number)
