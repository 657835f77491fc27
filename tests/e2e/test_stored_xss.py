"""Stored XSS: customer text with markup is shown as text in every view, in a real browser.

Payloads go into every customer-controlled field that a view shows: the customer's name, the
ticket subject, the bot transcript, messages posted on the conversation endpoint (one while
the agent's page is open, so it arrives over the live SSE stream), inbound e-mail (sender
name, subject, text body; an HTML-only mail whose markup must be dropped), the bot's recorded
question and a CSAT comment (no HTML view shows those two: the privacy export returns them
verbatim), and a KB article an agent publishes with the customer's words in it.

Then the admin (queue with a search for the payload, ticket pages, dashboard, outbox, privacy
page), the agent (my tickets, ticket pages with transcript, thread, canned insert and a live
update, KB search), the public tracking and help-article pages and the widget (chat log in a
handoff, My tickets list and thread) are opened, and each must: raise no dialog, leave
``window.__xss`` undefined, show the payload literally, not evaluate ``{{7*7}}`` and contain
no element made from a payload (``img[src=x]``, ``svg[onload]``, an ``on*`` handler, a script
mentioning ``__xss``, a ``javascript:`` link). Console pages must send a CSP without inline
script: that is a second wall, so the DOM checks above are what catch an escaping mistake.
"""
from __future__ import annotations

import json
import os
import subprocess
import urllib.parse
import uuid
from collections.abc import Iterable
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

import pytest
import requests
from playwright.sync_api import Locator, Page, Response, expect

from careops.processes import VENV, common_env
from escalation.publishing import slugify
from kb_index.sections import plain

from ..browser import ARTIFACTS
from .chat import TIMEOUT, login, separate_people
from .conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'
SVG = '"><svg onload="window.__xss=1">'
JS_LINK = "javascript:window.__xss=1"
TPL = "tpl{{7*7}}end"  # lower case: the dashboard shows subjects lower-cased
TPL_EVALUATED = "tpl49end"
ALL = (SCRIPT, IMG, SVG, JS_LINK, TPL)

RUN = uuid.uuid4().hex[:6]
# ticket A: from the chat (the bot's API call)
A_NAME = f"Xena {IMG} {TPL}"
A_EMAIL = f"xena.xss.{RUN}@example.com"
A_SUBJECT = f"{SCRIPT} {SVG} {TPL} zorblatt"
LIVE = f"live {IMG} {SCRIPT} {TPL}"
AGENT_QUOTE = f"You wrote: {IMG} {SCRIPT} {SVG} {JS_LINK} {TPL}"
RESOLUTION = f"Customer text kept as text: {IMG} {SCRIPT} {SVG} {JS_LINK} {TPL}"
QUESTION = f"bot question {SCRIPT} {IMG} {TPL}"
CSAT = f"csat comment {SCRIPT} {IMG} {SVG} {TPL}"
# ticket B: a plain-text e-mail
B_NAME = f"{SVG} Mallory"
B_EMAIL = f"mallory.xss.{RUN}@example.com"
B_SUBJECT = f"{IMG} refund {TPL}"
B_BODY = "\n".join(["Hello,", SCRIPT, IMG, SVG, JS_LINK, TPL, "Regards"])
# ticket C: an HTML-only e-mail: its markup is dropped, its escaped text stays text
C_NAME = "Hattie Html"
C_EMAIL = f"hattie.xss.{RUN}@example.com"
C_SUBJECT = f"HTML mail {SVG} check"
C_HTML = ('<html><body><p>Hello &lt;img src=x onerror=&quot;window.__xss=1&quot;&gt; from html</p>'
          '<script>window.__xss=1</script><img src=x onerror="window.__xss=1">'
          f'<p><a href="{JS_LINK}">click here</a> {TPL}</p>'
          '<svg onload="window.__xss=1"><text>svg text</text></svg></body></html>')
C_TEXT = f"Hello {IMG} from html"

CSP_NEEDS = ("script-src 'self'", "default-src 'self'")
DESKTOP = {"width": 1280, "height": 900}

