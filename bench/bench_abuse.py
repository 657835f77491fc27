"""Abuse on loopback: many clients opening tickets and searching the KB at once (issue 12).

Starts only the escalation service, served by gunicorn exactly as the stack runs it
(``careops.processes.stack``), on a fresh SQLite database with the real KB index and model.
Then:

1. **idle**: ordinary customers (each search from another IP, through the bot) search the
   KB, one request after the other, for ``--idle-seconds``; their latency is the baseline;
2. **abuse**: ``--clients`` threads for ``--seconds`` each loop as fast as the service answers:
   open a ticket as the bot would for one abusive browser (service token,
   ``X-Care-Client-IP: 203.0.113.66``, one ``X-Care-Conversation`` per thread), then search
   the KB directly (no token: the service sees loopback, the abuser's own address). Meanwhile
   ordinary customers keep searching the same way as in 1, and one opens a ticket.

Reported: the statuses each kind of request got, whether every 429 carried ``Retry-After``,
tickets created and confirmation mails queued (read from the database), whether the service
still answers its health check, and the ordinary customer's p50/p95 idle and under abuse.
Bounded: it stops after ``--seconds``, and every request has a timeout.

    .venv/bin/python bench/bench_abuse.py                 # 50 clients, 20 s, default quotas
    .venv/bin/python bench/bench_abuse.py --clients 10 --seconds 5 --ticket-limit 5

``run()`` is what ``tests/e2e/test_abuse.py`` calls, with small limits.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from careops.processes import VENV, StackConfig, common_env, free_port, stack  # noqa: E402
from careops.supervisor import Supervisor  # noqa: E402

TOKEN = "abuse-bench-token"
ABUSER_IP = "203.0.113.66"
CUSTOMER_IP = "198.51.100.1"
QUESTIONS = ("How do I reset my password?", "my account is inactive, how do I reactivate it",
             "where is my parcel", "I was charged twice for my order", "how do I return an item")


def other_customer_ip(i: int) -> str:
    return f"198.51.{100 + (i // 250) % 100}.{1 + i % 250}"


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def machine() -> str:
    load = os.getloadavg()
    return (f"{os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}, "
            f"load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")


@dataclass
class Result:
    idle_ms: list[float] = field(default_factory=list)
    loaded_ms: list[float] = field(default_factory=list)
    customer_statuses: Counter = field(default_factory=Counter)
    customer_ticket: int = 0
    ticket_statuses: Counter = field(default_factory=Counter)
    search_statuses: Counter = field(default_factory=Counter)
    missing_retry_after: int = 0
    errors: Counter = field(default_factory=Counter)
    tickets_created: int = 0
    mails_queued: int = 0
    healthy_after: bool = False
    seconds: float = 0.0

    def summary(self) -> dict:
        idle95, loaded95 = pct(self.idle_ms, 95), pct(self.loaded_ms, 95)
        return {
            "idle_p50_ms": round(pct(self.idle_ms, 50), 1), "idle_p95_ms": round(idle95, 1),
            "loaded_p50_ms": round(pct(self.loaded_ms, 50), 1), "loaded_p95_ms": round(loaded95, 1),
            "p95_ratio": round(loaded95 / idle95, 2) if idle95 else None,
            "customer_searches": len(self.loaded_ms), "customer_statuses": dict(self.customer_statuses),
            "customer_ticket": self.customer_ticket,
            "abuser_tickets": dict(self.ticket_statuses), "abuser_searches": dict(self.search_statuses),
            "missing_retry_after": self.missing_retry_after, "errors": dict(self.errors),
            "tickets_created": self.tickets_created, "mails_queued": self.mails_queued,
            "healthy_after": self.healthy_after, "seconds": round(self.seconds, 1),
        }


def ticket_body(n: str, conversation: str) -> dict:
    return {"name": f"Victim {n}", "email": f"victim-{n}@example.com", "conversation_id": conversation,
            "transcript": [{"sender": "user", "text": "please contact me"}]}


def start_service(base: Path, env_overrides: dict[str, str]) -> tuple[Supervisor, StackConfig]:
    config = StackConfig(escalation_port=free_port(), instance_dir=base / "instance", var_dir=base / "var",
                         database_url=f"sqlite:///{base / 'escalation.sqlite3'}", service_token=TOKEN,
                         secret_key="abuse-bench-secret",
                         extra_env={"CARE_KB_INDEX_DIR": str(ROOT / "var" / "kb_index"), "CARE_LOG_LEVEL": "WARNING",
                                    **env_overrides})
    config.var_dir.mkdir(parents=True, exist_ok=True)
    escalation = stack(config)[0]
    # no access log: 50 clients' lines would cost the 2-core box more than the requests
    escalation = dataclasses.replace(escalation, argv=[a for a in escalation.argv
                                                       if a not in ("--access-logfile", "-")])
    env = {**os.environ, **common_env(config), "CARE_INSTANCE_DIR": str(config.instance_dir)}
    subprocess.run([str(VENV / "flask"), "--app", "escalation", "init-db", "--no-demo"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    supervisor = Supervisor(base / "log", echo=lambda line: print(line, file=sys.stderr, flush=True))
    supervisor.start(escalation)
    try:
        supervisor.wait_healthy()
    except BaseException:
        supervisor.stop()
        raise
    return supervisor, config


def run(*, clients: int = 50, seconds: float = 20.0, idle_seconds: float = 5.0, ticket_limit: int = 10,
        conversation_limit: int = 3, kb_limit: int = 120, base: Path | None = None) -> Result:
    """Start the service, measure idle, run the abuse, stop the service; returns the figures."""
    overrides = {"CARE_RATE_LIMIT_TICKETS_PER_IP": str(ticket_limit),
                 "CARE_RATE_LIMIT_TICKETS_PER_CONVERSATION": str(conversation_limit),
                 "CARE_RATE_LIMIT_KB_SEARCHES": str(kb_limit)}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = base or Path(tmp)
        supervisor, config = start_service(workdir, overrides)
        try:
            result = _abuse(config.api_url, clients, seconds, idle_seconds)
            result.healthy_after = not supervisor.exited() and \
                requests.get(f"{config.api_url}/api/v1/health", timeout=10).status_code == 200
        finally:
            supervisor.stop()
        with sqlite3.connect(workdir / "escalation.sqlite3") as conn:
            result.tickets_created = conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
            result.mails_queued = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    return result


def _abuse(url: str, clients: int, seconds: float, idle_seconds: float) -> Result:
    result = Result()
    lock = threading.Lock()
    bot = {"Authorization": f"Bearer {TOKEN}"}
    customer = requests.Session()
    customer_headers = {**bot, "X-Care-Client-IP": CUSTOMER_IP, "X-Care-Conversation": "customer-conv"}

    def customer_search(i: int, into: list[float]) -> None:
        started = time.perf_counter()
        try:
            # each search is another ordinary customer (their own IP): none comes near a quota
            response = customer.get(f"{url}/api/v1/kb/search", params={"q": QUESTIONS[i % len(QUESTIONS)]},
                                    headers={**customer_headers, "X-Care-Client-IP": other_customer_ip(i)},
                                    timeout=30)
        except requests.RequestException as exc:
            with lock:
                result.errors[f"customer {type(exc).__name__}"] += 1
            return
        into.append((time.perf_counter() - started) * 1000)
        result.customer_statuses[response.status_code] += 1

    for i in range(3):  # warm-up, not measured
        customer_search(i, [])
    result.customer_statuses.clear()
    end = time.monotonic() + idle_seconds
    i = 3
    while time.monotonic() < end:
        customer_search(i, result.idle_ms)
        i += 1
        time.sleep(0.05)
    result.customer_statuses.clear()

    stop = threading.Event()
    start = threading.Barrier(clients + 1)

    def abuser(n: int) -> None:
        session = requests.Session()
        headers = {**bot, "X-Care-Client-IP": ABUSER_IP, "X-Care-Conversation": f"abuse-{n}"}
        start.wait()
        k = 0
        while not stop.is_set():
            k += 1
            for kind, call in (
                ("ticket", lambda: session.post(f"{url}/api/v1/tickets", json=ticket_body(f"{n}-{k}", f"abuse-{n}"),
                                                headers={**headers, "Idempotency-Key": uuid.uuid4().hex}, timeout=30)),
                ("search", lambda: session.get(f"{url}/api/v1/kb/search",
                                               params={"q": QUESTIONS[k % len(QUESTIONS)]}, timeout=30)),
            ):
                if stop.is_set():
                    return
                try:
                    response = call()
                except requests.RequestException as exc:
                    with lock:
                        result.errors[f"{kind} {type(exc).__name__}"] += 1
                    continue
                with lock:
                    (result.ticket_statuses if kind == "ticket" else result.search_statuses)[response.status_code] += 1
                    if response.status_code == 429 and not response.headers.get("Retry-After", "").isdigit():
                        result.missing_retry_after += 1

    threads = [threading.Thread(target=abuser, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    try:
        opened = customer.post(f"{url}/api/v1/tickets", json=ticket_body("customer", "customer-conv"),
                               headers={**customer_headers, "Idempotency-Key": "customer"}, timeout=30)
        result.customer_ticket = opened.status_code
    except requests.RequestException as exc:
        result.errors[f"customer ticket {type(exc).__name__}"] += 1
    while time.monotonic() - began < seconds:
        customer_search(i, result.loaded_ms)
        i += 1
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(35)
    result.seconds = time.monotonic() - began
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--ticket-limit", type=int, default=10, help="CARE_RATE_LIMIT_TICKETS_PER_IP")
    parser.add_argument("--conversation-limit", type=int, default=3, help="CARE_RATE_LIMIT_TICKETS_PER_CONVERSATION")
    parser.add_argument("--kb-limit", type=int, default=120, help="CARE_RATE_LIMIT_KB_SEARCHES")
    args = parser.parse_args()
    from careops.ephemeral import missing_build_outputs

    missing = [m for m in missing_build_outputs() if "kb_index" in m]
    if missing:
        sys.exit("; ".join(missing))
    print(f"# {machine()}", flush=True)
    result = run(clients=args.clients, seconds=args.seconds, idle_seconds=args.idle_seconds,
                 ticket_limit=args.ticket_limit, conversation_limit=args.conversation_limit, kb_limit=args.kb_limit)
    print(json.dumps(result.summary(), indent=2))


if __name__ == "__main__":
    main()
