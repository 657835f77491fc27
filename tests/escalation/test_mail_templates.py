"""/admin/mail-templates: admins edit the outgoing mails; checked on save, sandboxed, resettable."""
from __future__ import annotations

import pytest
from jinja2 import meta
from markupsafe import escape
from jinja2.exceptions import SecurityError
from sqlalchemy import select

from escalation import attachments, tickets
from escalation.db import db
from escalation.mail import inbound, templates_store
from escalation.models import AuditEntry, MailTemplate, OutboxMail
from escalation.worker import run_pass

from .conftest import DEMO_PASSWORD
from .mail_servers import smtp_server  # noqa: F401  (fixture)
from .test_mail_files import EXE, PDF, agent_reply_with, mail_with

URL = "/admin/mail-templates/acknowledgement"


def form(app, **changes: str) -> dict[str, str]:
    with app.app_context():
        current = templates_store.effective(db.session, "acknowledgement")
    return {"subject": current.subject, "text": current.text, "html": current.html, "action": "save", **changes}


def acknowledgements(app) -> list[OutboxMail]:
    with app.app_context():
        return list(db.session.scalars(select(OutboxMail).where(OutboxMail.kind == "acknowledgement")
                                       .order_by(OutboxMail.id)))


def open_ticket(app, **kwargs: str) -> None:
    with app.app_context():
        tickets.open_ticket(db.session, **{"name": "Laura", "email": "laura@example.com", "subject": "Hi", **kwargs})
        db.session.commit()


def test_an_edited_template_is_used_for_the_next_acknowledgement(app, client, auth, smtp_server):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, SMTP_SECURITY="none")
    auth.login()
    response = client.post(URL, data=form(
        app, subject="Got it: {{ ticket.number }}",
        text="Dear {{ customer_name }}, ticket {{ ticket.number }} is in. Follow it: {{ tracking_url }}",
        html="<p>Dear {{ customer_name }}, we have <em>{{ ticket.subject }}</em>.</p>"), follow_redirects=True)
    assert response.status_code == 200 and "is saved" in response.get_data(as_text=True)
    open_ticket(app, subject="Printer on fire")
    assert run_pass(app, "w1")["mail_sent"] == 1
    [arrived] = smtp_server.wait_for(1)
    [row] = acknowledgements(app)
    assert arrived.message["Subject"] == f"Got it: {row.subject.split()[-1]}" and row.subject.startswith("Got it: CR-")
    text = arrived.message.get_body(("plain",)).get_content()
    html = arrived.message.get_body(("html",)).get_content()
    assert text.startswith("Dear Laura, ticket CR-") and "http://care.test/track?number=CR-" in text
    assert "<p>Dear Laura, we have <em>Printer on fire</em>.</p>" in html
    with app.app_context():
        saved = db.session.get(MailTemplate, "acknowledgement")
        assert saved.updated_by == "kim"
        [audit] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "mail_template_save")).all()
        assert (audit.ticket_id, audit.actor, audit.details["template"]) == (None, "kim", "acknowledgement")
        assert sorted(audit.details["changed"]) == ["html", "subject", "text"]
        assert "We received your request" in audit.details["previous"]["subject"]


@pytest.mark.parametrize("part, source, expected", [
    ("text", "Hello\n{{ customer_name }}\n{% if %}\n", "line 3: syntax error"),
    ("html", "<p>ok</p>\n<p>{{ ticket.number }}</p>\n<p>{{ ticket.nmuber }}</p>", "line 3: cannot render"),
    ("subject", "{{ no_such_variable }}", "line 1: cannot render: &#39;no_such_variable&#39; is undefined"),
    ("text", "{% for x in %}", "line 1: syntax error"),
])
def test_a_broken_template_is_refused_at_save_naming_the_line(app, client, auth, part, source, expected):
    auth.login()
    response = client.post(URL, data=form(app, **{part: source}))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "was not saved" in page and expected in page
    assert f'data-testid="error-{part}"' in page
    with app.app_context():
        assert db.session.get(MailTemplate, "acknowledgement") is None
    open_ticket(app)  # mail still goes out, from the shipped file
    [ack] = acknowledgements(app)
    assert "We received your request" in ack.subject


def test_validate_reports_the_part_and_line():
    sources = templates_store.Sources(subject="ok", text="a\nb\n{{ ticket.number", html="<p></p>")
    errors = templates_store.validate("acknowledgement", sources)
    assert list(errors) == ["text"] and errors["text"].startswith("line 3: syntax error")


