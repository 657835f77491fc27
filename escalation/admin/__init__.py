"""The admin console: the queue, SLA state, workload and assignment."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from .. import problems, tickets
from .. import queue as ticket_queue
from ..assignment import rank_agents
from ..customers import customer_history
from ..auth import role_required
from ..dashboard import NO_FIGURES, agent_figures
from ..db import db
from ..errors import ServiceError
from ..lifecycle import DONE_STATUSES, OPEN_STATUSES
from ..models import CHANNELS, PRIORITIES, STATUSES, Ticket, User, utcnow
from ..queue import MAX_PAGE, QueueFilter
from ..triage import CATEGORIES
from ..numbers import int_from

bp = Blueprint("admin", __name__, url_prefix="/admin")

from . import desk, gaps  # noqa: E402,F401  (routes of this blueprint, by area)


COMPLETED_DAYS = 30  # the workload table's "completed" counts tickets resolved this many days back


def workload() -> list[dict[str, Any]]:
    """Per agent: ongoing and pending (open tickets now) and completed (resolved in the last
    ``COMPLETED_DAYS`` days). Counting every ticket an agent ever resolved read the whole
    (assignee_id, status) index: 160-245 ms of the queue page at 1M tickets."""
    counts: dict[int, dict[str, int]] = {}
    open_rows = db.session.execute(
        select(Ticket.assignee_id, Ticket.status, func.count())
        .where(Ticket.assignee_id.is_not(None), Ticket.status.in_(OPEN_STATUSES))
        .group_by(Ticket.assignee_id, Ticket.status)).all()
    since = utcnow() - timedelta(days=COMPLETED_DAYS)
    completed_rows = db.session.execute(
        select(Ticket.assignee_id, func.count())
        .where(Ticket.resolved_at >= since, Ticket.assignee_id.is_not(None),
               Ticket.status.in_(DONE_STATUSES))
        .group_by(Ticket.assignee_id)).all()
    for agent_id, status, count in open_rows:
        bucket = "pending" if status == "assigned" else "ongoing"
        counts.setdefault(agent_id, {"ongoing": 0, "pending": 0, "completed": 0})[bucket] += count
    for agent_id, count in completed_rows:
        counts.setdefault(agent_id, {"ongoing": 0, "pending": 0, "completed": 0})["completed"] = count
    agents = db.session.scalars(select(User).where(User.role == "agent").order_by(User.name)).all()
    figures = agent_figures(db.session, since)  # CSAT, first reply and resolution times
    return [{"agent": a, **counts.get(a.id, {"ongoing": 0, "pending": 0, "completed": 0}),
             "figures": figures.get(a.id, NO_FIGURES)} for a in agents]


@bp.get("/")
@role_required("admin")
def queue() -> Any:
    """Filters (status, priority, SLA state, category, assignee, channel, text) combine and stay
    in the URL; the default sort puts the next SLA deadline first. 200 a page (``?page=2``);
    one statement for the page whatever the filters (timed on 1M tickets by
    ``bench/bench_tickets_pg.py``)."""
    wanted = QueueFilter.from_args(request.args, page=int_from(request.args, "page", default=1, minimum=1,
                                                                     maximum=MAX_PAGE))
    rows, has_next = ticket_queue.page(db.session, wanted)
    agents = db.session.scalars(select(User).where(User.role == "agent").order_by(User.name)).all()
    return render_template("admin/queue.html", tickets=rows, f=wanted, statuses=STATUSES, priorities=PRIORITIES,
                           categories=CATEGORIES, channels=CHANNELS, sla_filters=ticket_queue.SLA_FILTERS,
                           sorts=ticket_queue.SORTS, agents=agents, workload=workload(),
                           per_page=ticket_queue.PAGE_SIZE, has_next=has_next, completed_days=COMPLETED_DAYS,
                           linked=problems.linked_counts(db.session, [t.id for t in rows]))


@bp.get("/tickets/<number>")
@role_required("admin")
def ticket(number: str) -> Any:
    item = tickets.get_by_number(db.session, number)
    agents = db.session.scalars(select(User).where(User.role == "agent", User.active.is_(True))
                                .order_by(User.name)).all()
    problem = db.session.get(Ticket, item.problem_id) if item.problem_id else None
    return render_template("admin/ticket.html", ticket=item, suggestions=rank_agents(db.session, item),
                           categories=CATEGORIES, priorities=PRIORITIES, agents=agents,
                           history=customer_history(db.session, item), problem=problem,
                           linked=problems.linked_counts(db.session, [item.id]).get(item.id, 0))


@bp.post("/tickets/<number>/problem")
@role_required("admin")
def link_problem(number: str) -> Any:
    """Link this ticket to a problem ticket: resolving the problem resolves this one too."""
    item = tickets.get_by_number(db.session, number)

    def run() -> str:
        problem = tickets.get_by_number(db.session, request.form.get("problem", ""))
        problems.link(db.session, item, problem, current_user)
        return f"{item.number} is linked to problem {problem.number}: resolving it resolves this one."
    return desk.act(run, url_for("admin.ticket", number=number), code=302)


@bp.post("/tickets/<number>/triage")
@role_required("admin")
def override_triage(number: str) -> Any:
    """The admin corrects category and priority (audited; a new priority moves the SLA targets)."""
    item = tickets.get_by_number(db.session, number)
    try:
        changes = tickets.override_triage(db.session, item, current_user, category=request.form.get("category", ""),
                                          priority=request.form.get("priority", ""))
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        if not changes:
            flash("Nothing changed: that already is the ticket's category and priority.", "info")
        else:
            said = [f"{field} {change['from']} → {change['to']}" for field, change in changes.items() if field != "sla"]
            flash(f"{item.number}: {', '.join(said)}."
                  + (" The SLA targets follow the new priority." if "priority" in changes else ""), "success")
    return redirect(url_for("admin.ticket", number=number))


@bp.post("/tickets/<number>/assign")
@role_required("admin")
def assign(number: str) -> Any:
    item = tickets.get_by_number(db.session, number)
    agent = db.session.get(User, int_from(request.form, "agent_id", default=0))
    if agent is None:
        flash("Choose an agent to assign the ticket to.", "error")
        return redirect(url_for("admin.ticket", number=number))

    def run() -> str:
        tickets.assign(db.session, item, agent, current_user)
        return f"{item.number} assigned to {agent.name}."
    return desk.act(run, url_for("admin.ticket", number=number), code=302)


@bp.get("/dashboard")
@role_required("admin")
def dashboard() -> Any:
    from .. import dashboard as figures

    data = figures.build(db.session, days=int_from(request.args, "days", default=14, minimum=1,
                                                   maximum=figures.MAX_DAYS))
    return render_template("admin/dashboard.html", d=data, opened=figures.bars(data.opened_per_day),
                           resolved=figures.bars(data.resolved_per_day),
                           comments=figures.latest_comments(db.session))


@bp.get("/outbox")
@role_required("admin")
def outbox() -> Any:
    """Outgoing e-mail: what waits, what was sent, and what failed (with the reason)."""
    from flask import current_app

    from ..mail import outbox as mail_outbox
    from ..models import OUTBOX_STATUSES

    status = request.args.get("status", "")
    status = status if status in OUTBOX_STATUSES else ""
    mails = mail_outbox.listing(db.session, status)
    return render_template("admin/outbox.html", mails=mails, numbers=mail_outbox.ticket_numbers(db.session, mails),
                           counts=mail_outbox.counts(db.session), status=status, statuses=OUTBOX_STATUSES,
                           smtp_host=current_app.config["SMTP_HOST"])


@bp.post("/outbox/<int:mail_id>/send-again")
@role_required("admin")
def outbox_send_again(mail_id: int) -> Any:
    from ..mail import outbox as mail_outbox

    try:
        mail = mail_outbox.send_again(db.session, mail_id, current_user.username)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(f"The mail to {mail.to_addr} is queued again.", "success")
    return redirect(url_for("admin.outbox", status=request.args.get("status", "")))


@bp.route("/privacy", methods=["GET", "POST"])
@role_required("admin")
def privacy() -> Any:
    """GDPR: find a customer by e-mail (a POST, so the address stays out of URLs and logs)."""
    from .. import privacy as gdpr
    from ..errors import NotFound

    email = (request.form.get("email") or "").strip().lower()
    customer, rows, error = None, [], None
    if request.method == "POST" and email:
        try:
            customer = gdpr.find_customer(db.session, email)
        except NotFound as exc:
            error = exc.message
        else:
            rows = db.session.scalars(select(Ticket).where(Ticket.customer_id == customer.id)
                                      .order_by(Ticket.id)).unique().all()
    return render_template("admin/privacy.html", email=email, customer=customer, tickets=rows, error=error)


@bp.post("/privacy/export")
@role_required("admin")
def privacy_export() -> Any:
    import json

    from flask import Response

    from .. import privacy as gdpr

    customer = gdpr.find_customer(db.session, request.form.get("email", ""))
    data = gdpr.export_customer(db.session, customer, current_user.username)
    db.session.commit()
    return Response(json.dumps(data, indent=2, ensure_ascii=False), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="customer-{customer.id}.json"'})


@bp.post("/privacy/erase")
@role_required("admin")
def privacy_erase() -> Any:
    from .. import privacy as gdpr

    email = (request.form.get("email") or "").strip().lower()
    if not email or (request.form.get("confirm") or "").strip().lower() != email:
        flash("To erase, type the customer's e-mail address again in the confirmation field.", "error")
        return redirect(url_for("admin.privacy"), code=303)
    customer = gdpr.find_customer(db.session, email)
    result = gdpr.erase_customer(db.session, customer, current_user.username)
    db.session.commit()
    flash(f"Customer {result['customer_id']} erased: {len(result['tickets'])} ticket(s) kept, anonymised.", "success")
    return redirect(url_for("admin.privacy"), code=303)


@bp.get("/mail-templates")
@role_required("admin")
def mail_templates() -> Any:
    """The outgoing mails' templates: which are the admin's own and which the shipped files."""
    from ..mail import templates_store

    return render_template("admin/mail_templates.html", templates=templates_store.listing(db.session))


def _mail_template_form(name: str, sources: Any, *, errors: dict[str, str] | None = None,
                        preview: Any = None, status: int = 200) -> Any:
    from ..mail import templates_store

    label, audience = templates_store.TEMPLATES[name]
    return render_template("admin/mail_template_edit.html", name=name, label=label, audience=audience,
                           sources=sources, errors=errors or {}, preview=preview,
                           row=templates_store.stored(db.session, name), parts=templates_store.PART_LABELS,
                           variables=templates_store.VARIABLES[name]), status


@bp.route("/mail-templates/<name>", methods=["GET", "POST"])
@role_required("admin")
def mail_template(name: str) -> Any:
    """Edit one template; "Preview" renders the form's text with a sample ticket, "Save" stores it."""
    from flask import abort

    from ..mail import templates_store

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
    from flask import abort

    from ..mail import templates_store

    if name not in templates_store.TEMPLATES:
        abort(404)
    if templates_store.reset(db.session, name, current_user.username):
        db.session.commit()
        flash(f"The {templates_store.TEMPLATES[name][0].lower()} template is back to the default.", "success")
    else:
        flash("This template already is the default.", "success")
    return redirect(url_for("admin.mail_template", name=name), code=303)


