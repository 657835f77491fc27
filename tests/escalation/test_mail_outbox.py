"""The outbox: an SMTP outage loses nothing, a worker crash sends nothing twice."""
from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from escalation import tickets
from escalation.db import db
from escalation.mail import outbox
from escalation.mail.outbound import SmtpSender
from escalation.models import OutboxMail, utcnow
from escalation.worker import run_pass

from .conftest import ticket_body
from .mail_servers import SmtpServer, smtp_server  # noqa: F401  (fixture)
from .test_mail_inbound import raw_mail


class WorkerDied(BaseException):
    """Stands for the worker process dying (kill -9, power cut): nothing after it runs."""


def configure(app, server: SmtpServer, **extra) -> None:
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, SMTP_SECURITY="none", **extra)


def open_tickets(app, n: int) -> list[str]:
    with app.app_context():
        numbers = [tickets.open_ticket(db.session, name=f"Customer {i}", email=f"c{i}@example.com",
                                       subject=f"Question {i}").ticket.number for i in range(n)]
        db.session.commit()
    return numbers


def rows(app) -> list[OutboxMail]:
    with app.app_context():
        return list(db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def deliver(app, worker: str = "w1", *, after: timedelta = timedelta(0), connect=None) -> outbox.Delivery:
    with app.app_context():
        return outbox.deliver_due(app, worker, now=utcnow() + after, connect=connect)


def arrived_ids(server: SmtpServer) -> Counter[str]:
    return Counter(m.message["Message-ID"].strip() for m in server.messages)


def test_an_smtp_outage_delays_mail_and_loses_none(app, client, bot_headers, smtp_server):
    configure(app, smtp_server)
    smtp_server.stop()
    for i in range(3):  # chat tickets through the API ...
        response = client.post("/api/v1/tickets", json=ticket_body(email=f"chat{i}@example.com"),
                               headers={**bot_headers, "Idempotency-Key": f"outage-{i}"})
        assert response.status_code == 201
    with app.app_context():  # ... and e-mail tickets
        from escalation.mail.inbound import receive_and_commit

        for i in range(2):
            receive_and_commit(db.session, raw_mail(sender=f"mail{i}@example.com", message_id=f"<m{i}@example.com>"))
    before = utcnow()
    assert run_pass(app, "w1")["mail_sent"] == 0
    waiting = rows(app)
    assert len(waiting) == 5
    assert {(m.status, m.attempts) for m in waiting} == {("pending", 1)}
    assert all("ConnectionRefusedError" in m.last_error for m in waiting)
    assert all(m.next_attempt_at >= before + timedelta(seconds=30) for m in waiting)  # backing off
    assert run_pass(app, "w1")["mail_sent"] == 0  # not due yet: no attempt spent
    assert {m.attempts for m in rows(app)} == {1}

    smtp_server.start()
    report = deliver(app, after=timedelta(seconds=31))
    assert len(report.sent) == 5
    for _ in range(3):  # later passes find nothing more to send
        assert run_pass(app, "w1")["mail_sent"] == 0
        assert not deliver(app, after=timedelta(hours=2))
    smtp_server.wait_for(5)
    assert sorted(arrived_ids(smtp_server).values()) == [1] * 5
    assert {m.message_id for m in waiting} == set(arrived_ids(smtp_server))
    assert {(m.status, m.attempts) for m in rows(app)} == {("sent", 1)}


@pytest.mark.parametrize("attempts, seconds", [(1, 30), (2, 60), (3, 120), (6, 960), (8, 3600), (19, 3600)])
def test_backoff_doubles_up_to_an_hour(app, attempts, seconds):
    assert outbox.backoff(app.config, attempts) == timedelta(seconds=seconds)


def test_after_the_last_attempt_the_mail_is_marked_failed(app, smtp_server):
    configure(app, smtp_server, MAIL_MAX_ATTEMPTS=3)
    smtp_server.stop()
    open_tickets(app, 1)
    for hours in range(3):
        deliver(app, after=timedelta(hours=hours))
    [mail] = rows(app)
    assert (mail.status, mail.attempts) == ("failed", 3)
    assert mail.last_error.startswith("gave up after 3 attempts: ConnectionRefusedError")


def test_a_refused_recipient_fails_that_mail_and_the_others_go_out(app, smtp_server):
    configure(app, smtp_server)
    smtp_server.refuse.add("c1@example.com")
    open_tickets(app, 3)
    report = deliver(app)
    assert (len(report.sent), len(report.failed)) == (2, 1)
    failed = [m for m in rows(app) if m.status == "failed"]
    assert [(m.to_addr, m.last_error) for m in failed] == \
        [("c1@example.com", "RCPT TO refused: 550 5.1.1 no such mailbox")]
    assert sorted(r for m in smtp_server.wait_for(2) for r in m.rcpt_tos) == ["c0@example.com", "c2@example.com"]


def test_a_worker_that_dies_after_claiming_only_delays_its_mail(app, smtp_server):
    configure(app, smtp_server)
    open_tickets(app, 2)

    def die(_config):
        raise WorkerDied

    with pytest.raises(WorkerDied):
        deliver(app, "w1", connect=die)
    assert {(m.status, m.lease_owner is not None) for m in rows(app)} == {("pending", True)}
    assert not deliver(app, "w2")  # still leased to the dead worker: nobody sends them
    report = deliver(app, "w2", after=timedelta(seconds=app.config["MAIL_LEASE_SECONDS"] + 1))
    assert len(report.sent) == 2
    smtp_server.wait_for(2)
    assert sorted(arrived_ids(smtp_server).values()) == [1, 1]


class DiesAfterData(SmtpSender):
    """The worst moment: the SMTP server has accepted the mail, the worker dies before recording it."""

    def data(self, message: bytes) -> None:
        super().data(message)
        raise WorkerDied


def test_a_worker_that_dies_mid_send_never_causes_a_second_copy(app, smtp_server):
    configure(app, smtp_server)
    open_tickets(app, 2)
    with pytest.raises(WorkerDied):
        deliver(app, "w1", connect=DiesAfterData.from_config)
    smtp_server.wait_for(1)
    assert [m.status for m in rows(app)] == ["sending", "pending"]

    later = timedelta(seconds=app.config["MAIL_LEASE_SECONDS"] + 1)
    report = deliver(app, "w2", after=later)
    assert len(report.sent) == 1  # the one never started
    first, second = rows(app)
    assert (first.status, second.status) == ("failed", "sent")
    assert "may or may not have arrived" in first.last_error
    for _ in range(3):
        assert not deliver(app, "w3", after=later * 2)
    assert sorted(arrived_ids(smtp_server).values()) == [1, 1]  # nothing twice

    with app.app_context():  # an admin decides to send it again
        outbox.send_again(db.session, first.id, "kim")
        db.session.commit()
    assert len(deliver(app, "w3").sent) == 1
    assert arrived_ids(smtp_server)[first.message_id] == 2


def test_a_worker_whose_lease_ran_out_leaves_the_mail_to_the_new_holder(app, smtp_server):
    configure(app, smtp_server)
    open_tickets(app, 1)
    later = timedelta(seconds=app.config["MAIL_LEASE_SECONDS"] + 1)
    taken_over: list[outbox.Delivery] = []

    class Stalls(SmtpSender):
        def envelope(self, envelope):
            if not taken_over:  # while w1 hangs here, its lease runs out and w2 takes the mail
                taken_over.append(deliver(app, "w2", after=later))
            super().envelope(envelope)

    report = deliver(app, "w1", connect=Stalls.from_config)
    assert report.skipped and not report.sent
    assert len(taken_over[0].sent) == 1
    smtp_server.wait_for(1)
    assert sorted(arrived_ids(smtp_server).values()) == [1]


def test_concurrent_workers_send_each_mail_exactly_once(app, smtp_server):
    configure(app, smtp_server, MAIL_LEASE_SECONDS=600)
    numbers = open_tickets(app, 24)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(name: str) -> None:
        try:
            start.wait()
            for _ in range(3):
                deliver(app, name)
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    smtp_server.wait_for(len(numbers))
    assert sorted(arrived_ids(smtp_server).values()) == [1] * len(numbers)
    assert {m.status for m in rows(app)} == {"sent"}


def test_send_again_only_takes_failed_mail(app):
    open_tickets(app, 1)
    [mail] = rows(app)
    with app.app_context():
        from escalation.errors import Conflict, NotFound

        with pytest.raises(Conflict):
            outbox.send_again(db.session, mail.id, "kim")
        with pytest.raises(NotFound):
            outbox.send_again(db.session, 999, "kim")


# -- PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED (the app fixture gives these a PostgreSQL database) --

@pytest.mark.postgres
def test_postgres_claims_skip_rows_another_worker_has_locked(app):
    from sqlalchemy.orm import Session

    open_tickets(app, 3)
    first_id = rows(app)[0].id
    with app.app_context():
        engine = db.engine
    with Session(engine) as locker:  # another worker in the middle of its claim holds the first row
        locker.execute(select(OutboxMail.id).where(OutboxMail.id == first_id).with_for_update())
        with app.app_context():
            ids, _owner = outbox.claim(db.session, "w2", now=utcnow(), limit=10, lease=timedelta(minutes=2))
        assert first_id not in ids and len(ids) == 2
        locker.rollback()
    with app.app_context():
        ids, _owner = outbox.claim(db.session, "w3", now=utcnow(), limit=10, lease=timedelta(minutes=2))
    assert ids == [first_id]  # the others are leased to w2


@pytest.mark.postgres
def test_postgres_concurrent_workers_send_each_mail_exactly_once(app, smtp_server):
    test_concurrent_workers_send_each_mail_exactly_once(app, smtp_server)