def test_variables_are_escaped_in_the_html_part_only(app, client, auth):
    auth.login()
    client.post(URL, data=form(app, subject="[{{ ticket.number }}] {{ ticket.subject }}",
                               text="{{ ticket.subject }} / {{ customer_name }}",
                               html="<h1>{{ ticket.subject }}</h1><p>{{ customer_name }}</p>"))
    open_ticket(app, name="<b>Eve</b>", subject="<script>alert(1)</script> & more")
    [ack] = acknowledgements(app)
    assert "<script>" not in ack.body_html
    assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt; &amp; more</h1>" in ack.body_html
    assert "<p>&lt;b&gt;Eve&lt;/b&gt;</p>" in ack.body_html
    assert ack.body_text.strip() == "<script>alert(1)</script> & more / <b>Eve</b>"
    assert ack.subject.endswith("] <script>alert(1)</script> & more")


@pytest.mark.parametrize("source", [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ticket.__dict__ }}",
    "{{ cycler.__init__.__globals__ }}",
])
def test_the_sandbox_blocks_attribute_access(app, client, auth, source):
    auth.login()
    response = client.post(URL, data=form(app, text=source))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'data-testid="error-text"' in page and "line 1" in page
    assert "&lt;class" not in page
    with app.app_context():
        assert db.session.get(MailTemplate, "acknowledgement") is None
    context = templates_store.sample_context("acknowledgement")
    with pytest.raises(Exception) as caught:
        templates_store.TEXT_ENV.from_string(source).render(context)
    assert isinstance(caught.value, SecurityError) or "undefined" in str(caught.value)
    if source == "{{ ''.__class__ }}":
        assert isinstance(caught.value, SecurityError) and "unsafe" in str(caught.value)


def test_templates_see_no_orm_objects(app):
    """No password hashes, tracking tokens or methods: only the listed variables."""
    with app.app_context():
        t = tickets.open_ticket(db.session, name="Laura", email="laura@example.com", subject="Hi").ticket
        context = templates_store.snapshot({"ticket": t, "x": object()})
        assert "x" not in context and not hasattr(context["ticket"], "token_hash")
        with pytest.raises(Exception, match="token_hash"):
            templates_store.TEXT_ENV.from_string("{{ ticket.token_hash }}").render(context)


def test_reset_restores_the_shipped_file(app, client, auth):
    auth.login()
    client.post(URL, data=form(app, subject="Custom {{ ticket.number }}"))
    open_ticket(app)
    response = client.post(f"{URL}/reset", follow_redirects=True)
    assert "back to the default" in response.get_data(as_text=True)
    open_ticket(app)
    first, second = acknowledgements(app)
    assert first.subject.startswith("Custom CR-")
    assert second.subject == f"[{second.subject[1:9]}] We received your request"
    with app.app_context():
        assert db.session.get(MailTemplate, "acknowledgement") is None
        shipped = templates_store.shipped("acknowledgement")
        assert templates_store.effective(db.session, "acknowledgement") == shipped
        [audit] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "mail_template_reset")).all()
        assert audit.actor == "kim" and audit.details["previous"]["subject"] == "Custom {{ ticket.number }}"
    page = client.get(URL).get_data(as_text=True)
    assert "This is the shipped default" in page and 'data-testid="reset"' not in page


