"""Mail templates the admin can edit: stored in ``mail_templates``, else the shipped files.

Every mail template — stored or shipped — is rendered in a Jinja *sandbox*
(:class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`, :class:`~jinja2.StrictUndefined`):
the HTML part with autoescape, subject and text without. Templates never see ORM objects,
only read-only snapshots holding the variables listed in :data:`VARIABLES`, so an edited
template cannot reach password hashes, tracking tokens or mutate anything.

A template is checked when it is saved (:func:`validate`): it must compile and render
against a sample ticket; the error names the part and the line. At send time a stored
template that still fails (data the sample did not have) falls back to the shipped file
and is logged, so a ticket change never fails because of a template.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from jinja2 import FileSystemLoader, PrefixLoader, StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit
from ..models import MailTemplate, Message, Ticket, User, utcnow

log = logging.getLogger(__name__)

REPLY_MARKER = "##- Please type your reply above this line -##"  # the reply e-mails cut the quoted text here

MAIL_DIR = Path(__file__).resolve().parent.parent / "templates" / "mail"

# name -> (label, who receives it)
TEMPLATES: dict[str, tuple[str, str]] = {
    "acknowledgement": ("Acknowledgement", "the customer, for every new ticket"),
    "assigned": ("Assignment notice", "the agent a ticket is assigned to"),
    "allocated": ("Agent allocated", "the customer, when an agent takes their ticket"),
    "agent_reply": ("Agent reply", "the customer: each reply on an e-mail ticket, the chat replies they did not "
                    "see live (several in one mail)"),
    "resolved": ("Resolved notice", "the customer, with the one-click ratings"),
    "reopened": ("Reopened notice", "the customer, when their message reopens a resolved ticket"),
    "attachment_refused": ("Files not accepted", "the customer, when their reply by e-mail carried files we "
                           "refused (sent whatever their preference: it answers their own mail)"),
    "close_warning": ("Auto-close warning", "the customer, CARE_AUTO_CLOSE_NOTICE_DAYS before the auto-close"),
    "closed": ("Closed notice", "the customer, when the worker closes their resolved ticket"),
    "sla_notice": ("SLA notice", "every admin, once when a ticket becomes at risk or breached"),
    "new_ticket": ("New ticket alert", "each admin who chose an alert for each new ticket"),
    "ticket_digest": ("New tickets digest", "each admin who chose a digest, every N minutes with new tickets"),
}

PARTS = ("subject", "text", "html")
PART_LABELS = {"subject": "Subject", "text": "Text body", "html": "HTML body"}
FILE_SUFFIX = {"subject": ".subject.txt", "text": ".txt", "html": ".html"}
MAX_LENGTH = {"subject": 1_000, "text": 50_000, "html": 100_000}

_COMMON = {
    "ticket.number": "the ticket number, e.g. CR-10042",
    "ticket.subject": "the ticket's subject (customer text)",
    "ticket.status": "new, assigned, …, resolved, closed",
    "ticket.priority": "low, normal, high or urgent",
    "ticket.category": "the triage category",
    "ticket.channel": "web_chat or email",
    "ticket.customer.name": "the customer's name (may be empty)",
    "ticket.customer.email": "the customer's e-mail address",
    "customer_name": "the customer's name, or \"there\"",
    "tracking_url": "the public page to follow the ticket",
    "survey_url": "where the customer rates the support",
    "public_url": "the site's address",
    "support_name": "the support team's name (From)",
    "reply_marker": "the line above which customers reply",
    "show_marker": "true when the reply marker should be shown",
}
_CUSTOMER = {**_COMMON, "unsubscribe_url": "the one-click unsubscribe / preferences page"}
VARIABLES: dict[str, dict[str, str]] = {
    "acknowledgement": {**_CUSTOMER, "expected_wait": "when to expect a first reply (may be empty)",
                        "refused": "files of the customer's mail not accepted (name, reason); may be empty",
                        "portal_url": "the ticket's page in the customer portal",
                        "attachment_limits": "the file types and size accepted, in words"},
    "attachment_refused": {**_COMMON, "refused": "files of the customer's reply not accepted (name, reason)",
                           "portal_url": "the ticket's page in the customer portal",
                           "attachment_limits": "the file types and size accepted, in words"},
    "resolved": {**_CUSTOMER, "rating_links": "the one-click ratings: each has rating (5..1), label and url"},
    "allocated": {**_CUSTOMER, "agent.name": "the agent's name", "agent_first_name": "the agent's first name"},
    "reopened": {**_CUSTOMER, "agent_name": "the assigned agent's name (may be empty)"},
    "close_warning": {**_CUSTOMER, "closes_on": "the day the ticket closes, e.g. Monday 07 December 2026"},
    "closed": _CUSTOMER,
    "assigned": {**_COMMON, "agent.name": "the agent's name", "agent.username": "the agent's user name",
                 "agent.email": "the agent's e-mail address",
                 "assigned_by": "who assigned it (empty when the agent took it)",
                 "console_url": "the ticket in the agent console"},
    "agent_reply": {**_CUSTOMER, "message.body": "the (latest) agent's reply (text)",
                    "message.author_name": "the agent's name",
                    "messages": "every reply in this mail (chat replies not seen live), each with body and author_name",
                    "attachments": "the replies' files (name, size); may be empty",
                    "attached": "true when the files are attached, false when too large (then linked)",
                    "portal_url": "the ticket's page in the customer portal"},
    "sla_notice": {**_COMMON, "admin.name": "the admin's name", "admin.username": "the admin's user name",
                   "admin.email": "the admin's e-mail address",
                   "sla_state": "\"at risk\" or \"breached\"", "previous_state": "the state before, e.g. \"on time\"",
                   "breached": "true when the target is missed", "clock_label": "\"first response\" or \"resolution\"",
                   "due": "when the target is (was) due, e.g. 2026-11-23 14:00 UTC",
                   "assignee_name": "the assigned agent's name (empty when nobody)",
                   "console_url": "the ticket in the admin console"},
    "new_ticket": {**_COMMON, "admin.name": "the admin's name", "console_url": "the ticket in the admin console",
                   "settings_url": "where the admin changes these alerts"},
    "ticket_digest": {"admin.name": "the admin's name", "count": "how many tickets were opened",
                      "tickets": "the tickets (number, subject, priority, category, …), at most 100",
                      "since": "start of the period, e.g. 14:00", "until": "its end, e.g. 14:15 UTC",
                      "minutes": "the admin's digest interval", "queue_url": "the admin queue",
                      "public_url": "the site's address", "settings_url": "where the admin changes these alerts",
                      "support_name": "the support team's name", "show_marker": "false"},
}


class TemplateRefused(ValueError):
    """A template that does not compile or render; ``errors`` maps part -> message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{PART_LABELS[p]}: {m}" for p, m in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Sources:
    subject: str
    text: str
    html: str

    def get(self, part: str) -> str:
        return str(getattr(self, part))


