"""A worker process is SIGKILLed while it holds outbox leases, in the middle of an SMTP session.

Two real ``flask --app escalation worker`` processes share one PostgreSQL database; a loopback
SMTP server stalls the first session it gets at a chosen point, the test kills the worker
that holds the stalled mail (``kill -9`` of its process group: no ``finally``, no rollback
message, the TCP connections just drop), and the surviving worker must finish the job once
the dead worker's lease (``MAIL_LEASE_SECONDS``) has run out.

What the outbox guarantees (``escalation/mail/outbox.py``), and what these tests prove:

- ``envelope``: killed before the mail was marked ``sending`` (stalled at RCPT TO). The mail
  certainly did not reach the server, so the survivor sends it after the lease: every mail
  arrives **exactly once**, nothing is lost.
- ``data``: killed after ``sending`` was committed and the server already *accepted* the mail
  (it stalls before its 250 reply: the worst case — delivered, but the worker never learned).
  The row is never resent by itself (**at most once**): after the lease it becomes ``failed``
  with an "may or may not have arrived" explanation, for an admin to decide
  (``/admin/outbox`` → send again). The other mails the dead worker had claimed are sent by
  the survivor exactly once. No mail is ever sent twice automatically; a mail can only be
  "lost" to this uncertain state, visibly, never silently.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, select, text

from careops.processes import VENV, Process, free_port
from careops.supervisor import Supervisor

from ..databases import postgres_database
from .conftest import keep_logs

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
LEASE = 4  # seconds; short so that the survivor's take-over happens within the test
WAIT = 60.0


class StallingSmtp:
    """aiosmtpd on loopback that records what it accepts; the first session that reaches
    ``stall_at`` (``"envelope"``: RCPT TO, ``"data"``: after accepting, before replying 250)
    hangs there until the test ends."""

    def __init__(self, stall_at: str) -> None:
        self.stall_at, self.port = stall_at, free_port()
        self.accepted: list[tuple[str, float]] = []  # Message-ID, monotonic time
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.sessions = 0
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    async def _hang(self) -> None:
        self.stalled.set()
        while not self.release.is_set():
            await asyncio.sleep(0.1)

    def _first_stall(self) -> bool:
        with self.lock:
            first = not self.stalled.is_set()
            if first:
                self.stalled.set()
            return first

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        with self.lock:
            self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if self.stall_at == "envelope" and self._first_stall():
            await self._hang()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        with self.lock:
            self.accepted.append((str(message["Message-ID"]).strip(), time.monotonic()))
        if self.stall_at == "data" and self._first_stall():
            await self._hang()  # the mail is delivered; the worker never hears so
        return "250 2.0.0 accepted"

    def copies(self) -> Counter[str]:
        with self.lock:
            return Counter(mid for mid, _ in self.accepted)

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, server_hostname="smtp.test")
        self.controller.start()

    def stop(self) -> None:
        self.release.set()
        if self.controller is not None:
            self.controller.stop()
            self.controller.loop.close()


def wait_until(condition, what: str, timeout: float = WAIT) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def database() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.mark.parametrize("stall_at", ["envelope", "data"])
def test_worker_killed_mid_send(stall_at: str, database: str, tmp_path: Path) -> None:
    from escalation import create_app, tickets
    from escalation.db import db
    from escalation.models import OutboxMail
    from escalation.schema import upgrade

    smtp = StallingSmtp(stall_at)
    smtp.start()
    settings = {"CARE_DATABASE_URL": database, "CARE_INSTANCE_DIR": str(tmp_path / "instance"),
                "CARE_SMTP_HOST": "127.0.0.1", "CARE_SMTP_PORT": str(smtp.port), "CARE_SMTP_SECURITY": "none",
                "CARE_SMTP_TIMEOUT": "120", "CARE_MAIL_LEASE_SECONDS": str(LEASE), "CARE_WORKER_INTERVAL": "0.5",
                "CARE_MAIL_RETRY_SECONDS": "1", "CARE_SECRET_KEY": "faults-secret"}
    app = create_app({"DATABASE_URL": database})
    upgrade(app)
    engine = create_engine(database)

    def query(sql: str) -> list[Any]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]

    supervisor = Supervisor(tmp_path / "log")
    try:
        for name in ("worker-a", "worker-b"):
            supervisor.start(Process(name, [str(VENV / "flask"), "--app", "escalation", "worker"], "",
                                     env={**settings, "PYTHONUNBUFFERED": "1"}))
        pids = {child.pid: name for name, child in supervisor.children.items()}
        host = socket.gethostname()
        wait_until(lambda: {r[0] for r in query("SELECT worker_id FROM worker_heartbeats")}
                   >= {f"{host}:{pid}" for pid in pids}, "both workers' first pass")

        with app.app_context():  # three tickets, one commit: three acknowledgements in the outbox
            for i in range(3):
                tickets.open_ticket(db.session, name=f"Customer {i}", email=f"kill{i}@example.com",
                                    subject=f"Question {i}")
            db.session.commit()
            mails = {m.message_id: m.id for m in db.session.scalars(select(OutboxMail))}
        assert len(mails) == 3

        assert smtp.stalled.wait(WAIT), "no worker reached the SMTP server"
        stuck_status = "pending" if stall_at == "envelope" else "sending"
        wait_until(lambda: query(f"SELECT count(*) FROM outbox WHERE status = '{stuck_status}' "
                                 "AND lease_owner IS NOT NULL") != [(0,)], f"a leased {stuck_status} mail")
        owners = {r[0] for r in query("SELECT lease_owner FROM outbox WHERE lease_owner IS NOT NULL")}
        holders = {pids[int(owner.split("/")[0].rsplit(":", 1)[1])] for owner in owners}
        assert len(holders) == 1, owners  # one worker claimed the batch (SKIP LOCKED kept the other out)
        victim = holders.pop()
        survivor = ({"worker-a", "worker-b"} - {victim}).pop()
        os.killpg(supervisor.children[victim].pid, signal.SIGKILL)
        assert supervisor.children[victim].wait(timeout=30) == -signal.SIGKILL
        killed_at = time.monotonic()
        before_kill = query("SELECT id, status FROM outbox ORDER BY id")

        if stall_at == "envelope":
            wait_until(lambda: query("SELECT count(*) FROM outbox WHERE status = 'sent'") == [(3,)],
                       "the survivor to send every mail")
        else:
            wait_until(lambda: query("SELECT status, count(*) FROM outbox GROUP BY status ORDER BY status")
                       == [("failed", 1), ("sent", 2)], "the survivor to settle every mail")
        done_at = time.monotonic()
        survivor_id = f"{host}:{supervisor.children[survivor].pid}"
        passes = query(f"SELECT passes FROM worker_heartbeats WHERE worker_id = '{survivor_id}'")[0][0]
        wait_until(lambda: query(f"SELECT passes FROM worker_heartbeats WHERE worker_id = '{survivor_id}'")[0][0]
                   >= passes + 6, "more passes of the survivor")  # it would resend now if it ever did
        rows = query("SELECT message_id, status, attempts, last_error FROM outbox ORDER BY id")
        print(f"\n[{stall_at}] killed {victim} holding {len(mails)} mails ({before_kill}); settled "
              f"{done_at - killed_at:.1f}s later (lease {LEASE}s); rows {[(s, a) for _, s, a, _ in rows]}; "
              f"copies at the server {sorted(smtp.copies().values())}; SMTP sessions {smtp.sessions}")
    finally:
        supervisor.stop()
        smtp.stop()
        engine.dispose()
        app.extensions["care_engine"].dispose()
        keep_logs(f"worker-killed-{stall_at}", tmp_path / "log")

    assert supervisor_exit_ok(survivor, tmp_path)
    copies = smtp.copies()
    assert set(copies) <= set(mails)
    assert max(copies.values()) == 1, copies  # never a second copy
    if stall_at == "envelope":
        assert copies == Counter(dict.fromkeys(mails, 1))  # exactly once each, nothing lost
        assert {status for _, status, _, _ in rows} == {"sent"}
    else:
        uncertain = [(mid, error) for mid, status, _, error in rows if status == "failed"]
        assert len(uncertain) == 1 and "may or may not have arrived" in uncertain[0][1]
        assert copies[uncertain[0][0]] == 1  # it did arrive; it was not sent again
        assert copies == Counter(dict.fromkeys(mails, 1))


def supervisor_exit_ok(name: str, tmp_path: Path) -> bool:
    """The survivor logged no crash (it stopped on our SIGTERM)."""
    log = (tmp_path / "log" / f"{name}.log").read_text(errors="replace")
    return "Traceback" not in log
