"""Customer notifications: each step by e-mail, preferences and one-click unsubscribe, chat
replies only when not seen live, auto-close notices on a clock, nothing twice with two workers,
and the cap on mail to unverified addresses."""
from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from escalation import tickets
from escalation.db import db
from escalation.mail import notify, outbox, preferences
from escalation.mail.inbound import receive_and_commit
from escalation.models import Customer, OutboxMail, Survey, Ticket, User, utcnow
from escalation.worker import auto_close, run_pass

from .conftest import ticket_body
from .mail_servers import SmtpServer, smtp_server  # noqa: F401  (fixture)
from .test_mail_inbound import raw_mail


def user(name: str) -> User:
    return db.session.scalar(select(User).where(User.username == name))


def kinds_to(app, address: str = "laura@example.com") -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(OutboxMail.kind).where(OutboxMail.to_addr == address)
                                       .order_by(OutboxMail.id)))


def open_chat(app, client, bot_headers, key: str = "n1", **overrides) -> dict:
    # these tests open many tickets from one test client: the abuse quotas are not what they test
    app.config.update(RATE_LIMIT_TICKETS_PER_IP=1000, RATE_LIMIT_TICKETS_PER_CONVERSATION=1000)
    response = client.post("/api/v1/tickets", json=ticket_body(**overrides),
                           headers={**bot_headers, "Idempotency-Key": key})
    assert response.status_code == 201
    return response.get_json()


def walk_through(app, number: str) -> None:
    """Assign to Tim, he replies, resolves; the customer writes again (reopens)."""
    with app.app_context():
        t = tickets.get_by_number(db.session, number)
        tim = user("tim")
        tickets.assign(db.session, t, tim, "kim")
        tickets.reply(db.session, t, tim, "Hello, Tim here.")
        tickets.resolve(db.session, t, tim, "done")
        tickets.customer_message(db.session, t, "Still broken")
        db.session.commit()


def set_pref(app, pref: str, email: str = "laura@example.com") -> None:
    with app.app_context():
        db.session.scalar(select(Customer).where(Customer.email == email)).notify_pref = pref
        db.session.commit()


@pytest.mark.parametrize("pref,expected", [
    ("all", ["acknowledgement", "allocated", "agent_reply", "resolved", "reopened"]),
    ("important", ["acknowledgement", "agent_reply", "resolved"]),
    ("none", []),
])
def test_each_step_reaches_the_customer_as_their_preference_says(app, pref, expected):
    with app.app_context():
        # an e-mail customer: agent replies go out at once
        receive_and_commit(db.session, raw_mail())
    with app.app_context():
        number = db.session.scalar(select(Ticket.number))
        db.session.execute(OutboxMail.__table__.delete())  # start counting after the acknowledgement
        db.session.commit()
    set_pref(app, pref)
    walk_through(app, number)
    assert kinds_to(app) == [k for k in expected if k != "acknowledgement"]


def test_the_allocated_mail_names_the_agent_and_threads_into_the_ticket(app, client, bot_headers, smtp_server):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, SMTP_SECURITY="none")
    number = open_chat(app, client, bot_headers)["number"]
    with app.app_context():
        tickets.assign(db.session, tickets.get_by_number(db.session, number), user("tim"), "kim")
        db.session.commit()
    run_pass(app, "w1")
    to_laura = [m.message for m in smtp_server.wait_for(3) if m.rcpt_tos == ["laura@example.com"]]
    ack, allocated = to_laura
    assert allocated["Subject"] == f"Tim is looking at {number}"
    assert "Tim Agent" in allocated.get_body(("plain",)).get_content()
    assert allocated["In-Reply-To"] == ack["Message-ID"]
    # answering it joins the ticket
    with app.app_context():
        result = receive_and_commit(db.session, raw_mail(subject=f"Re: {allocated['Subject']}",
                                                         message_id="<answer@mail.example.com>",
                                                         In_Reply_To=allocated["Message-ID"]))
        assert (result.outcome, result.number) == ("appended", number)