def _environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    # only the mail folder can be extended/included ("mail/_layout.html"), nothing else
    return ImmutableSandboxedEnvironment(loader=PrefixLoader({"mail": FileSystemLoader(str(MAIL_DIR))}),
                                         autoescape=autoescape, undefined=StrictUndefined, auto_reload=True)


TEXT_ENV = _environment(False)
HTML_ENV = _environment(True)


def _env(part: str) -> ImmutableSandboxedEnvironment:
    return HTML_ENV if part == "html" else TEXT_ENV


def check_name(name: str) -> str:
    if name not in TEMPLATES:
        raise KeyError(name)
    return name


def shipped(name: str) -> Sources:
    check_name(name)
    return Sources(**{p: (MAIL_DIR / f"{name}{FILE_SUFFIX[p]}").read_text(encoding="utf-8") for p in PARTS})


def stored(session: Session, name: str) -> MailTemplate | None:
    return session.get(MailTemplate, check_name(name))


def effective(session: Session, name: str) -> Sources:
    row = stored(session, name)
    if row is None:
        return shipped(name)
    return Sources(subject=row.subject, text=row.body_text, html=row.body_html)


# --- the data a template sees ------------------------------------------------------------

def _ticket(ticket: Ticket) -> SimpleNamespace:
    customer = ticket.customer
    return SimpleNamespace(number=ticket.number, subject=ticket.subject, status=ticket.status,
                           priority=ticket.priority, category=ticket.category, channel=ticket.channel,
                           customer=SimpleNamespace(name=customer.name if customer else "",
                                                    email=customer.email if customer else ""))


