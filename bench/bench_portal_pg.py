"""Benchmark: the customer portal's My tickets for a customer with 1,000 tickets in a
1M-ticket PostgreSQL database (issue 14).

1. Fills a fresh database (``--db``, default ``care_bench_portal``; ``--keep`` reuses one)
   with ``bench_tickets_pg.fill`` (1M tickets, ~250k customers, messages, events, audit),
   then migrates it to the head revision (``0011``: ``tickets (customer_id, updated_at)``).
2. Gives one customer exactly 1,000 tickets spread over the whole table (every ~1000th row,
   so they are not neighbours on disk), registers and verifies a portal account for them.
3. Times, through the real app (Flask test client, signed-in customer), ``GET /portal/tickets``
   (open tickets), ``?status=all`` page 1 and its last page, and one ticket's page: ``--runs``
   each after a warm-up; prints p50 / p95 / max and the plan of the list query.

    .venv/bin/python bench/bench_portal_pg.py
    .venv/bin/python bench/bench_portal_pg.py --keep --runs 200
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import create_engine, text  # noqa: E402

from bench_tickets_pg import current_revision, fill, machine, make_app, migrate, ms, pct  # noqa: E402
from escalation.db import db  # noqa: E402
from escalation.models import CustomerAccount, utcnow  # noqa: E402
from escalation.portal import accounts  # noqa: E402
from pgdb import create_database, database_exists, database_url  # noqa: E402

TICKETS_OF_ONE = 1_000
PASSWORD = "bench-portal-password"


def give_one_customer_many(url: str, count: int) -> tuple[int, str]:
    """Customer 1 gets exactly ``count`` tickets, spread over the table; returns (id, e-mail)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        email = conn.scalar(text("SELECT email FROM customers WHERE id = 1"))
        total = conn.scalar(text("SELECT count(*) FROM tickets"))
        have = conn.scalar(text("SELECT count(*) FROM tickets WHERE customer_id = 1"))
        if have < count:
            step = max(total // count, 1)
            conn.execute(text("UPDATE tickets SET customer_id = 1 WHERE id IN (SELECT id FROM tickets "
                              "WHERE customer_id <> 1 AND id % :step = 0 ORDER BY id LIMIT :n)"),
                         {"step": step, "n": count - have})
        elif have > count:
            conn.execute(text("UPDATE tickets SET customer_id = 2 WHERE id IN (SELECT id FROM tickets "
                              "WHERE customer_id = 1 ORDER BY id LIMIT :n)"), {"n": have - count})
        conn.execute(text("ANALYZE tickets"))
        assert conn.scalar(text("SELECT count(*) FROM tickets WHERE customer_id = 1")) == count
    engine.dispose()
    return 1, email


def timed(client, url: str, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    for _ in range(3):
        assert client.get(url).status_code == 200, url
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        took.append(time.perf_counter() - started)
        assert response.status_code == 200, url
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--db", default="care_bench_portal")
    parser.add_argument("--keep", action="store_true", help="reuse the filled database if it exists")
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"machine: {machine()}")
    url = database_url(args.db)
    if args.keep and database_exists(args.db) and current_revision(url) is not None:
        print(f"reusing database {args.db} (revision {current_revision(url)})")
    else:
        create_database(args.db)
        print(f"filling {args.db} with {args.tickets:,} tickets …", flush=True)
        filled = fill(url, args.tickets)
        print("rows: " + ", ".join(f"{k} {v:,}" for k, v in filled["counts"].items()), flush=True)
    app = make_app(url)
    t0 = time.perf_counter()
    migrate(app, "head")
    print(f"migrated to {current_revision(url)} in {time.perf_counter() - t0:.1f} s", flush=True)
    customer_id, email = give_one_customer_many(url, TICKETS_OF_ONE)
    with app.app_context():
        account = accounts.find(db.session, email)
        if account is None:
            account = accounts.register(db.session, name="Bench Customer", email=email, password=PASSWORD).account
        account.password_hash = accounts.generate_password_hash(PASSWORD)
        account.verified_at = account.verified_at or utcnow()
        db.session.commit()
        assert db.session.get(CustomerAccount, account.id) is not None
    client = app.test_client()
    assert client.post("/portal/sign-in", data={"email": email, "password": PASSWORD}).status_code == 302
    with app.app_context():
        number = db.session.scalar(text("SELECT number FROM tickets WHERE customer_id = :c ORDER BY updated_at DESC "
                                        "LIMIT 1"), {"c": customer_id})
        open_count = db.session.scalar(text("SELECT count(*) FROM tickets WHERE customer_id = :c AND status IN "
                                            "('new','assigned','acknowledged','in_progress','waiting_on_customer')"),
                                       {"c": customer_id})
    last_page = (TICKETS_OF_ONE + 49) // 50
    cases = [("My tickets, open (default)", "/portal/tickets"),
             ("My tickets, all, page 1", "/portal/tickets?status=all"),
             (f"My tickets, all, page {last_page} (last)", f"/portal/tickets?status=all&page={last_page}"),
             ("one ticket's page", f"/portal/tickets/{number}")]
    print(f"\ncustomer {customer_id}: {TICKETS_OF_ONE} tickets ({open_count} open); {args.runs} runs each\n")
    print("| request | p50 ms | p95 ms | max ms |")
    print("| --- | ---: | ---: | ---: |")
    for label, path in cases:
        took = timed(client, path, args.runs)
        print(f"| {label} | {ms(pct(took, 50))} | {ms(pct(took, 95))} | {ms(max(took))} |", flush=True)
    engine = create_engine(url)
    with engine.connect() as conn:
        plan = conn.execute(text(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT tickets.id FROM tickets WHERE tickets.customer_id = :c "
            "ORDER BY tickets.updated_at DESC, tickets.id DESC LIMIT 51 OFFSET 0"), {"c": customer_id}).scalars()
        print("\n```\n" + "\n".join(plan) + "\n```")
    engine.dispose()
    app.extensions["care_engine"].dispose()
    print(f"\ntotal wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
