"""Time from a ticket event to the customer's mail in the mail catcher.

Everything real, on loopback: a fresh SQLite database, the worker as its own process
(`flask --app escalation worker`, default interval unless --interval), and the development
mail catcher's SMTP server and store (`escalation/mail/catcher.py`) recording arrivals.

The event is an assignment ("Tim is looking at CR-…", the customer's `allocated` mail,
written to the outbox in the assignment's transaction). Events happen at random moments of the
worker's cycle (spread over ``--count`` × ``--spacing`` seconds, so the phase is sampled
fairly and several mails can share a pass), each timed from its commit to the catcher storing
the mail. Chat replies not seen live add ``CARE_CHAT_REPLY_MAIL_DELAY`` to this on purpose.

    .venv/bin/python bench/bench_notify_latency.py                  # 200 events, 5 s passes
    .venv/bin/python bench/bench_notify_latency.py --count 50 --interval 1
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FLASK = str(Path(sys.executable).with_name("flask"))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--interval", type=float, default=5.0, help="worker pass interval (CARE_WORKER_INTERVAL)")
    parser.add_argument("--spacing", type=float, default=1.0, help="mean seconds between two events")
    parser.add_argument("--timeout", type=float, default=120.0, help="most seconds to wait for the last mail")
    args = parser.parse_args()

    from escalation.mail import catcher
    from tests.escalation.mail_servers import free_port

    work = Path(tempfile.mkdtemp(prefix="care-bench-notify-"))
    store = catcher.Store(work / "mailcatcher.sqlite3")
    smtp_port = free_port()
    controller = catcher.start_smtp(store, "127.0.0.1", smtp_port)
    env = {**os.environ, "CARE_INSTANCE_DIR": str(work), "CARE_DATABASE_URL": f"sqlite:///{work}/bench.sqlite3",
           "CARE_SMTP_HOST": "127.0.0.1", "CARE_SMTP_PORT": str(smtp_port), "CARE_SMTP_SECURITY": "none",
           "CARE_WORKER_INTERVAL": str(args.interval), "CARE_LOG_LEVEL": "WARNING"}
    os.environ.update({k: v for k, v in env.items() if k.startswith("CARE_")})
    worker: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run([FLASK, "--app", "escalation", "init-db", "--demo-password", "bench-pass-1"], env=env,
                       cwd=ROOT, check=True, capture_output=True, timeout=120)
        from sqlalchemy import func, select

        from escalation import create_app, tickets
        from escalation.db import db
        from escalation.models import OutboxMail, User

        app = create_app()
        with app.app_context():
            numbers = [tickets.open_ticket(db.session, name=f"Customer {i}", email=f"c{i}@bench.example",
                                           subject="My account is inactive").ticket.number for i in range(args.count)]
            db.session.commit()
        with open(work / "worker.log", "wb") as log:
            worker = subprocess.Popen([FLASK, "--app", "escalation", "worker"], env=env, cwd=ROOT,
                                      stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + args.timeout + args.count
        while True:  # the acknowledgements go first: measure the assignments alone
            with app.app_context():
                pending = db.session.scalar(select(func.count()).select_from(OutboxMail)
                                            .where(OutboxMail.status != "sent"))
            if not pending:
                break
            if time.monotonic() > deadline:
                raise SystemExit("the acknowledgements were not sent: is the worker running? see worker.log")
            time.sleep(0.5)
        store.clear()
        committed: dict[str, float] = {}
        pause = random.Random(11)
        with app.app_context():
            tim = db.session.scalar(select(User).where(User.username == "tim"))
            for number in numbers:
                time.sleep(pause.uniform(0, 2 * args.spacing))
                tickets.assign(db.session, tickets.get_by_number(db.session, number), tim, "kim")
                db.session.commit()
                committed[number] = time.time()
        arrived: dict[str, float] = {}
        deadline = time.monotonic() + args.timeout
        while len(arrived) < len(committed) and time.monotonic() < deadline:
            for mail in store.listing(limit=10 * args.count):
                subject = mail.header("Subject")
                if subject.startswith("Tim is looking at "):
                    arrived.setdefault(subject.rsplit(" ", 1)[1], mail.received_at)
            time.sleep(0.2)
        latencies = [arrived[n] - committed[n] for n in committed if n in arrived]
        missing = len(committed) - len(latencies)
        twice = len([m for m in store.listing(limit=10 * args.count)
                     if m.header("Subject").startswith("Tim is looking at ")]) - len(arrived)
        print(f"events {len(committed)}, mails {len(latencies)}, missing {missing}, duplicates {twice}, "
              f"worker interval {args.interval:g} s")
        print(f"event → mail in the catcher: mean {statistics.mean(latencies) * 1000:.0f} ms, "
              f"p50 {percentile(latencies, 50) * 1000:.0f} ms, p95 {percentile(latencies, 95) * 1000:.0f} ms, "
              f"max {max(latencies) * 1000:.0f} ms")
        return 0 if not missing and not twice else 1
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        controller.stop()
        store.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