def snapshot(context: dict[str, Any]) -> dict[str, Any]:
    """Plain read-only values in place of the ORM objects notify.py passes."""
    out: dict[str, Any] = {}
    for key, value in context.items():
        if isinstance(value, (list, tuple)):
            value = tuple(snapshot({"v": v}).get("v") for v in value)
        elif isinstance(value, dict):
            value = SimpleNamespace(**snapshot(value))
        elif isinstance(value, Ticket):
            value = _ticket(value)
        elif isinstance(value, User):
            value = SimpleNamespace(name=value.name, username=value.username, email=value.email)
        elif isinstance(value, Message):
            value = SimpleNamespace(body=value.body, author_name=value.author_name)
        elif not isinstance(value, (str, int, float, bool, type(None), SimpleNamespace, tuple)):
            continue  # nothing else reaches a template
        out[key] = value
    return out


def sample_context(name: str) -> dict[str, Any]:
    """A sample ticket for previews and for the check on save (with text that needs escaping)."""
    number = "CR-10042"
    tracking = f"https://care.example.com/track?number={number}"
    ticket = SimpleNamespace(number=number, subject="Can't sign in after the <update> & reset", status="new",
                             priority="normal", category="account", channel="email",
                             customer=SimpleNamespace(name="Laura Smith", email="laura@example.com"))
    context: dict[str, Any] = {
        "ticket": ticket, "customer_name": "Laura Smith", "public_url": "https://care.example.com",
        "tracking_url": tracking, "survey_url": tracking, "support_name": "Customer Care",
        "show_marker": True, "reply_marker": REPLY_MARKER,
        "unsubscribe_url": "https://care.example.com/mail/unsubscribe/sample-token",
    }
    if name == "assigned":
        context.update(agent=SimpleNamespace(name="Tim Agent", username="tim", email="tim@support.example.com"),
                       assigned_by="kim", show_marker=False,
                       console_url=f"https://care.example.com/agent/tickets/{number}")
    if name == "sla_notice":
        context.update(admin=SimpleNamespace(name="Kim Admin", username="kim", email="kim@support.example.com"),
                       sla_state="at risk", previous_state="on time", breached=False, clock_label="first response",
                       due="2026-11-23 14:00 UTC", assignee_name="Tim <Agent>", show_marker=False,
                       console_url=f"https://care.example.com/admin/tickets/{number}")
    portal = f"https://care.example.com/portal/tickets/{number}"
    if name == "agent_reply":
        context["message"] = SimpleNamespace(body="Please try signing in again.\nIt should work <now>.",
                                             author_name="Tim Agent")
        context["messages"] = (SimpleNamespace(body="Let me check <that>.", author_name="Tim Agent"),
                               context["message"])
        # linked rather than attached, so that a preview shows every variable (portal_url too)
        context.update(attachments=(SimpleNamespace(name="invoice <march>.pdf", size="2.4 MB"),
                                    SimpleNamespace(name="screenshot.png", size="380 KB")),
                       attached=False, portal_url=portal)
    if name in ("acknowledgement", "attachment_refused"):
        context.update(refused=(SimpleNamespace(name="setup <v2>.exe",
                                                reason="we take only .csv, .log, .pdf, .png, .txt files."),),
                       portal_url=portal, attachment_limits=".csv, .log, .pdf, .png, .txt files up to 10 MB each")
    if name == "acknowledgement":
        context["expected_wait"] = "Expect a first reply within about 2 hours: 3 requests are ahead of yours."
    if name == "allocated":
        context.update(agent=SimpleNamespace(name="Tim Agent", username="tim", email="tim@support.example.com"),
                       agent_first_name="Tim")
    if name == "resolved":
        context["rating_links"] = tuple(SimpleNamespace(rating=r, label=label, url=f"{tracking}&rate={r}")
                                        for r, label in ((5, "Great"), (4, "Good"), (3, "Okay"), (2, "Poor"),
                                                         (1, "Bad")))
    if name == "reopened":
        context["agent_name"] = "Tim Agent"
    if name in ("new_ticket", "ticket_digest"):
        context.update(admin=SimpleNamespace(name="Kim Admin", username="kim", email="kim@support.example.com"),
                       show_marker=False, console_url=f"https://care.example.com/admin/tickets/{number}",
                       settings_url="https://care.example.com/admin/notifications",
                       queue_url="https://care.example.com/admin/")
    if name == "ticket_digest":
        context.update(tickets=(ticket, ticket), count=3, since="14:00", until="14:15 UTC", minutes=15)
        del context["ticket"]
    if name == "close_warning":
        context["closes_on"] = "Monday 07 December 2026"
    return context