def test_every_customer_mail_has_a_one_click_unsubscribe_that_works(app, client, bot_headers, smtp_server):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, SMTP_SECURITY="none")
    number = open_chat(app, client, bot_headers)["number"]
    run_pass(app, "w1")
    [ack] = smtp_server.wait_for(1)
    url = ack.message["List-Unsubscribe"].strip("<>")
    assert ack.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url.startswith("http://care.test/mail/unsubscribe/") and url in ack.message.get_body(("plain",)).get_content()
    path = url.removeprefix("http://care.test")
    page = client.get(path)
    assert page.status_code == 200 and "laura@example.com" in page.text
    # what a mail program's Unsubscribe button sends (RFC 8058): no page, no cookie, no CSRF token
    one_click = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(Customer.notify_pref)) == "none"
        tickets.assign(db.session, tickets.get_by_number(db.session, number), user("tim"), "kim")
        db.session.commit()
    assert kinds_to(app) == ["acknowledgement"]  # nothing since
    # the page's form changes it back
    assert "Saved" in client.post(path, data={"pref": "important"}).text
    with app.app_context():
        assert db.session.scalar(select(Customer.notify_pref)) == "important"
    assert client.post(path, data={"pref": "sometimes"}).status_code == 422


def test_an_unsubscribe_link_is_signed_and_names_one_address(app, client):
    with app.app_context():
        tickets.open_ticket(db.session, name="Laura", email="laura@example.com", subject="x")
        db.session.commit()
        customer = db.session.scalar(select(Customer))
        token = preferences.unsubscribe_token(customer)
        customer.email = "laura.new@example.com"  # an erasure or a new address: the old link does nothing
        db.session.commit()
    assert client.get(f"/mail/unsubscribe/{token}").status_code == 404
    assert client.get(f"/mail/unsubscribe/{token[:-2]}xx").status_code == 404
    assert client.post(f"/mail/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 404


# --- chat replies: e-mailed only when not seen live ---------------------------------------------

def chat_with_replies(app, client, bot_headers, *bodies: str) -> dict:
    opened = open_chat(app, client, bot_headers)
    with app.app_context():
        t = tickets.get_by_number(db.session, opened["number"])
        tim = user("tim")
        tickets.assign(db.session, t, tim, "kim")
        for body in bodies:
            tickets.reply(db.session, t, tim, body)
        db.session.commit()
    return opened


def replies_due(app, after: float) -> int:
    with app.app_context():
        written = notify.chat_replies_due(db.session, now=utcnow() + timedelta(seconds=after))
        db.session.commit()
        return written


def test_chat_replies_the_customer_did_not_see_go_in_one_mail_after_the_delay(app, client, bot_headers):
    chat_with_replies(app, client, bot_headers, "First, let me check.", "Done: try again <now>.")
    assert replies_due(app, after=0) == 0  # within the delay: the customer may still see them live
    assert replies_due(app, after=61) == 1
    assert replies_due(app, after=120) == 0  # once
    with app.app_context():
        [mail] = db.session.scalars(select(OutboxMail).where(OutboxMail.kind == "agent_reply")).all()
    assert "First, let me check." in mail.body_text and "Done: try again <now>." in mail.body_text
    assert "try again &lt;now&gt;" in mail.body_html and mail.auto_submitted is False


def read_stream(response) -> list[int]:
    """The event ids up to the first keep-alive: by then the server has taken the frames and
    the stream has marked them delivered."""
    ids: list[int] = []
    for chunk in response.response:
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        if text.startswith(": keep-alive"):
            break
        ids += [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")]
    response.close()
    return ids


def test_the_streams_of_one_ticket_write_the_seen_mark_once_per_event(app, client, bot_headers):
    """500 open streams of one ticket used to UPDATE its row once each per message (a queue
    on one row lock: bench_sse_fanout p50 ~950 ms); one write per event and process now."""
    from sqlalchemy import event as sa_event

    opened = chat_with_replies(app, client, bot_headers, "Hello, Tim here.")
    with app.app_context():
        ticket_id = tickets.get_by_number(db.session, opened["number"]).id
        engine = db.engine
    updates: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE TICKETS"):
            updates.append(statement)

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        barrier = threading.Barrier(20)

        def stream(event_id: int) -> None:
            barrier.wait()
            notify.seen_live(app, ticket_id, event_id)

        threads = [threading.Thread(target=stream, args=(7,)) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(updates) == 1
        notify.seen_live(app, ticket_id, 5)  # an older event than the mark: nothing to write
        assert len(updates) == 1
        notify.seen_live(app, ticket_id, 9)  # a later one is written
        assert len(updates) == 2
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    with app.app_context():
        assert db.session.scalar(select(Ticket.customer_seen_event_id).where(Ticket.id == ticket_id)) == 9


def test_a_failed_seen_mark_is_written_by_the_next_stream():
    marks = notify.SeenMarks(limit=2)
    assert marks.claim(1, 4) and not marks.claim(1, 4) and not marks.claim(1, 3)
    marks.release(1, 4)  # the write failed
    assert marks.claim(1, 4)
    assert marks.claim(2, 1) and marks.claim(3, 1)  # over the limit: ticket 1 is forgotten
    assert marks.claim(1, 4)


def test_replies_the_customer_saw_in_the_live_chat_are_not_mailed(app, client, bot_headers):
    app.config["SSE_HEARTBEAT"] = 0.2
    opened = chat_with_replies(app, client, bot_headers, "Hello, Tim here.")
    seen = read_stream(client.get(f"/api/v1/conversations/{opened['token']}/events"))
    with app.app_context():
        assert db.session.scalar(select(Ticket.customer_seen_event_id)) == max(seen)
    assert replies_due(app, after=3600) == 0
    # a later reply she no longer watches is mailed, alone
    with app.app_context():
        t = tickets.get_by_number(db.session, opened["number"])
        tickets.reply(db.session, t, user("tim"), "Are you still there?")
        db.session.commit()
    assert replies_due(app, after=61) == 1
    with app.app_context():
        [mail] = db.session.scalars(select(OutboxMail).where(OutboxMail.kind == "agent_reply")).all()
    assert "Are you still there?" in mail.body_text and "Hello, Tim here." not in mail.body_text


# --- auto-close, on a clock ----------------------------------------------------------------------

def test_auto_close_warns_before_and_tells_at_closing(app):
    app.config.update(AUTO_CLOSE_DAYS=7, AUTO_CLOSE_NOTICE_DAYS=2)
    with app.app_context():
        t = tickets.open_ticket(db.session, name="Laura", email="laura@example.com", subject="x").ticket
        tim = user("tim")
        tickets.assign(db.session, t, tim, "kim")
        tickets.acknowledge(db.session, t, tim)
        tickets.resolve(db.session, t, tim, "fixed")
        db.session.commit()
        resolved = t.updated_at
    clock = [resolved + timedelta(days=d) for d in (1, 4.9, 5.1, 6, 6.9, 7.1, 8)]
    seen: list[list[str]] = []
    for now in clock:
        with app.app_context():
            auto_close(app, now=now)
        seen.append(kinds_to(app)[3:])  # after acknowledgement, allocated, resolved
    assert seen == [[], [], ["close_warning"], ["close_warning"], ["close_warning"],
                    ["close_warning", "closed"], ["close_warning", "closed"]]
    with app.app_context():
        warning = db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "close_warning"))
        assert (resolved + timedelta(days=7)).strftime("%d %B %Y") in warning.body_text
        assert warning.subject.startswith(f"[{t.number}] Your ticket closes on")
        assert db.session.get(Ticket, t.id).status == "closed"


def test_a_reopened_and_resolved_again_ticket_is_warned_again(app):
    app.config.update(AUTO_CLOSE_DAYS=7, AUTO_CLOSE_NOTICE_DAYS=2)
    with app.app_context():
        t = tickets.open_ticket(db.session, name="Laura", email="laura@example.com", subject="x").ticket
        tim = user("tim")
        tickets.assign(db.session, t, tim, "kim")
        tickets.acknowledge(db.session, t, tim)
        tickets.resolve(db.session, t, tim, "fixed")
        db.session.commit()
        auto_close(app, now=t.updated_at + timedelta(days=5.5))
        tickets.customer_message(db.session, t, "no it is not")
        tickets.resolve(db.session, t, tim, "fixed now")
        db.session.commit()
        auto_close(app, now=t.updated_at + timedelta(days=5.5))
    assert kinds_to(app).count("close_warning") == 2


# --- two workers ----------------------------------------------------------------------------------

def test_two_workers_write_and_send_every_notice_once(app, client, bot_headers, smtp_server):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, SMTP_SECURITY="none",
                      CHAT_REPLY_MAIL_DELAY=0.0, AUTO_CLOSE_DAYS=7, AUTO_CLOSE_NOTICE_DAYS=2)
    numbers = []
    for i in range(6):
        opened = open_chat(app, client, bot_headers, key=f"two-{i}", email=f"c{i}@example.com")
        numbers.append(opened["number"])
    with app.app_context():
        tim = user("tim")
        for i, number in enumerate(numbers):
            t = tickets.get_by_number(db.session, number)
            tickets.assign(db.session, t, tim, "kim")
            tickets.reply(db.session, t, tim, f"Reply {i}")
            if i % 2:
                tickets.resolve(db.session, t, tim, "done")
        db.session.commit()
        # three resolved tickets went silent six days ago: due for the warning
        for t in db.session.scalars(select(Ticket).where(Ticket.status == "resolved")):
            t.updated_at = utcnow() - timedelta(days=6)
        db.session.commit()
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(name: str) -> None:
        try:
            start.wait()
            for _ in range(3):
                run_pass(app, name)
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        rows = db.session.scalars(select(OutboxMail)).all()
    per_customer = Counter((m.to_addr, m.kind) for m in rows if m.to_addr.startswith("c"))
    assert {k: v for k, v in per_customer.items() if v != 1} == {}
    assert sum(1 for (_, kind) in per_customer if kind == "agent_reply") == 6
    assert sum(1 for (_, kind) in per_customer if kind == "close_warning") == 3
    smtp_server.wait_for(len(rows))
    assert sorted(Counter(m.message["Message-ID"] for m in smtp_server.messages).values()) == [1] * len(rows)