# --- canned responses ----------------------------------------------------------------------

def _canned_page(draft: Any = None, *, editing: Any = None, errors: dict[str, str] | None = None,
                 status: int = 200) -> Any:
    from .. import canned
    from ..triage import CATEGORIES

    template = "admin/canned_edit.html" if editing is not None else "admin/canned.html"
    return render_template(template, responses=canned.listing(db.session), draft=draft, editing=editing,
                           errors=errors or {}, categories=CATEGORIES, placeholders=canned.PLACEHOLDERS), status


def _canned_draft() -> Any:
    from .. import canned

    return canned.Draft.of(request.form.get("title", ""), request.form.get("body", ""),
                           request.form.get("category", ""))


@bp.route("/canned", methods=["GET", "POST"])
@role_required("admin")
def canned() -> Any:
    """The saved replies agents insert into the reply box: the list, and a form for a new one."""
    from .. import canned as responses

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
    from .. import canned as responses

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
    from .. import canned as responses

    title = responses.delete(db.session, response_id, current_user.username)
    db.session.commit()
    flash(f"“{title}” is deleted. Replies already sent with it are not affected.", "success")
    return redirect(url_for("admin.canned"), code=303)


# --- desk settings -------------------------------------------------------------------------

@bp.app_template_global("desk_setting")
def desk_setting(key: str) -> Any:
    """A desk setting's current value, for templates (the queue shows automatic assignment)."""
    from .. import desk_settings

    return desk_settings.get(db.session, key)


@bp.route("/settings", methods=["GET", "POST"])
@role_required("admin")
def settings() -> Any:
    """Help-desk switches: automatic assignment of new tickets."""
    from .. import desk_settings

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

from . import notifications, on_behalf  # noqa: E402,F401  (their routes register on bp)