def test_preview_renders_the_form_with_a_sample_ticket_without_saving(app, client, auth):
    auth.login()
    response = client.post(URL, data=form(app, action="preview", subject="Preview {{ ticket.number }}",
                                          html="<p>{{ ticket.subject }}</p>"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-testid="preview-result"' in page
    assert "Preview CR-10042" in page
    # the sample subject is escaped by the mail sandbox, then again for the srcdoc attribute
    assert 'srcdoc="&lt;p&gt;Can&amp;#39;t sign in after the &amp;lt;update&amp;gt; &amp;amp; reset&lt;/p&gt;"' in page
    assert 'sandbox=""' in page
    with app.app_context():
        assert db.session.get(MailTemplate, "acknowledgement") is None


def test_the_console_lists_templates_and_variables(app, client, auth):
    auth.login()
    listing = client.get("/admin/mail-templates").get_data(as_text=True)
    for name in ("acknowledgement", "assigned", "agent_reply", "resolved"):
        assert f'href="/admin/mail-templates/{name}"' in listing
    assert 'href="/admin/mail-templates"' in listing  # the nav link
    page = client.get("/admin/mail-templates/agent_reply").get_data(as_text=True)
    assert "message.body" in page and "tracking_url" in page and 'name="csrf_token"' in page
    assert client.get("/admin/mail-templates/nope").status_code == 404


def test_every_shipped_template_passes_its_own_check():
    for name in templates_store.TEMPLATES:
        assert templates_store.validate(name, templates_store.shipped(name)) == {}


def test_agents_get_403(client, auth):
    assert client.get("/admin/mail-templates").status_code == 302  # to the login page
    auth.login("tim", DEMO_PASSWORD)
    assert client.get("/admin/mail-templates").status_code == 403
    assert client.get(URL).status_code == 403
    assert client.post(URL, data={"subject": "x", "text": "x", "html": "x"}).status_code == 403
    assert client.post(f"{URL}/reset").status_code == 403


def test_the_forms_need_a_csrf_token(app, client, auth):
    auth.login()
    assert client.get(URL).status_code == 200
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post(URL, data=form(app)).status_code == 400
    assert client.post(f"{URL}/reset").status_code == 400


# --- every variable a notification passes can be used by an edited template --------------

# what the shared layout uses only under "is defined" (a digest has no ticket, admins no unsubscribe)
LAYOUT_OPTIONAL = {"ticket", "unsubscribe_url"}


def used_variables(name: str, part: str) -> set[str]:
    """The top-level variables a shipped part uses, with the files it extends or includes."""
    env = templates_store.HTML_ENV if part == "html" else templates_store.TEXT_ENV
    used: set[str] = set()
    pending = [templates_store.shipped(name).get(part)]
    while pending:
        ast = env.parse(pending.pop())
        used |= meta.find_undeclared_variables(ast)
        for reference in meta.find_referenced_templates(ast):
            source = (templates_store.MAIL_DIR / reference.removeprefix("mail/")).read_text(encoding="utf-8")
            if reference.endswith("_layout.html"):
                used |= meta.find_undeclared_variables(env.parse(source)) - LAYOUT_OPTIONAL - {"self"}
            else:
                pending.append(source)
    return used - {"self"}


@pytest.mark.parametrize("name", list(templates_store.TEMPLATES))
def test_the_sample_and_the_docs_offer_every_variable_the_shipped_template_uses(name):
    used = set().union(*(used_variables(name, part) for part in templates_store.PARTS))
    documented = {v.split(".")[0] for v in templates_store.VARIABLES[name]}
    assert used - {"reply_marker"} <= documented  # reply_marker: render() adds it to every mail
    assert used <= set(templates_store.sample_context(name))
    assert documented <= set(templates_store.sample_context(name))


@pytest.mark.parametrize("name, shown", [
    ("acknowledgement", ["setup <v2>.exe", "we take only .csv", "files up to 10 MB each",
                         "https://care.example.com/portal/tickets/CR-10042"]),
    ("agent_reply", ["invoice <march>.pdf (2.4 MB)", "screenshot.png", "too large together",
                     "https://care.example.com/portal/tickets/CR-10042"]),
    ("attachment_refused", ["setup <v2>.exe", "we take only .csv", "files up to 10 MB each",
                            "https://care.example.com/portal/tickets/CR-10042"]),
])
def test_the_preview_of_the_shipped_template_shows_the_files(app, client, auth, name, shown):
    """The refused files of the acknowledgement, the files of a reply: shown, not blanks or an error."""
    auth.login()
    with app.app_context():
        shipped = templates_store.shipped(name)
    response = client.post(f"/admin/mail-templates/{name}", data={
        "subject": shipped.subject, "text": shipped.text, "html": shipped.html, "action": "preview"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-testid="preview-result"' in page
    text = page.split("<h3>Text</h3>", 1)[1].split("<h3>HTML</h3>", 1)[0]
    source = page.split("<summary>HTML source</summary>", 1)[1]
    for fragment in shown:
        assert str(escape(fragment)) in text  # the text part, escaped once by the console page
        assert str(escape(str(escape(fragment)))) in source  # the HTML part escapes it, the console page again


def test_an_edited_acknowledgement_names_the_refused_files_escaped(app, client, auth, smtp_server):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, SMTP_SECURITY="none")
    auth.login()
    response = client.post(URL, data=form(
        app, text="{{ ticket.number }}: refused {% for r in refused %}[{{ r.name }}: {{ r.reason }}]{% endfor %}"
                  " add them at {{ portal_url }} ({{ attachment_limits }})",
        html="<ul>{% for r in refused %}<li>{{ r.name }}</li>{% endfor %}</ul>"
             "<a href=\"{{ portal_url }}\">portal</a> {{ attachment_limits }}"), follow_redirects=True)
    assert response.status_code == 200 and "is saved" in response.get_data(as_text=True)
    with app.app_context():
        number = inbound.receive_and_commit(db.session, mail_with([("<img src=x>.exe", EXE,
                                                                     "application/octet-stream")])).number
    sent = run_pass(app, "w1")["mail_sent"]
    [arrived] = [m for m in smtp_server.wait_for(sent) if m.rcpt_tos == ["laura@example.com"]]
    text = arrived.message.get_body(("plain",)).get_content()
    html = arrived.message.get_body(("html",)).get_content()
    assert text.startswith(f"{number}: refused [<img src=x>.exe: we take only ")
    assert f"add them at http://care.test/portal/tickets/{number} (" in text and "MB each)" in text
    assert "<li>&lt;img src=x&gt;.exe</li>" in html and "<img" not in html
    assert f'<a href="http://care.test/portal/tickets/{number}">portal</a>' in html


def test_an_edited_refused_files_notice_answers_a_reply_by_mail_escaped(app, client, auth, smtp_server):
    """The notice to a customer's reply whose files were refused is edited like the other mails."""
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, SMTP_SECURITY="none")
    auth.login()
    response = client.post("/admin/mail-templates/attachment_refused", data={
        "action": "save", "subject": "{{ ticket.number }}: {{ refused|length }} file(s) refused",
        "text": "{% for r in refused %}[{{ r.name }}: {{ r.reason }}]{% endfor %} add them at {{ portal_url }}",
        "html": "<ul>{% for r in refused %}<li>{{ r.name }}</li>{% endfor %}</ul>"
                "<a href=\"{{ portal_url }}\">portal</a> {{ attachment_limits }}"}, follow_redirects=True)
    assert response.status_code == 200 and "is saved" in response.get_data(as_text=True)
    with app.app_context():
        number = inbound.receive_and_commit(db.session, mail_with([])).number
        reply = mail_with([("<img src=x>.exe", EXE, "application/octet-stream")], subject=f"Re: [{number}] Broken",
                          message_id="<laura-refused-2@mail.example.com>")
        assert inbound.receive_and_commit(db.session, reply).outcome == "appended"
    sent = run_pass(app, "w1")["mail_sent"]
    [arrived] = [m for m in smtp_server.wait_for(sent) if "refused" in m.message["Subject"]]
    assert arrived.message["Subject"] == f"{number}: 1 file(s) refused"
    text = arrived.message.get_body(("plain",)).get_content()
    html = arrived.message.get_body(("html",)).get_content()
    assert text.startswith("[<img src=x>.exe: we take only ")
    assert text.rstrip().endswith(f"add them at http://care.test/portal/tickets/{number}")
    assert "<li>&lt;img src=x&gt;.exe</li>" in html and "<img" not in html and "MB each" in html
    assert f'<a href="http://care.test/portal/tickets/{number}">portal</a>' in html


@pytest.mark.parametrize("limit, said", [(None, "attached"), (len(PDF) - 1, "linked")])
def test_an_edited_agent_reply_says_whether_the_files_are_attached(app, client, auth, smtp_server, limit, said):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, SMTP_SECURITY="none")
    if limit is not None:
        app.config["MAIL_ATTACH_MAX_TOTAL"] = limit
    auth.login()
    with app.app_context():
        current = templates_store.effective(db.session, "agent_reply")
    files = "{% for a in attachments %}{{ a.name }} ({{ a.size }}) {% endfor %}"
    response = client.post("/admin/mail-templates/agent_reply", data={
        "subject": current.subject, "action": "save",
        "text": f"{{{{ message.body }}}}\n{files}{{% if attached %}}attached{{% else %}}linked: {{{{ portal_url }}}}"
                "{% endif %}",
        "html": f"<p>{files}</p>{{% if not attached %}}<a href=\"{{{{ portal_url }}}}\">portal</a>{{% endif %}}"},
        follow_redirects=True)
    assert response.status_code == 200 and "is saved" in response.get_data(as_text=True)
    with app.app_context():
        number = inbound.receive_and_commit(db.session, mail_with([])).number
        agent_reply_with(app, number, [attachments.Upload("<i>bill</i>.pdf", "application/pdf", PDF)])
    sent = run_pass(app, "w1")["mail_sent"]
    [arrived] = [m for m in smtp_server.wait_for(sent) if "replied" in m.message["Subject"]]
    text = arrived.message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = arrived.message.get_body(("html",)).get_content()
    assert "Here is the fixed invoice.\n<i>bill</i>.pdf (1 KB) " in text
    assert "<p>&lt;i&gt;bill&lt;/i&gt;.pdf (1 KB) </p>" in html
    filenames = [p.get_filename() for p in arrived.message.iter_attachments()]
    if said == "attached":
        assert text.rstrip().endswith("attached") and "portal" not in html and filenames == ["<i>bill</i>.pdf"]
    else:
        assert text.rstrip().endswith(f"linked: http://care.test/portal/tickets/{number}") and filenames == []
        assert f'<a href="http://care.test/portal/tickets/{number}">portal</a>' in html