# Every element a payload would become, counted in the document and every (open) shadow root.
PAYLOAD_ELEMENTS = r"""() => {
  const roots = [document];
  const found = {img: 0, svg: 0, handlers: 0, scripts: 0, jsUrls: 0};
  for (let i = 0; i < roots.length; i++) {
    const root = roots[i];
    for (const e of root.querySelectorAll('*')) if (e.shadowRoot) roots.push(e.shadowRoot);
    found.img += root.querySelectorAll('img[src="x"]').length;
    found.svg += root.querySelectorAll('svg[onload]').length;
    for (const e of root.querySelectorAll('*')) {
      if ([...e.attributes].some((a) => /^on/i.test(a.name))) found.handlers += 1;
      for (const name of ['href', 'src', 'action', 'formaction']) {
        if (/^\s*javascript:/i.test(e.getAttribute(name) || '')) found.jsUrls += 1;
      }
    }
    found.scripts += [...root.querySelectorAll('script')].filter((s) => s.textContent.includes('__xss')).length;
  }
  return found;
}"""
NOTHING = {"img": 0, "svg": 0, "handlers": 0, "scripts": 0, "jsUrls": 0}


class Watched:
    """A page with a dialog watcher: any alert/confirm/prompt a payload opens is recorded."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def goto(self, url: str) -> Response:
        response = self.page.goto(url)
        assert response is not None and response.ok, f"{url}: {response and response.status}"
        return response


def assert_inert(watched: Watched, view: str, texts: Iterable[str], *, text_of: str | Locator = "body") -> None:
    """The view shows each of ``texts`` literally (in ``text_of``) and nothing in it ran or became markup."""
    page = watched.page
    shown = (page.locator(text_of) if isinstance(text_of, str) else text_of).inner_text()
    for expected in texts:
        assert expected in shown, f"{view}: {expected!r} is not shown as text; the view shows:\n{shown[:3000]}"
    assert TPL_EVALUATED not in shown.lower(), f"{view}: {{{{7*7}}}} was evaluated (template injection)"
    assert page.evaluate("() => typeof window.__xss") == "undefined", f"{view}: a payload ran"
    assert watched.dialogs == [], f"{view}: dialogs opened: {watched.dialogs}"
    assert page.evaluate(PAYLOAD_ELEMENTS) == NOTHING, f"{view}: payload markup is in the DOM"


def assert_csp(response: Response, view: str) -> None:
    policy = response.headers.get("content-security-policy", "")
    for needed in CSP_NEEDS:
        assert needed in policy, f"{view}: CSP {policy!r} lacks {needed!r}"
    script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, policy


def api(stack: RunningStack, method: str, path: str, body: dict[str, Any] | None = None, *,
        service: bool = False) -> dict[str, Any]:
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    if service:
        headers["Authorization"] = f"Bearer {stack.config.service_token}"
    reply = requests.request(method, f"{stack.api_url}{path}", json=body, headers=headers, timeout=60)
    assert reply.ok, f"{method} {path}: {reply.status_code} {reply.text}"
    return reply.json()


def open_chat_ticket(stack: RunningStack, conversation_id: str) -> dict[str, Any]:
    return api(stack, "POST", "/api/v1/tickets", {
        "name": A_NAME, "email": A_EMAIL, "channel": "web_chat", "subject": A_SUBJECT,
        "conversation_id": conversation_id,
        "transcript": [{"sender": "user", "text": f"first {SCRIPT}", "timestamp": 1.0},
                       {"sender": "bot", "text": "Could you tell me more?", "timestamp": 2.0},
                       {"sender": "user", "text": IMG, "timestamp": 3.0},
                       {"sender": "user", "text": SVG, "timestamp": 4.0},
                       {"sender": "user", "text": f"see {JS_LINK}", "timestamp": 5.0},
                       {"sender": "user", "text": TPL, "timestamp": 6.0}],
        "suggested_articles": [JS_LINK],
    }, service=True)


def mail_in(stack: RunningStack, message: EmailMessage) -> str:
    """``flask --app escalation mail-in`` against the stack's database; the new ticket's number."""
    env = {**os.environ, **common_env(stack.config), "CARE_INSTANCE_DIR": str(stack.config.instance_dir)}
    done = subprocess.run([str(VENV / "flask"), "--app", "escalation", "mail-in"], input=message.as_bytes(),
                          env=env, capture_output=True, timeout=120, check=False)
    out = done.stdout.decode()
    assert done.returncode == 0 and out.startswith("opened CR-"), (done.returncode, out, done.stderr.decode())
    return out.split()[1].rstrip(":")


def email(name: str, address: str, subject: str, *, text: str | None = None, html: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = Address(display_name=name, addr_spec=address)
    message["To"] = "care@example.com"
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@example.com>"
    if text is not None:
        message.set_content(text)
    else:
        message.set_content(html or "", subtype="html")
    return message


def assign_to_tim(admin: Watched, stack: RunningStack, number: str) -> None:
    admin.goto(f"{stack.api_url}/admin/tickets/{number}")
    select = admin.page.get_by_test_id("assign-select")
    select.select_option(value=select.locator("option", has_text="Tim Agent").get_attribute("value"))
    admin.page.get_by_test_id("assign-button").click()
    expect(admin.page.get_by_test_id("assignee")).to_have_text("Tim Agent")


def test_stored_payloads_are_inert_text_in_every_view(live_stack: RunningStack, browser) -> None:
    base = live_stack.api_url
    conversation_id = f"xss-{RUN}"

    # --- plant: a chat ticket, its customer's messages, two e-mails, the bot's question ----------
    opened = open_chat_ticket(live_stack, conversation_id)
    a, token = opened["number"], opened["token"]
    for _ in range(2):  # the same subject three times: first among the dashboard's top questions
        api(live_stack, "POST", "/api/v1/tickets", {"name": A_NAME, "email": A_EMAIL, "subject": A_SUBJECT,
                                                   "conversation_id": f"xss-{uuid.uuid4().hex[:8]}"}, service=True)
    for body in (*ALL, f"all at once {SCRIPT} {IMG} {SVG} {JS_LINK} {TPL}"):
        posted = api(live_stack, "POST", f"/api/v1/conversations/{token}/messages", {"body": body})
        assert posted["body"] == body and posted["author_name"] == A_NAME
    api(live_stack, "POST", "/api/v1/bot/outcomes", {"conversation_id": conversation_id, "outcome": "escalated",
                                                    "question": QUESTION}, service=True)
    b = mail_in(live_stack, email(B_NAME, B_EMAIL, B_SUBJECT, text=B_BODY))
    c = mail_in(live_stack, email(C_NAME, C_EMAIL, C_SUBJECT, html=C_HTML))

    with separate_people(browser, 4, DESKTOP) as pages:
        admin, agent, public, customer = (Watched(page) for page in pages)
        # --- admin: queue (searched by the payload), tickets, dashboard, outbox, privacy ----------
        login(admin.page, live_stack, "kim")
        response = admin.goto(f"{base}/admin/?" + urllib.parse.urlencode({"status": "all", "q": SCRIPT}))
        assert_csp(response, "admin queue")
        expect(admin.page.locator("#q")).to_have_value(SCRIPT)
        expect(admin.page.get_by_test_id("ticket-link").filter(has_text=a)).to_have_count(1)
        assert_inert(admin, "admin queue ?q=<script>", [A_SUBJECT, A_NAME])
        admin.goto(f"{base}/admin/?" + urllib.parse.urlencode({"status": "all", "q": "<img src=x"}))
        expect(admin.page.locator("#q")).to_have_value("<img src=x")
        assert_inert(admin, "admin queue ?q=<img", [A_SUBJECT, A_NAME, B_SUBJECT, B_NAME],
                     text_of="[data-testid=queue]")
        admin.goto(f"{base}/admin/?status=all")
        assert_inert(admin, "admin queue", [A_SUBJECT, B_SUBJECT, B_NAME, C_SUBJECT])

        for number in (a, b, c):
            assign_to_tim(admin, live_stack, number)
        response = admin.goto(f"{base}/admin/tickets/{a}")
        assert_csp(response, "admin ticket")
        assert_inert(admin, f"admin ticket {a}", [
            A_SUBJECT, A_NAME, A_EMAIL, f"first {SCRIPT}", IMG, SVG, f"see {JS_LINK}", TPL,
            f"Articles the bot suggested: {JS_LINK}", f"all at once {SCRIPT} {IMG} {SVG} {JS_LINK} {TPL}"])
        expect(admin.page.get_by_test_id("transcript").locator(".msg-user .body")).to_have_text(
            [f"first {SCRIPT}", IMG, SVG, f"see {JS_LINK}", TPL])
        admin.goto(f"{base}/admin/tickets/{b}")
        assert_inert(admin, f"admin ticket {b} (e-mail)", [B_SUBJECT, B_NAME, *ALL])
        admin.goto(f"{base}/admin/tickets/{c}")
        assert_inert(admin, f"admin ticket {c} (HTML e-mail)", [C_SUBJECT, C_TEXT, "click here", TPL])
        assert "svg text" not in admin.page.locator("body").inner_text()  # the <svg> was dropped whole

        admin.goto(f"{base}/admin/dashboard")
        top = admin.page.locator("section.card").filter(
            has=admin.page.get_by_role("heading", name="Questions that end in a ticket"))
        # A's subject (three tickets) leads the top ten; B's single ticket may not make it when the
        # other end-to-end tests of the session have opened their own tickets on the same stack
        assert_inert(admin, "dashboard", [A_SUBJECT], text_of=top)
        response = admin.goto(f"{base}/admin/kb-gaps")
        assert_csp(response, "KB gaps")
        assert_inert(admin, "KB gaps", [A_SUBJECT], text_of="[data-testid=kb-gaps]")  # A's three tickets: a group
        admin.goto(f"{base}/admin/outbox")
        # customer mails carry no customer text in their subjects (issue #12); the agent's
        # assignment notices do
        assert_inert(admin, "outbox", [f"Assigned to you: {A_SUBJECT}", B_SUBJECT, C_SUBJECT, A_EMAIL],
                     text_of="[data-testid=outbox]")
        for address, name in ((A_EMAIL, A_NAME), (B_EMAIL, B_NAME)):
            admin.goto(f"{base}/admin/privacy")
            admin.page.locator("#email").fill(address)
            admin.page.get_by_role("button", name="Find").click()
            expect(admin.page.get_by_test_id("privacy-customer")).to_be_visible()
            assert_inert(admin, f"privacy page ({address})", [f"{name} · {address}"])

        # --- agent: my tickets, the ticket with a live update, canned insert, reply --------------
        login(agent.page, live_stack, "tim")
        agent.goto(f"{base}/agent/")
        assert_inert(agent, "agent my tickets", [A_SUBJECT, A_NAME, B_SUBJECT, B_NAME, C_SUBJECT],
                     text_of="[data-testid=my-tickets]")
        response = agent.goto(f"{base}/agent/tickets/{a}")
        assert_csp(response, "agent ticket")
        expect(agent.page.get_by_test_id("live-status")).to_have_text("Live", timeout=TIMEOUT)
        api(live_stack, "POST", f"/api/v1/conversations/{token}/messages", {"body": LIVE})
        thread = agent.page.get_by_test_id("thread")
        expect(thread.locator(".body").last).to_have_text(LIVE, timeout=TIMEOUT)
        expect(agent.page.get_by_role("heading", level=1)).to_contain_text(A_SUBJECT)
        expect(agent.page.locator("#kb-q")).to_have_value(A_SUBJECT)
        assert_inert(agent, f"agent ticket {a} (with the live message)", [
            A_SUBJECT, A_NAME, f"first {SCRIPT}", IMG, SVG, f"see {JS_LINK}", TPL, LIVE,
            f"all at once {SCRIPT} {IMG} {SVG} {JS_LINK} {TPL}"])
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        agent.page.screenshot(path=str(ARTIFACTS / "e2e-stored-xss-agent-ticket.png"), full_page=True)

        agent.page.get_by_label("Canned response").select_option(label="Greeting")
        agent.page.get_by_test_id("canned-insert").click()
        expect(agent.page.get_by_test_id("reply-body")).to_be_focused()
        assert f"Hello {A_NAME}," in agent.page.get_by_test_id("reply-body").input_value()  # filled in as text
        assert_inert(agent, "agent ticket after the canned insert", [])
        agent.page.get_by_test_id("reply-body").fill(AGENT_QUOTE)
        agent.page.get_by_test_id("reply-send").click()
        expect(agent.page.get_by_role("status").first).to_contain_text("Reply sent to the customer.")
        expect(thread.locator(".body").last).to_have_text(AGENT_QUOTE)
        assert_inert(agent, "agent ticket after the reply", [AGENT_QUOTE])
        for number, texts in ((b, [B_SUBJECT, B_NAME, *ALL]), (c, [C_SUBJECT, C_TEXT, TPL])):
            agent.goto(f"{base}/agent/tickets/{number}")
            expect(agent.page.get_by_test_id("live-status")).to_have_text("Live", timeout=TIMEOUT)
            assert_inert(agent, f"agent ticket {number}", texts)

        # --- the public tracking page (number + e-mail) ------------------------------------------
        for number, address, texts in ((a, A_EMAIL, [A_SUBJECT, A_NAME, LIVE, AGENT_QUOTE, *ALL]),
                                       (b, B_EMAIL, [B_SUBJECT, B_NAME, *ALL])):
            response = public.goto(f"{base}/track?number={number}")
            assert_csp(response, "tracking page")
            public.page.get_by_label("The e-mail you gave us").fill(address)
            public.page.get_by_role("button", name="Look it up").click()
            expect(public.page.locator("h2")).to_contain_text(number)
            assert_inert(public, f"tracking page {number}", texts)

        # --- the widget on the demo page: the chat in a handoff, My tickets and its thread -------
        customer.goto(f"{base}/demo")
        customer.page.evaluate("""([number, token]) => {
            localStorage.setItem('carechat:tickets', JSON.stringify([{ticket: number, token, added: Date.now()}]));
            localStorage.setItem('carechat:handoff', JSON.stringify({ticket: number, token, owner: 'queued',
                                                                     agent: null, seen: []}));
        }""", [a, token])
        customer.page.reload()
        customer.page.get_by_test_id("cc-launcher").click()
        agent_bubbles = customer.page.locator("[data-testid=cc-msg][data-sender=agent] .cc-bubble")
        expect(agent_bubbles.filter(has_text="You wrote:")).to_have_text([AGENT_QUOTE], timeout=TIMEOUT)
        assert_inert(customer, "widget chat (handoff)", [AGENT_QUOTE], text_of="[data-testid=cc-log]")
        customer.page.get_by_test_id("cc-tickets-button").click()
        item = customer.page.get_by_test_id("cc-tk-item")
        expect(item).to_have_count(1, timeout=TIMEOUT)
        expect(item.get_by_test_id("cc-tk-subject")).to_have_text(A_SUBJECT)
        assert_inert(customer, "widget My tickets list", [A_SUBJECT], text_of="[data-testid=cc-tk-list]")
        item.click()
        messages = customer.page.get_by_test_id("cc-tk-msg")
        expect(messages.filter(has_text="You wrote:")).to_have_count(1, timeout=TIMEOUT)
        expect(messages.locator(".cc-bubble")).to_have_text(
            [*ALL, f"all at once {SCRIPT} {IMG} {SVG} {JS_LINK} {TPL}", LIVE, AGENT_QUOTE])
        assert_inert(customer, "widget My tickets thread", [A_SUBJECT, AGENT_QUOTE, LIVE, *ALL],
                     text_of="[data-testid=cc-tickets]")
        assert customer.errors == [], f"uncaught errors in the demo page: {customer.errors}"

        # --- resolve with the customer's words, publish them, find them in the KB ----------------
        agent.goto(f"{base}/agent/tickets/{a}")
        agent.page.get_by_test_id("resolution").fill(RESOLUTION)
        agent.page.get_by_test_id("resolve").click()
        expect(agent.page.get_by_role("status").first).to_contain_text(f"{a} resolved.")
        expect(agent.page.locator("#kb-title")).to_have_value(A_SUBJECT)
        expect(agent.page.locator("#kb-body")).to_have_value(RESOLUTION)
        assert_inert(agent, f"agent ticket {a} resolved", [RESOLUTION])
        agent.page.get_by_test_id("publish").click()
        expect(agent.page.get_by_role("status").first).to_contain_text(f"Published “{A_SUBJECT}”", timeout=TIMEOUT)
        assert_inert(agent, "agent ticket after publishing", [f"Published “{A_SUBJECT}”"])

        agent.goto(f"{base}/agent/kb?" + urllib.parse.urlencode({"ticket": a, "q": A_SUBJECT}))
        expect(agent.page.locator("#kbq")).to_have_value(A_SUBJECT)
        expect(agent.page.get_by_test_id("kb-hits")).to_contain_text(A_SUBJECT, timeout=TIMEOUT)
        assert_inert(agent, "agent KB search", [A_SUBJECT], text_of="[data-testid=kb-hits]")
        slug = f"fix-{slugify(A_SUBJECT)}"
        assert agent.page.locator(f"[data-testid=kb-hits] a[href$='/help/{slug}']").count() >= 1
        response = public.goto(f"{base}/help/{slug}")
        assert_csp(response, "help article")
        expect(public.page.get_by_role("heading", level=1)).to_have_text(A_SUBJECT)
        # an article's body is Markdown: the help page shows its sections as text, emphasis
        # markers (*, __) taken out the way the assistant's answers take them out
        assert_inert(public, "public help article", [A_SUBJECT, plain(RESOLUTION)])

        # --- a CSAT comment; with the bot's question, only the JSON export shows them -------------
        api(live_stack, "POST", f"/api/v1/conversations/{token}/survey", {"rating": 2, "comment": CSAT})
        exported = api(live_stack, "POST", "/api/v1/privacy/export", {"email": A_EMAIL}, service=True)
        dump = json.dumps(exported, ensure_ascii=False)
        assert json.dumps(CSAT)[1:-1] in dump and json.dumps(QUESTION)[1:-1] in dump
        admin.goto(f"{base}/admin/dashboard")
        assert_inert(admin, "dashboard after the survey", [A_SUBJECT], text_of=top)
        admin.goto(f"{base}/admin/tickets/{a}")
        assert_inert(admin, f"admin ticket {a} at the end", [A_SUBJECT, A_NAME, LIVE, AGENT_QUOTE, *ALL])


# ---- the customer portal: pages, attachment names, uploaded HTML/SVG (issue 14) ----------------

P_NAME = f"Pia {IMG} {TPL}"
P_SUBJECT = f"portal {SCRIPT} {SVG} {TPL}"
P_FORM_SUBJECT = f"form {IMG} {SCRIPT} {TPL}"
P_DESCRIPTION = f"described {SVG} {JS_LINK} {TPL}"
P_FILE = f"{IMG}{SVG}.txt"  # a file name is customer (or agent) text too
P_AGENT_FILE = f"agent {IMG} {TPL}.txt"  # no "/": a file name never has one (a path would lose its folders)


def test_portal_pages_attachment_names_and_uploaded_html_are_inert(live_stack: RunningStack, browser) -> None:
    from .test_portal_journey import mail_link

    base = live_stack.api_url
    address = f"pia.xss.{RUN}@example.com"
    chat = api(live_stack, "POST", "/api/v1/tickets", {
        "name": P_NAME, "email": address, "channel": "web_chat", "subject": P_SUBJECT,
        "conversation_id": f"pxss-{RUN}",
        "transcript": [{"sender": "user", "text": f"first {SCRIPT}"}, {"sender": "user", "text": IMG}]},
        service=True)["number"]

    with separate_people(browser, 3, DESKTOP) as pages:
        customer, agent, admin = (Watched(page) for page in pages)
        page = customer.page
        response = customer.goto(f"{base}/portal/register")
        assert_csp(response, "portal register")
        page.get_by_label("Your name").fill(P_NAME)
        page.get_by_label("E-mail address").fill(address)
        page.get_by_label("Password (at least 10 characters)").fill("pia-portal-pass-1")
        page.get_by_test_id("portal-submit").click()
        customer.goto(base + mail_link(live_stack, address, "/portal/verify/"))
        page.get_by_test_id("portal-submit").click()
        expect(page.get_by_test_id("portal-tickets")).to_contain_text(chat)
        assert_inert(customer, "portal My tickets", [P_SUBJECT, "Pia"])

        # an HTML file and an SVG are refused, whatever they are called; the refusal is text
        response = customer.goto(f"{base}/portal/tickets/new")
        assert_csp(response, "portal new ticket")
        page.get_by_test_id("new-ticket-subject").fill(P_FORM_SUBJECT)
        page.get_by_test_id("new-ticket-description").fill(P_DESCRIPTION)
        for name, mime, data in ((f"{SVG}.svg", "image/svg+xml", b'<svg onload="window.__xss=1"/>'),
                                 (f"{IMG}.html", "text/html", b"<script>window.__xss=1</script>"),
                                 (f"{IMG}.png", "image/png", b"<script>window.__xss=1</script>")):
            page.get_by_test_id("attachments-input").set_input_files({"name": name, "mimeType": mime, "buffer": data})
            page.get_by_test_id("new-ticket-submit").click()
            expect(page.get_by_role("alert")).to_contain_text("cannot be attached")
            assert_inert(customer, f"portal refused upload {name}", [name], text_of="[role=alert]")
        # HTML inside a .txt is text: accepted, and only ever downloaded
        page.get_by_test_id("attachments-input").set_input_files(
            {"name": P_FILE, "mimeType": "text/html", "buffer": b"<!doctype html><script>window.__xss=1</script>"})
        page.get_by_test_id("new-ticket-submit").click()
        expect(page.get_by_role("status").first).to_contain_text("is open")
        form = page.url.rsplit("/", 1)[1]
        expect(page.get_by_test_id("live-status")).to_have_text("Live", timeout=TIMEOUT)
        assert_inert(customer, "portal ticket (form)", [P_FORM_SUBJECT, P_DESCRIPTION, P_FILE])
        href = page.get_by_test_id("attachment-link").first.get_attribute("href")
        served = page.request.get(base + href)
        assert served.headers["content-disposition"].startswith("attachment")
        assert served.headers["x-content-type-options"] == "nosniff" and "sandbox" in served.headers[
            "content-security-policy"]
        assert served.headers["content-type"].startswith("text/plain")

        # the agent's file name arrives live on the portal page, as text
        login(agent.page, live_stack, "tim")
        login(admin.page, live_stack, "kim")
        assign_to_tim(admin, live_stack, form)
        agent.goto(f"{base}/agent/tickets/{form}")
        assert_inert(agent, f"agent ticket {form} (portal form)", [P_FORM_SUBJECT, P_DESCRIPTION])
        agent.page.get_by_test_id("reply-body").fill(f"reply {SVG} {TPL}")
        agent.page.get_by_test_id("reply-attachments").set_input_files(
            {"name": P_AGENT_FILE, "mimeType": "text/plain", "buffer": b"steps"})
        agent.page.get_by_test_id("reply-send").click()
        expect(agent.page.get_by_test_id("attachment-link").last).to_have_text(P_AGENT_FILE)
        assert_inert(agent, "agent ticket with the attachment", [P_AGENT_FILE])
        expect(page.get_by_test_id("thread")).to_contain_text(P_AGENT_FILE, timeout=TIMEOUT)
        assert_inert(customer, "portal ticket with the live attachment", [P_AGENT_FILE, f"reply {SVG} {TPL}"])
        customer.goto(f"{base}/portal/tickets/{chat}")
        assert_inert(customer, "portal ticket (chat)", [P_SUBJECT, f"first {SCRIPT}", IMG])
        customer.goto(f"{base}/portal/tickets?status=all")
        assert_inert(customer, "portal My tickets (all)", [P_SUBJECT, P_FORM_SUBJECT])
        assert customer.errors == [] and agent.errors == []
