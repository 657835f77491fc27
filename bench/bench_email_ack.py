"""Time from a customer's e-mail to our acknowledgement arriving at the SMTP server.

Everything real, on loopback: a fresh SQLite database, the worker as its own process
(`flask --app escalation worker`), aiosmtpd recording arrivals, and the mail coming in either
through the MTA pipe (`flask --app escalation mail-in < message.eml`, a new process per
mail, as a mail server runs it) or through IMAP (dovecot, which the worker polls).

For each of ``--count`` mails, sent one after another, it measures

- total: from handing the mail over (starting `mail-in`, or the IMAP APPEND) to the
  acknowledgement (matched by In-Reply-To) being accepted by the SMTP server;
- for stdin, the `mail-in` process alone (start-up, parse, ticket + outbox row committed).

The worker sends the outbox on each pass, so the rest is mostly the wait for the next pass:
on average half of ``--interval`` (CARE_WORKER_INTERVAL); mails are handed over at random
moments of the worker's cycle so that wait is sampled fairly. Bounded: each mail waits at most
``--timeout`` seconds, then the run stops and says so.

    .venv/bin/python bench/bench_email_ack.py                      # stdin, 20 mails, 5 s passes
    .venv/bin/python bench/bench_email_ack.py --via imap --interval 1 --count 10
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.escalation.mail_servers import Dovecot, SmtpServer, dovecot_root  # noqa: E402

FLASK = str(Path(sys.executable).with_name("flask"))


def message(i: int) -> tuple[str, bytes]:
    mid = f"<bench-{i}-{os.getpid()}@customer.example>"
    mail = EmailMessage()
    mail["From"] = f"Laura {i} <laura{i}@customer.example>"
    mail["To"] = "Customer Care <care@support.example.com>"
    mail["Subject"] = "My account has been inactive for 2 years"
    mail["Message-ID"] = mid
    mail.set_content("Hello, I cannot sign in any more. Can you reactivate my account?")
    return mid, mail.as_bytes(policy=SMTP)


def wait_for_ack(smtp: SmtpServer, mid: str, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    with smtp.arrived:
        while True:
            for arrived in smtp.messages:
                if (arrived.message["In-Reply-To"] or "").strip() == mid:
                    return arrived.at
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            smtp.arrived.wait(left)


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return (f"{name:<28} n={len(samples):<3} mean {statistics.mean(samples) * 1000:7.0f} ms   "
            f"p50 {statistics.median(samples) * 1000:7.0f} ms   p90 {p90 * 1000:7.0f} ms   "
            f"max {ordered[-1] * 1000:7.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--via", choices=("stdin", "imap"), default="stdin")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--interval", type=float, default=5.0, help="worker pass interval (CARE_WORKER_INTERVAL)")
    parser.add_argument("--timeout", type=float, default=60.0, help="most seconds to wait for one acknowledgement")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="care-bench-mail-"))
    smtp = SmtpServer()
    smtp.start()
    imap: Dovecot | None = None
    worker: subprocess.Popen[bytes] | None = None
    env = {**os.environ, "CARE_INSTANCE_DIR": str(work), "CARE_DATABASE_URL": f"sqlite:///{work}/bench.sqlite3",
           "CARE_SMTP_HOST": "127.0.0.1", "CARE_SMTP_PORT": str(smtp.port), "CARE_SMTP_SECURITY": "none",
           "CARE_WORKER_INTERVAL": str(args.interval), "CARE_LOG_LEVEL": "WARNING"}
    try:
        if args.via == "imap":
            imap_root = dovecot_root()
            imap = Dovecot(imap_root)
            imap.start()
            env.update({f"CARE_{k}": str(v) for k, v in imap.settings().items()})
        subprocess.run([FLASK, "--app", "escalation", "init-db", "--no-demo"], env=env, cwd=ROOT, check=True,
                       capture_output=True, timeout=120)
        with open(work / "worker.log", "wb") as log:
            worker = subprocess.Popen([FLASK, "--app", "escalation", "worker"], env=env, cwd=ROOT,
                                      stdout=subprocess.DEVNULL, stderr=log)
        totals: list[float] = []
        pipe_times: list[float] = []
        pause = random.Random(7)
        for i in range(args.count):
            mid, raw = message(i)
            # mails arrive at a random moment of the worker's cycle, not just after a pass
            time.sleep(pause.uniform(0, args.interval))
            started = time.monotonic()
            if imap is not None:
                imap.deliver(raw)
            else:
                done = subprocess.run([FLASK, "--app", "escalation", "mail-in"], input=raw, env=env, cwd=ROOT,
                                      capture_output=True, timeout=args.timeout)
                if done.returncode != 0:
                    print(f"mail-in failed ({done.returncode}): {done.stderr.decode()}", file=sys.stderr)
                    return 1
                pipe_times.append(time.monotonic() - started)
            arrived = wait_for_ack(smtp, mid, args.timeout)
            if arrived is None:
                print(f"no acknowledgement for mail {i} within {args.timeout:.0f} s; worker log: {work / 'worker.log'}",
                      file=sys.stderr)
                return 1
            totals.append(arrived - started)
        duplicates = len(smtp.messages) - args.count
        print(f"e-mail → acknowledgement, via {args.via}, worker interval {args.interval:g} s, "
              f"{args.count} mails, SQLite, loopback ({platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} CPUs, Python {platform.python_version()})")
        print(summary("total (mail in → ack at SMTP)", totals))
        if pipe_times:
            print(summary("  of which mail-in process", pipe_times))
        print(f"acknowledgements received: {len(smtp.messages)} (duplicates: {duplicates})")
        return 0 if duplicates == 0 else 1
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        if imap is not None:
            imap.stop()
            shutil.rmtree(imap.root, ignore_errors=True)
        smtp.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
