"""Migration 0011 (customer portal) on SQLite and PostgreSQL: tickets that existed before it —
chat and e-mail, one address stored with capitals by an older version — belong to the account
once its address is verified; the migration goes down and up again."""
from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from escalation import create_app
from escalation.db import db
from escalation.schema import alembic_config, upgrade
from escalation.users import seed_demo_users

from .. import databases
from .conftest import DEMO_PASSWORD, SERVICE_TOKEN
from .portal_helpers import register

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
NOW = "2026-11-20 10:00:00+00:00"


def old_data(url: str) -> None:
    """Rows as revision 0008 stored them (plain SQL: today's models would not fit that schema)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        for cid, name, email in ((1, "Laura Smith", "Laura.Smith@Example.com"), (2, "Bob", "bob@example.com")):
            conn.execute(text("INSERT INTO customers (id, name, email, created_at) VALUES (:i, :n, :e, :t)"),
                         {"i": cid, "n": name, "e": email, "t": NOW})
        for tid, cid, channel in ((1, 1, "web_chat"), (2, 1, "email"), (3, 2, "web_chat")):
            conn.execute(text(
                "INSERT INTO tickets (id, number, subject, description, customer_id, channel, category, priority,"
                " status, owner, token_hash, transcript, suggested_articles, nlu, resolution, created_at,"
                " updated_at, sla_state) VALUES (:i, :num, :s, '', :c, :ch, 'general', 'normal', 'new', 'queued',"
                " :tok, '[]', '[]', '{}', '', :t, :t, 'ok')"),
                {"i": tid, "num": f"CR-{10000 + tid}", "s": f"old {channel} ticket {tid}", "c": cid, "ch": channel,
                 "tok": f"{tid:064d}", "t": NOW})
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_tickets_from_before_the_migration_belong_to_the_verified_account(tmp_path: Path, backend: str) -> None:
    with databases.test_database(tmp_path, backend == "postgres") as url:
        app = create_app({"TESTING": True, "DATABASE_URL": url, "SERVICE_TOKEN": SERVICE_TOKEN,
                          "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False, "PUBLIC_URL": "http://care.test"})
        try:
            upgrade(app, "0008")
            old_data(url)
            upgrade(app)
            with app.app_context():
                seed_demo_users(db.session, DEMO_PASSWORD)
                db.session.commit()
                email = db.session.execute(text("SELECT email FROM customers WHERE id = 1")).scalar()
            assert email == "laura.smith@example.com"  # lower-cased, so the address matches
            client = app.test_client()
            register(app, client, email="laura.smith@example.com")
            html = client.get("/portal/tickets").get_data(as_text=True)
            assert "CR-10001" in html and "CR-10002" in html and "CR-10003" not in html
            assert client.get("/portal/tickets/CR-10003").status_code == 404  # Bob's

            engine = create_engine(url)
            ticket_indexes = {ix["name"] for ix in inspect(engine).get_indexes("tickets")}
            assert "ix_tickets_customer_id_updated_at" in ticket_indexes and "ix_tickets_customer_id" not in ticket_indexes
            config = alembic_config(app)
            command.downgrade(config, "0008")
            assert "customer_accounts" not in inspect(engine).get_table_names()
            assert "ix_tickets_customer_id" in {ix["name"] for ix in inspect(engine).get_indexes("tickets")}
            command.upgrade(config, "head")
            assert "customer_accounts" in inspect(engine).get_table_names()
            engine.dispose()
        finally:
            app.extensions["care_engine"].dispose()