# --- unverified addresses -------------------------------------------------------------------------

def test_mail_to_an_unverified_address_is_capped_per_hour_and_waits(app, client, bot_headers, smtp_server):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, SMTP_SECURITY="none",
                      MAIL_UNVERIFIED_PER_HOUR=2)
    for i in range(4):  # someone types the victim's address into the chat four times
        open_chat(app, client, bot_headers, key=f"cap-{i}", email="victim@example.com")
    with app.app_context():
        report = outbox.deliver_due(app, "w1")
    assert (len(report.sent), len(report.held)) == (2, 2)
    with app.app_context():
        held = db.session.scalars(select(OutboxMail).where(OutboxMail.status == "pending")).all()
        assert all("unverified address" in m.last_error and "held until" in m.last_error for m in held)
        assert all(m.next_attempt_at > utcnow() + timedelta(minutes=59) for m in held)
        assert outbox.deliver_due(app, "w1", now=utcnow() + timedelta(minutes=61)).sent == [m.id for m in held]


def test_an_address_that_wrote_to_us_is_verified_and_not_capped(app, smtp_server):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, SMTP_SECURITY="none",
                      MAIL_UNVERIFIED_PER_HOUR=1)
    with app.app_context():
        for i in range(3):
            receive_and_commit(db.session, raw_mail(subject=f"Question {i}", message_id=f"<q{i}@mail.example.com>"))
        assert db.session.scalar(select(Customer.email_verified_at)) is not None
        assert len(outbox.deliver_due(app, "w1").sent) == 3


