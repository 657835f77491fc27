"""1,000,000 tickets in PostgreSQL: ticket creation, the admin queue and the dashboard.

Loopback only, bounded in time. The script

1. creates a fresh PostgreSQL database (``--db``, default ``care_bench``; ``--keep`` reuses a
   filled one) and migrates it with the app's own Alembic migrations, stopping at revision
   ``BEFORE`` (the schema before the migration under test, ``AFTER``);
2. fills it with COPY into the tables of the SQLAlchemy models (column lists taken from
   ``Model.__table__``): ``--tickets`` tickets (default 1,000,000) from a quarter as many
   customers, 40 agents, and per ticket on average ~1 message, ~1.2 audit entries,
   ~0.6 ticket events, plus surveys (15 % of resolved/closed tickets) and bot outcomes
   (0.5 per ticket). Distributions: created over two years, skewed to recent days
   (~7 % in the last 14 days; ids in creation order); statuses by age (recent ones open, old ones closed);
   priorities low/normal/high/urgent 20/55/20/5 %; 7 categories; two channels 70/30;
   assignees Zipf-like over the agents; SLA states, first-response and resolution
   times drawn per ticket. Secondary indexes are dropped for the load and rebuilt after
   it (as a restore does), foreign-key triggers are off during the COPY only;
3. "before": runs this script as it was at ``--baseline-ref`` (``git archive`` into a temporary
   folder; that code at its own head, ``BEFORE``) on the same database, so the baseline is
   measured in the same run on the same data; then "after": runs the ``AFTER`` migration
   (timed) and measures this code (Flask test client, logged in as the admin; the API with
   the service token; ``tickets.open_ticket``): p50/p95 over ``--runs`` repetitions, SQL
   statements per request (a ``before_cursor_execute`` listener) and the time of each
   statement of the dashboard separately. Since 0017 the dashboard's and the agents' figures
   come from the worker's snapshot on a desk this size: a separate process does the worker's
   figure pass (``figure_snapshots.refresh_due``) every ``CARE_FIGURES_REFRESH_SECONDS`` during the
   measurement (so it competes with the requests for the cores and the database, as the
   worker process on the same machine does), and its durations are printed;
4. with ``--explain``, prints EXPLAIN (ANALYZE, BUFFERS) of the slowest statements.

    .venv/bin/python bench/bench_tickets_pg.py                    # fill 1M + before/after
    .venv/bin/python bench/bench_tickets_pg.py --keep --phases before,after --runs 30
    .venv/bin/python bench/bench_tickets_pg.py --keep --phases after --explain
    .venv/bin/python bench/bench_tickets_pg.py --tickets 100000 --db care_bench_small
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import multiprocessing
import os
import platform
import queue
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import logging  # noqa: E402

from sqlalchemy import create_engine, event, text  # noqa: E402

from escalation import create_app  # noqa: E402
from pgdb import create_database, database_exists, database_url as db_url  # noqa: E402
from escalation.db import db  # noqa: E402
from escalation.models import (AuditEntry, BotOutcome, Customer, Message, Survey, Ticket,  # noqa: E402
                               TicketEvent, User)
from escalation.schema import alembic_config  # noqa: E402
from escalation.triage import CATEGORIES  # noqa: E402
from escalation.users import seed_demo_users  # noqa: E402

PASSWORD = "bench-password-1"
TOKEN = "bench-service-token"
NOW = datetime.now(timezone.utc).replace(microsecond=0)

FIRST = ("Laura", "Ahmed", "Mei", "Jonas", "Sofia", "Liam", "Aisha", "Mateo", "Emma", "Noah", "Olga", "Ravi",
         "Chloe", "Yuki", "Lucas", "Fatima", "Ivan", "Zoe", "Omar", "Nina")
LAST = ("Smith", "Garcia", "Chen", "Müller", "Rossi", "Kowalski", "Haddad", "Tanaka", "Silva", "Dubois",
        "Novak", "Ivanova", "Patel", "O'Brien", "Jensen", "Nguyen")
SUBJECTS = (
    "I was charged twice for my order", "Refund not received yet", "Cannot log in to my account",
    "Reactivate my account", "Parcel not delivered", "Where is my order", "Invoice is wrong",
    "App crashes on start", "Delete my personal data", "Return a damaged item", "Change my delivery address",
    "Payment declined", "Two-factor code never arrives", "Subscription renewed without notice",
    "Exchange for a different size", "Tracking link does not work", "Locked out after password reset",
    "Error when paying by card", "Courier left the parcel outside", "Order arrived incomplete",
    "Conversation with the assistant", "Website not loading", "Cancel my subscription", "Discount code rejected",
)
PRODUCTS = ("", "", "", " (mobile app)", " - urgent", " on the website", " again", " for the second time")
STATUS_BY_AGE = (  # (max age in days, {status: weight})
    (2, {"new": 15, "assigned": 15, "acknowledged": 10, "in_progress": 25, "waiting_on_customer": 15,
         "resolved": 15, "closed": 5}),
    (7, {"new": 2, "assigned": 3, "acknowledged": 3, "in_progress": 12, "waiting_on_customer": 15,
         "resolved": 35, "closed": 30}),
    (30, {"in_progress": 3, "waiting_on_customer": 5, "resolved": 7, "closed": 85}),
    (10_000, {"waiting_on_customer": 0.3, "resolved": 0.7, "closed": 99}),
)
PRIORITY_WEIGHTS = {"low": 20, "normal": 55, "high": 20, "urgent": 5}
POLICY = {"urgent": (15, 240), "high": (60, 480), "normal": (240, 1440), "low": (480, 4320)}
AGENTS = 40
BEFORE, AFTER = "0016", "0017"  # the schema measured "before" and the migration measured "after" it
BASELINE_REF = "b171533"  # the code before figure snapshots (0017): what "before" runs
STATEMENTS: list[tuple[str, Any, float]] = []  # (sql, params, seconds) of the statements of one request


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines()
                          if l.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration):
        mem_kb = 0
    load = os.getloadavg()
    return (f"{os.cpu_count()} CPUs ({cpu}), {mem_kb / 1024 / 1024:.1f} GiB RAM, {platform.platform()}, "
            f"Python {platform.python_version()}, load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def ts(value: datetime | None) -> str:
    return "\\N" if value is None else value.isoformat()


def esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


# ---------------------------------------------------------------------------------------------- fill


def make_app(url: str):  # type: ignore[no-untyped-def]
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SERVICE_TOKEN": TOKEN, "SECRET_KEY": "bench",
                      "WTF_CSRF_ENABLED": False, "PUBLIC_URL": "http://care.bench", "LOG_LEVEL": "WARNING"})
    try:  # as the served app does (escalation/wsgi.py); a baseline without it runs as it was
        from escalation.heap import freeze_heap
    except ImportError:
        pass
    else:
        freeze_heap()
    return app


def migrate(app, revision: str) -> None:  # type: ignore[no-untyped-def]
    from alembic import command

    logging.getLogger("alembic").setLevel(logging.WARNING)
    config = alembic_config(app)
    with app.app_context():
        current = db.session.scalar(text("SELECT version_num FROM alembic_version")) \
            if db.session.scalar(text("SELECT to_regclass('alembic_version')")) else None
        db.session.close()
    if current is not None and current > revision:
        command.downgrade(config, revision)
    else:
        command.upgrade(config, revision)


def current_revision(url: str) -> str | None:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = conn.scalar(text("SELECT to_regclass('alembic_version')"))
        rev = conn.scalar(text("SELECT version_num FROM alembic_version")) if found else None
    engine.dispose()
    return rev


def weighted(rng: random.Random, weights: dict[str, float], k: int) -> list[str]:
    return rng.choices(list(weights), weights=list(weights.values()), k=k)


def copy_rows(cur, table, columns: list[str], lines: Iterator[str]) -> int:  # type: ignore[no-untyped-def]
    count = 0
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        buffer = io.StringIO()
        for line in lines:
            buffer.write(line)
            count += 1
            if count % 20_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    return count


def columns(model) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.name for c in model.__table__.columns]


def fill(url: str, n_tickets: int, seed: int = 8) -> dict[str, Any]:
    rng = random.Random(seed)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    app = make_app(url)
    migrate(app, BEFORE)
    with app.app_context():
        seed_demo_users(db.session, PASSWORD)
        db.session.commit()
        tim = db.session.scalar(text("SELECT password_hash FROM users WHERE username = 'tim'"))
        for i in range(AGENTS - 2):
            db.session.add(User(username=f"agent{i:02d}", name=f"Agent {i:02d} {LAST[i % len(LAST)]}",
                                email=f"agent{i:02d}@support.example.com", role="agent", password_hash=tim,
                                skills=rng.sample(CATEGORIES, 3), capacity=rng.choice((5, 8, 10, 15))))
        db.session.commit()
        agent_ids = list(db.session.scalars(text("SELECT id FROM users WHERE role = 'agent' ORDER BY id")))
    app.extensions["care_engine"].dispose()
    timings["migrate+users"] = time.perf_counter() - started

    engine = create_engine(url)
    raw = engine.raw_connection()
    conn = raw.driver_connection
    tables = ["customers", "tickets", "messages", "audit_log", "ticket_events", "surveys", "bot_outcomes"]
    with conn.cursor() as cur:
        cur.execute("SET synchronous_commit = off")
        cur.execute("SET maintenance_work_mem = '512MB'")
        cur.execute("SET session_replication_role = replica")  # no FK triggers during the load
        cur.execute("""SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
                       AND tablename = ANY(%s) AND indexname NOT IN (
                           SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))""", (tables,))
        secondary = cur.fetchall()
        for name, _ in secondary:
            cur.execute(f'DROP INDEX "{name}"')
        conn.commit()

        # customers
        t0 = time.perf_counter()
        n_customers = max(n_tickets // 4, 1)
        cust_cols = columns(Customer)

        def customer_lines() -> Iterator[str]:
            for i in range(1, n_customers + 1):
                first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
                created = NOW - timedelta(days=730 * rng.random() ** 1.3)
                row = {"id": i, "name": f"{first} {last}", "email": f"{first}.{last}.{i}@example{i % 7}.com".lower(),
                       "created_at": created, "notify_pref": "all", "email_verified_at": None}
                yield "\t".join(ts(row[c]) if c in ("created_at", "email_verified_at") else esc(str(row[c]))
                                for c in cust_cols) + "\n"

        copy_rows(cur, "customers", cust_cols, customer_lines())
        timings["customers"] = time.perf_counter() - t0

        # tickets (+ the rows that hang off them, collected as we go)
        t0 = time.perf_counter()
        ticket_cols = columns(Ticket)
        subjects = [s + p for s in SUBJECTS for p in PRODUCTS]
        agent_weights = [1 / (k + 1) ** 0.6 for k in range(len(agent_ids))]
        derived: dict[str, list[str]] = defaultdict(list)
        counters = {"messages": 0, "audit": 0, "events": 0, "surveys": 0}
        msg_cols, audit_cols, event_cols, survey_cols = (columns(Message), columns(AuditEntry),
                                                         columns(TicketEvent), columns(Survey))
        transcript = json.dumps([{"sender": "user", "text": "Hello, I need help"},
                                 {"sender": "bot", "text": "Let me hand you over to a person."}])

        # ids follow creation order, as in a live desk (and so does the heap: rows of one
        # period sit together, which the planner's correlation statistics see)
        ages = sorted((730 * rng.random() ** 1.5 for _ in range(n_tickets)), reverse=True)

        def ticket_lines() -> Iterator[str]:
            for i in range(1, n_tickets + 1):
                age = ages[i - 1]
                created = NOW - timedelta(days=age)
                status = weighted(rng, next(w for limit, w in STATUS_BY_AGE if age <= limit), 1)[0]
                priority = weighted(rng, PRIORITY_WEIGHTS, 1)[0]
                first_min, resolve_min = POLICY[priority]
                channel = "web_chat" if rng.random() < 0.7 else "email"
                assignee = None if status == "new" else rng.choices(agent_ids, agent_weights)[0]
                responded = status not in ("new", "assigned")
                first_response = min(created + timedelta(minutes=rng.expovariate(1 / (first_min * 0.6))), NOW) \
                    if responded else None
                resolved = min(created + timedelta(minutes=rng.expovariate(1 / (resolve_min * 0.7))), NOW) \
                    if status in ("resolved", "closed") else None
                if resolved and first_response and first_response > resolved:
                    first_response = resolved
                if status in ("resolved", "closed"):
                    sla_state = "met" if resolved <= created + timedelta(minutes=resolve_min) else "breached"
                else:
                    sla_state = weighted(rng, {"ok": 70, "at_risk": 15, "breached": 15}, 1)[0]
                updated = max(d for d in (created, first_response, resolved) if d is not None)
                row = {
                    "id": i, "number": f"CR-{10000 + i}", "subject": esc(rng.choice(subjects)),
                    "description": "Customer wrote in; see the transcript.", "customer_id": rng.randint(1, n_customers),
                    "channel": channel, "category": rng.choice(CATEGORIES), "priority": priority, "status": status,
                    "owner": "queued" if status == "new" else "agent", "assignee_id": assignee if assignee else "\\N",
                    "conversation_id": f"conv-{i}" if channel == "web_chat" else "\\N",
                    "token_hash": hashlib.sha256(b"%d" % i).hexdigest(),
                    "transcript": transcript if channel == "web_chat" else "[]", "suggested_articles": "[]",
                    "nlu": "{}", "resolution": "Explained the steps." if resolved else "",
                    "created_at": ts(created), "updated_at": ts(updated), "resolved_at": ts(resolved),
                    "first_response_at": ts(first_response),
                    "first_response_due": ts(created + timedelta(minutes=first_min)),
                    "resolution_due": ts(created + timedelta(minutes=resolve_min)),
                    "sla_paused_at": ts(updated) if status == "waiting_on_customer" else "\\N",
                    "sla_state": sla_state,
                    # columns of later migrations, at their defaults
                    "requester_name": "", "merged_into_id": "\\N", "customer_seen_event_id": 0,
                    "reply_mailed_event_id": 0, "close_warned_at": "\\N", "slack_team": "\\N",
                    "slack_channel": "\\N", "slack_thread_ts": "\\N", "slack_user": "\\N", "problem_id": "\\N",
                }
                # hanging rows: ~1 message, ~1.2 audit entries, ~0.6 events, surveys on 15 % of resolved
                audit = {"id": 0, "ticket_id": i, "actor": "bot", "action": "open", "from_status": "\\N",
                         "to_status": "new", "details": '{"channel": "%s"}' % channel, "created_at": ts(created)}
                counters["audit"] += 1
                audit["id"] = counters["audit"]
                derived["audit"].append("\t".join(str(audit[c]) for c in audit_cols) + "\n")
                if assignee and rng.random() < 0.2:
                    counters["audit"] += 1
                    audit.update(id=counters["audit"], actor="kim", action="assign", from_status="new",
                                 to_status="assigned", details="{}", created_at=ts(updated))
                    derived["audit"].append("\t".join(str(audit[c]) for c in audit_cols) + "\n")
                if responded:
                    for k in range(rng.choice((1, 1, 1, 2, 2, 3))):
                        counters["messages"] += 1
                        author = "agent" if k % 2 == 0 else "customer"
                        msg = {"id": counters["messages"], "ticket_id": i, "author_type": author,
                               "author_user_id": assignee if author == "agent" else "\\N",
                               "author_name": "Agent" if author == "agent" else "Customer",
                               "body": "Thanks, we are looking into it." if author == "agent" else "Any news?",
                               "internal": "f", "created_at": ts(first_response)}
                        derived["messages"].append("\t".join(str(msg[c]) for c in msg_cols) + "\n")
                        if rng.random() < 0.6:
                            counters["events"] += 1
                            ev = {"id": counters["events"], "ticket_id": i, "kind": "message", "public": "t",
                                  "payload": json.dumps({"id": msg["id"], "author": author, "body": msg["body"]}),
                                  "created_at": ts(first_response)}
                            derived["events"].append("\t".join(str(ev[c]) for c in event_cols) + "\n")
                if resolved and rng.random() < 0.15:
                    counters["surveys"] += 1
                    sv = {"id": counters["surveys"], "ticket_id": i, "rating": rng.choice((1, 2, 3, 4, 4, 5, 5, 5)),
                          "comment": "", "created_at": ts(resolved + timedelta(hours=1))}
                    derived["surveys"].append("\t".join(str(sv[c]) for c in survey_cols) + "\n")
                yield "\t".join(str(row[c]) for c in ticket_cols) + "\n"

        # derived rows are written after the tickets, table by table, in bounded batches
        copy_rows(cur, "tickets", ticket_cols, ticket_lines())
        timings["tickets (+ generating the rows below)"] = time.perf_counter() - t0
        for table, key, cols in (("messages", "messages", msg_cols), ("audit_log", "audit", audit_cols),
                                 ("ticket_events", "events", event_cols), ("surveys", "surveys", survey_cols)):
            t0 = time.perf_counter()
            copy_rows(cur, table, cols, iter(derived.pop(key)))
            timings[table] = time.perf_counter() - t0

        t0 = time.perf_counter()
        outcome_cols = columns(BotOutcome)
        n_outcomes = n_tickets // 2

        outcome_ages = sorted((730 * rng.random() ** 1.5 for _ in range(n_outcomes)), reverse=True)

        def outcome_lines() -> Iterator[str]:
            for i in range(1, n_outcomes + 1):
                created = NOW - timedelta(days=outcome_ages[i - 1])
                row = {"id": i, "conversation_id": f"bot-{i}", "outcome": rng.choice(("self_served",) * 3 +
                                                                                     ("unanswered",)),
                       "question": "How do I reset my password?", "article_id": "\\N", "created_at": ts(created)}
                yield "\t".join(str(row[c]) for c in outcome_cols) + "\n"

        copy_rows(cur, "bot_outcomes", outcome_cols, outcome_lines())
        timings["bot_outcomes"] = time.perf_counter() - t0
        conn.commit()

        t0 = time.perf_counter()
        cur.execute("SET session_replication_role = DEFAULT")
        for _, definition in secondary:
            cur.execute(definition)
        for table in tables:
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)")
        conn.commit()
        timings["rebuild indexes + sequences"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    timings["VACUUM ANALYZE"] = time.perf_counter() - t0
    raw.close()
    engine.dispose()
    counts = {"customers": n_customers, "tickets": n_tickets, **counters, "bot_outcomes": n_outcomes}
    timings["fill total"] = time.perf_counter() - started
    return {"timings": timings, "counts": counts}


# ---------------------------------------------------------------------------------------------- measure


@contextmanager
def recording() -> Iterator[list[tuple[str, Any, float]]]:
    STATEMENTS.clear()
    yield STATEMENTS


def listen(engine) -> None:  # type: ignore[no-untyped-def]
    @event.listens_for(engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        conn.info["bench_t0"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        STATEMENTS.append((statement, parameters, time.perf_counter() - conn.info.pop("bench_t0")))


Runs = list[list[tuple[str, Any, float]]]  # per run: (sql, parameters, seconds) of each statement


def timed(fn, runs: int) -> tuple[list[float], list[int], Runs]:  # type: ignore[no-untyped-def]
    times, counts, statements = [], [], []
    fn()  # warm-up (plans, caches, templates)
    for _ in range(runs):
        STATEMENTS.clear()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        counts.append(len(STATEMENTS))
        statements.append(list(STATEMENTS))
    return times, counts, statements


def split(runs: list[list[tuple[str, Any, float]]], queue: bool = False) -> str:
    """p50 of the queue's page statement and of the workload statement, else of the slowest."""
    page = [sum(t for sql, _, t in run if "tickets.id IN (SELECT tickets.id" in sql) for run in runs]
    work = [sum(t for sql, _, t in run if "GROUP BY tickets.assignee_id" in sql) for run in runs]
    if queue:
        return f"page {ms(pct(page, 50))} · workload {ms(pct(work, 50))}"
    slowest = [max((t for _, _, t in run), default=0.0) for run in runs]
    return f"slowest {ms(pct(slowest, 50))}"