# --- compile, check, render --------------------------------------------------------------

def _line_of(exc: BaseException) -> int | None:
    """The template line an error happened on (Jinja rewrites tracebacks to template lines)."""
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _describe(exc: BaseException) -> str:
    line = _line_of(exc)
    kind = "syntax error" if isinstance(exc, TemplateSyntaxError) else "cannot render"
    detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"line {line}: {kind}: {detail}" if line else f"{kind}: {detail}"


def _render_source(part: str, source: str, context: dict[str, Any]) -> str:
    return _env(part).from_string(source).render(context)


def _render_shipped(name: str, part: str, context: dict[str, Any]) -> str:
    return _env(part).get_template(f"mail/{name}{FILE_SUFFIX[part]}").render(context)


def validate(name: str, sources: Sources) -> dict[str, str]:
    """Render each part against the sample ticket: {} when fine, else part -> "line N: …"."""
    check_name(name)
    errors: dict[str, str] = {}
    context = sample_context(name)
    for part in PARTS:
        source = sources.get(part)
        if len(source) > MAX_LENGTH[part]:
            errors[part] = f"too long ({len(source)} characters, at most {MAX_LENGTH[part]})"
            continue
        try:
            output = _render_source(part, source, context)
        except Exception as exc:  # noqa: BLE001 - any failure is the template's, shown to the admin
            errors[part] = _describe(exc)
            continue
        if part == "subject" and not output.strip():
            errors[part] = "the subject must not be empty"
    return errors


def render_sources(name: str, sources: Sources, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) of ``sources``; raises :class:`TemplateRefused` on failure."""
    errors = validate(name, sources)
    if errors:
        raise TemplateRefused(errors)
    context = snapshot(context)
    return tuple(_render_source(p, sources.get(p), context) for p in PARTS)  # type: ignore[return-value]


def render_mail(name: str, context: dict[str, Any], session: Session | None = None) -> tuple[str, str, str]:
    """(subject, text, html) for a mail: the admin's version when one is saved, else the files."""
    context = snapshot(context)
    if session is None:
        from ..db import db

        session = db.session
    row = stored(session, name)
    if row is not None:
        try:
            return (_render_source("subject", row.subject, context), _render_source("text", row.body_text, context),
                    _render_source("html", row.body_html, context))
        except Exception:  # noqa: BLE001 - checked on save; never let a template break a ticket change
            log.exception("mail template %r failed to render; using the shipped one", name)
    return tuple(_render_shipped(name, p, context) for p in PARTS)  # type: ignore[return-value]


# --- saving ------------------------------------------------------------------------------

def save(session: Session, name: str, sources: Sources, actor: str) -> MailTemplate:
    """Store the admin's version after checking it; audited with what changed."""
    errors = validate(name, sources)
    if errors:
        raise TemplateRefused(errors)
    before = effective(session, name)
    changed = [p for p in PARTS if before.get(p) != sources.get(p)]
    row = stored(session, name)
    if row is None:
        row = MailTemplate(name=name)
        session.add(row)
    row.subject, row.body_text, row.body_html = sources.subject, sources.text, sources.html
    row.updated_at, row.updated_by = utcnow(), actor
    audit.record(session, None, actor, "mail_template_save", template=name, changed=changed,
                 previous={p: before.get(p) for p in changed})
    session.flush()
    return row


def reset(session: Session, name: str, actor: str) -> bool:
    """Back to the shipped file; False when there was no saved version."""
    row = stored(session, name)
    if row is None:
        return False
    previous = {"subject": row.subject, "text": row.body_text, "html": row.body_html}
    session.delete(row)
    audit.record(session, None, actor, "mail_template_reset", template=name, previous=previous)
    session.flush()
    return True


def listing(session: Session) -> list[dict[str, Any]]:
    rows = {r.name: r for r in session.scalars(select(MailTemplate))}
    return [{"name": n, "label": label, "audience": audience, "row": rows.get(n)}
            for n, (label, audience) in TEMPLATES.items()]