# --- ratings from the resolved mail ----------------------------------------------------------------

def resolved_ticket(app) -> tuple[Ticket, OutboxMail]:
    with app.app_context():
        t = tickets.open_ticket(db.session, name="Laura", email="laura@example.com", subject="x").ticket
        tim = user("tim")
        tickets.assign(db.session, t, tim, "kim")
        tickets.acknowledge(db.session, t, tim)
        tickets.resolve(db.session, t, tim, "fixed")
        db.session.commit()
        return t, db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "resolved"))


def rating_links(mail: OutboxMail) -> dict[int, str]:
    import re

    found = re.findall(r"http://care\.test(/mail/rate/[^/\s]+/(\d))", mail.body_text)
    return {int(r): path for path, r in found}


def test_rating_from_the_mail_takes_a_click_and_a_second_click_changes_it(app, client):
    ticket, mail = resolved_ticket(app)
    links = rating_links(mail)
    assert sorted(links) == [1, 2, 3, 4, 5]
    assert f'href="http://care.test{links[5]}"' in mail.body_html
    first = client.get(links[5])
    assert first.status_code == 200 and "Great" in first.text
    assert client.get(links[2]).status_code == 200  # changed her mind: not an error
    comment_path = links[2].rsplit("/", 1)[0]
    thanks = client.post(comment_path, data={"rating": "4", "comment": "Tim was <quick>"})
    assert thanks.status_code == 200 and "Thank you" in thanks.text and "<quick>" not in thanks.text
    with app.app_context():
        [survey] = db.session.scalars(select(Survey)).all()
        assert (survey.ticket_id, survey.rating, survey.comment) == (ticket.id, 4, "Tim was <quick>")
    assert client.get(links[5]).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(Survey.comment)) == "Tim was <quick>"  # a click keeps the comment