def label(sql: str) -> str:
    flat = " ".join(sql.split())
    return flat[:110] + ("…" if len(flat) > 110 else "")


def _figure_passes(url: str, stop, results) -> None:  # type: ignore[no-untyped-def]
    """The worker process's figure loop: one pass now, then one check a second."""
    from escalation import figure_snapshots

    app = make_app(url)

    def one_pass() -> None:
        with app.app_context():
            t0 = time.perf_counter()
            keys = figure_snapshots.refresh_due(db.session, refresh_seconds=app.config["FIGURES_REFRESH_SECONDS"])
            db.session.commit()
            results.put((time.perf_counter() - t0, keys))

    one_pass()
    while not stop.wait(1.0):
        one_pass()
    app.extensions["care_engine"].dispose()


@contextmanager
def worker_figures(url: str) -> Iterator[list[tuple[float, list[str]]]]:
    """The worker's figure pass (``figure_snapshots.refresh_due``) once now and then every
    ``FIGURES_REFRESH_SECONDS``, in a separate process with its own app and connections, as
    the worker (``flask --app escalation worker``) is: it competes with the requests for the
    cores and the database, not for this process's GIL. Yields the passes' (seconds, keys
    refreshed), filled in when the block ends."""
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    results = context.Queue()
    process = context.Process(target=_figure_passes, args=(url, stop, results), daemon=True)
    process.start()
    passes: list[tuple[float, list[str]]] = [results.get(timeout=900)]  # the first pass, before measuring
    try:
        yield passes
    finally:
        stop.set()
        while process.is_alive() or not results.empty():
            try:
                passes.append(results.get(timeout=1.0))
            except queue.Empty:
                if not process.is_alive():
                    break
        process.join(timeout=60)


def baseline(ref: str, args: argparse.Namespace) -> None:
    """The "before" phase: this script as it was at ``ref`` (its code, its schema ``BEFORE``)."""
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as folder:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        command = [sys.executable, str(Path(folder) / "bench" / "bench_tickets_pg.py"), "--keep", "--db", args.db,
                   "--phases", "after", "--runs", str(args.runs)] + (["--explain"] if args.explain else [])
        print(f"\n## before: the code at {ref} (its own script, a subprocess)", flush=True)
        subprocess.run(command, check=True, cwd=folder)
        print(f"\n## after: this code", flush=True)


def measure(url: str, runs: int, explain: bool, phase: str) -> dict[str, Any]:
    with worker_figures(url) as passes:
        result = _measure(url, runs, explain, phase)
    took = sorted(t for t, keys in passes if keys)
    result["worker"] = (f"worker figure passes during the measurement: {len(took)}, "
                        f"each {ms(min(took))}–{ms(max(took))} ms ({', '.join(passes[0][1])})" if took else "")
    return result


def _measure(url: str, runs: int, explain: bool, phase: str) -> dict[str, Any]:
    app = make_app(url)
    engine = app.extensions["care_engine"]
    listen(engine)
    client = app.test_client()
    reply = client.post("/login", data={"username": "kim", "password": PASSWORD})
    assert reply.status_code in (302, 303), reply.status_code
    with app.app_context():
        old = db.session.execute(text("SELECT number, c.email FROM tickets t JOIN customers c ON c.id = t.customer_id "
                                      "WHERE t.id = (SELECT least(4242, max(id)) FROM tickets)")).one()
        tim = db.session.scalar(text("SELECT id FROM users WHERE username = 'tim'"))
        busiest = db.session.scalar(text("SELECT assignee_id FROM tickets WHERE assignee_id IS NOT NULL "
                                         "GROUP BY assignee_id ORDER BY count(*) DESC LIMIT 1"))
    agent_client = app.test_client()  # the agent console's list, logged in as Tim
    reply = agent_client.post("/login", data={"username": "tim", "password": PASSWORD})
    assert reply.status_code in (302, 303), reply.status_code
    rows: list[tuple[str, list[float], list[int], str]] = []
    dashboard_statements: list[list[tuple[str, Any, float]]] = []
    slow: dict[str, tuple[str, Any, float]] = {}

    def page(path: str, expect: int = 200, who=client):  # type: ignore[no-untyped-def]
        def call() -> None:
            response = who.get(path)
            assert response.status_code == expect, (path, response.status_code)
        return call

    queue_cases = [
        ("queue: open (default, SLA due first)", "/admin/"),
        ("view: mine (assignee = Tim)", f"/admin/?assignee={tim}"),
        ("view: busiest agent's open", f"/admin/?assignee={busiest}"),
        ("view: unassigned", "/admin/?assignee=none"),
        ("view: breaching (at risk or breached)", "/admin/?sla=breaching"),
        ("filter: sla=ok", "/admin/?sla=ok"),
        ("filter: sla=at_risk", "/admin/?sla=at_risk"),
        ("filter: sla=breached", "/admin/?sla=breached"),
        ("filter: priority=urgent", "/admin/?priority=urgent"),
        ("filter: priority=normal", "/admin/?priority=normal"),
        (f"filter: category={CATEGORIES[0]}", f"/admin/?category={CATEGORIES[0]}"),
        ("filter: channel=email", "/admin/?channel=email"),
        ("filter: status=new", "/admin/?status=new"),
        ("filter: all statuses + sla=breached", "/admin/?status=all&sla=breached"),
        ("filter: all statuses + priority=urgent", "/admin/?status=all&priority=urgent"),
        (f"filter: all statuses + category={CATEGORIES[1]}", f"/admin/?status=all&category={CATEGORIES[1]}"),
        ("filter: all statuses + channel=email", "/admin/?status=all&channel=email"),
        (f"filter: all statuses + assignee={busiest}", f"/admin/?status=all&assignee={busiest}"),
        ("filter: urgent + breaching + email", "/admin/?priority=urgent&sla=breaching&channel=email"),
        ("sort: newest", "/admin/?sort=newest"),
        ("sort: oldest", "/admin/?sort=oldest"),
        ("sort: priority", "/admin/?sort=priority"),
        ("sort: all statuses, priority", "/admin/?status=all&sort=priority"),
        ("queue: all statuses, newest", "/admin/?status=all&sort=newest"),
        ("queue: all statuses", "/admin/?status=all"),
        ("queue: status=waiting_on_customer", "/admin/?status=waiting_on_customer"),
        ("queue: status=closed", "/admin/?status=closed"),
        ("queue: all, page 2", "/admin/?status=all&page=2"),
        ("queue: all, page 50", "/admin/?status=all&page=50"),
        ("queue: search number (old ticket)", f"/admin/?status=all&q={old.number}"),
        ("queue: search customer e-mail", f"/admin/?status=all&q={old.email}"),
        ("queue: search common word 'refund'", "/admin/?status=all&q=refund"),
        ("queue: search rare word 'zebra'", "/admin/?status=all&q=zebra"),
        ("queue: open + search 'parcel'", "/admin/?q=parcel"),
    ]
    agent_cases = [
        ("agent: my tickets (Tim, open)", "/agent/"),
        ("agent: my tickets, all", "/agent/?status=all"),
        ("agent: my tickets, breaching", "/agent/?sla=breaching"),
    ]
    for name, path in queue_cases + agent_cases:
        times, counts, stmts = timed(page(path, who=agent_client if path.startswith("/agent") else client), runs)
        rows.append((name, times, counts, split(stmts, queue=True)))
        for run in stmts:
            for sql, params, secs in run:
                if secs > slow.get(sql, ("", None, 0.0))[2]:
                    slow[sql] = (name, params, secs)
    times, counts, stmts = timed(page("/admin/dashboard"), runs)
    rows.append(("dashboard (14 days)", times, counts, split(stmts)))
    dashboard_statements = stmts
    for run in stmts:
        for sql, params, secs in run:
            if secs > slow.get(sql, ("", None, 0.0))[2]:
                slow[sql] = ("dashboard", params, secs)
    times, counts, stmts = timed(page("/admin/dashboard?days=90"), max(3, runs // 2))
    rows.append(("dashboard (90 days)", times, counts, split(stmts)))

    # ticket creation: the API (idempotency, validation, triage, SLA, audit, outbox) and the service call
    seq = iter(range(10_000_000))
    phase = f"{phase}-{os.getpid()}-{int(time.time())}"  # unique across runs on a kept database

    def create_api() -> None:
        n = next(seq)
        response = client.post("/api/v1/tickets", json={
            "name": "Bench Customer", "email": f"bench-{phase}-{n}@example.com", "channel": "web_chat",
            "conversation_id": f"bench-{phase}-{n}", "subject": "I was charged twice for my order",
            "transcript": [{"sender": "user", "text": "I was charged twice"}]},
            headers={"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": f"bench-{phase}-{n}"})
        assert response.status_code == 201, response.get_data(as_text=True)

    def create_service() -> None:
        from escalation import tickets

        n = next(seq)
        with app.app_context():
            tickets.open_ticket(db.session, name="Bench Customer", email=f"bench-svc-{phase}-{n}@example.com",
                                subject="Parcel not delivered", channel="email")
            db.session.commit()

    for name, fn in (("create ticket: POST /api/v1/tickets", create_api),
                     ("create ticket: tickets.open_ticket + commit", create_service)):
        times, counts, stmts = timed(fn, runs * 3)
        rows.append((name, times, counts, split(stmts)))

    per_statement: dict[str, list[float]] = defaultdict(list)
    for run in dashboard_statements:
        for sql, _, secs in run:
            per_statement[sql].append(secs)

    plans: list[str] = []
    if explain:
        worst = sorted(slow.items(), key=lambda kv: -kv[1][2])[:8]
        raw = engine.raw_connection()
        try:
            with raw.driver_connection.cursor() as cur:
                for sql, (where, params, secs) in worst:
                    if not sql.lstrip().upper().startswith("SELECT"):
                        continue
                    cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                    plans.append(f"-- {where}: {ms(secs)} ms in the request\n{sql}\n"
                                 + "\n".join(r[0] for r in cur.fetchall()))
            raw.driver_connection.rollback()
        finally:
            raw.close()
    engine.dispose()
    return {"rows": rows, "per_statement": per_statement, "plans": plans}


def report(phase: str, result: dict[str, Any]) -> None:
    print(f"\n### {phase}\n")
    if result.get("worker"):
        print(result["worker"] + "\n")
    print("| request | runs | p50 ms | p95 ms | SQL statements per request | statement p50 ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, times, counts, detail in result["rows"]:
        spread = f"{min(counts)}" if min(counts) == max(counts) else f"{min(counts)}–{max(counts)}"
        print(f"| {name} | {len(times)} | {ms(pct(times, 50))} | {ms(pct(times, 95))} | {spread} | {detail} |")
    print("\nDashboard, each statement (p50 / p95 ms over the runs):\n")
    print("| statement | p50 ms | p95 ms |")
    print("| --- | --- | --- |")
    for sql, values in result["per_statement"].items():
        print(f"| `{label(sql)}` | {ms(pct(values, 50))} | {ms(pct(values, 95))} |")
    for plan in result["plans"]:
        print("\n```\n" + plan + "\n```")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--db", default="care_bench")
    parser.add_argument("--keep", action="store_true", help="reuse the filled database if it exists")
    parser.add_argument("--runs", type=int, default=10, help="repetitions per request (creation: 3x)")
    parser.add_argument("--phases", default="before,after",
                        help=f"before (the code at --baseline-ref, schema {BEFORE}), after ({AFTER} applied, "
                             "this code); comma-separated")
    parser.add_argument("--baseline-ref", default=BASELINE_REF, help="the git revision \"before\" runs")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest statements")
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"machine: {machine()}")
    url = db_url(args.db)
    if args.keep and database_exists(args.db) and current_revision(url) in (BEFORE, AFTER):
        print(f"reusing database {args.db} (revision {current_revision(url)})")
    else:
        create_database(args.db)
        print(f"filling {args.db} with {args.tickets:,} tickets …", flush=True)
        filled = fill(url, args.tickets)
        print("rows: " + ", ".join(f"{k} {v:,}" for k, v in filled["counts"].items()))
        print("fill: " + ", ".join(f"{k} {v:.1f} s" for k, v in filled["timings"].items()), flush=True)
    app = make_app(url)
    for phase in [p.strip() for p in args.phases.split(",") if p.strip()]:
        revision = BEFORE if phase == "before" else AFTER
        t0 = time.perf_counter()
        migrate(app, revision)
        if phase == "before":
            app.extensions["care_engine"].dispose()
            baseline(args.baseline_ref, args)
            continue
        if phase == "after":
            engine = create_engine(url, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(text("ANALYZE"))
            engine.dispose()
        print(f"\nschema at {revision} ({time.perf_counter() - t0:.1f} s to migrate"
              f"{' and ANALYZE' if phase == 'after' else ''})", flush=True)
        report(f"{phase} (revision {revision})", measure(url, args.runs, args.explain, phase))
    app.extensions["care_engine"].dispose()
    print(f"\ntotal wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