def test_rating_links_are_signed_and_expire(app, client, monkeypatch):
    import itsdangerous.timed

    ticket, mail = resolved_ticket(app)
    path = rating_links(mail)[5]
    token = path.split("/")[3]
    assert client.get(f"/mail/rate/{token[:-3]}abc/5").status_code == 404
    with app.app_context(), app.test_request_context():
        real = itsdangerous.timed.time.time
        monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() - 31 * 86400)
        old = preferences.rating_token(db.session.get(Ticket, ticket.id))
        monkeypatch.undo()
    expired = client.get(f"/mail/rate/{old}/5")
    assert expired.status_code == 410 and "expired" in expired.text
    assert client.get(f"/mail/rate/{old}/5").status_code == 410


def test_a_rating_from_the_mail_shows_on_the_dashboard_and_in_the_agents_figures(app, client, auth):
    ticket, mail = resolved_ticket(app)
    links = rating_links(mail)
    client.get(links[4])
    client.post(links[4].rsplit("/", 1)[0], data={"rating": "4", "comment": "Quick & <friendly>"})
    auth.login("kim")
    dashboard = client.get("/admin/dashboard").text
    assert "Quick &amp; &lt;friendly&gt;" in dashboard and ticket.number in dashboard
    assert "Tim Agent" in dashboard.split('data-testid="comments"')[1]
    queue = client.get("/admin/").text
    assert "4.0 / 5" in queue.split('data-testid="csat-tim"')[1][:80]
    auth.logout()
    auth.login("tim")
    mine = client.get("/agent/").text
    assert "4.0 / 5" in mine.split('data-testid="my-csat"')[1][:60]


# --- admins: each new ticket, or a digest ----------------------------------------------------------

def test_an_admin_gets_each_new_ticket_or_a_digest_every_n_minutes(app, client, auth):
    auth.login("kim")
    assert client.post("/admin/notifications", data={"new_ticket_alerts": "each", "alert_digest_minutes": "15"}
                       ).status_code == 303
    with app.app_context():
        tickets.open_ticket(db.session, name="A", email="a@example.com", subject="Locked <out>")
        db.session.commit()
    assert kinds_to(app, "kim@support.example.com") == ["new_ticket"]
    client.post("/admin/notifications", data={"new_ticket_alerts": "digest", "alert_digest_minutes": "10"})
    with app.app_context():
        start = db.session.scalar(select(User.alert_digest_through).where(User.username == "kim"))
        for i in range(3):
            tickets.open_ticket(db.session, name="B", email=f"b{i}@example.com", subject=f"Question {i}")
        db.session.commit()
    from escalation.mail.alerts import digests_due

    def digest_at(minutes: float) -> int:
        with app.app_context():
            written = digests_due(db.session, now=start + timedelta(minutes=minutes))
            db.session.commit()
            return written

    assert digest_at(9) == 0  # not yet
    assert digest_at(10.5) == 1
    assert digest_at(11) == 0  # once per window
    assert digest_at(25) == 0  # nothing new came in: no empty digest
    assert kinds_to(app, "kim@support.example.com") == ["new_ticket", "ticket_digest"]
    with app.app_context():
        digest = db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "ticket_digest"))
    assert digest.subject.startswith("3 new tickets since")
    assert all(f"Question {i}" in digest.body_text for i in range(3)) and "Locked" not in digest.body_text
    client.post("/admin/notifications", data={"new_ticket_alerts": "off", "alert_digest_minutes": "10"})
    with app.app_context():
        tickets.open_ticket(db.session, name="C", email="c@example.com", subject="Later")
        db.session.commit()
    assert digest_at(60) == 0
    assert kinds_to(app, "kim@support.example.com") == ["new_ticket", "ticket_digest"]


def test_two_workers_send_one_digest(app):
    with app.app_context():
        kim = db.session.scalar(select(User).where(User.username == "kim"))
        kim.new_ticket_alerts, kim.alert_digest_minutes = "digest", 5
        kim.alert_digest_through = utcnow() - timedelta(minutes=6)
        tickets.open_ticket(db.session, name="A", email="a@example.com", subject="q")
        db.session.commit()
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(name: str) -> None:
        try:
            start.wait()
            for _ in range(3):
                run_pass(app, name)
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert kinds_to(app, "kim@support.example.com").count("ticket_digest") == 1
