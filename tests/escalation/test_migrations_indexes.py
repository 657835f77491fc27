"""Migration 0008 (indexes for a million tickets): the migrated schema has the indexes the
queries rely on, and running the migrations gives exactly the models' indexes.

SQLite by default; PostgreSQL (including the trigram indexes) with CARE_TEST_DB=postgresql.
Timings are measured by ``bench/bench_tickets_pg.py``, not asserted here.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Column, Engine, create_engine, inspect

from escalation import create_app
from escalation.db import Base
from escalation.schema import alembic_config, upgrade

from .. import databases
from .conftest import ticket_body

SCALE_INDEXES = {
    "tickets": {"ix_tickets_status_created_at": ["status", "created_at"],
                "ix_tickets_assignee_id_status": ["assignee_id", "status"],
                "ix_tickets_resolved_at": ["resolved_at"]},
    "ticket_events": {"ix_ticket_events_ticket_id_id": ["ticket_id", "id"]},
    "surveys": {"ix_surveys_created_at": ["created_at"]},
}
TRIGRAM_INDEXES = {
    "tickets": {"ix_tickets_number_trgm": ["number"], "ix_tickets_subject_trgm": ["subject"]},
    "customers": {"ix_customers_email_trgm": ["email"], "ix_customers_name_trgm": ["name"]},
}
REPLACED = {"tickets": {"ix_tickets_status", "ix_tickets_assignee_id"},
            "ticket_events": {"ix_ticket_events_ticket_id"}}


@pytest.fixture
def bare_app(tmp_path: Path):  # type: ignore[no-untyped-def]
    with databases.test_database(tmp_path) as url:
        app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test"})
        yield app
        app.extensions["care_engine"].dispose()


@pytest.fixture
def engine(bare_app) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    upgrade(bare_app)
    engine = create_engine(bare_app.config["DATABASE_URL"])
    yield engine
    engine.dispose()


def indexes(engine: Engine, table: str) -> dict[str, list[str]]:
    """The table's indexes as reflected, without those backing unique/primary constraints."""
    return {ix["name"]: list(ix["column_names"]) for ix in inspect(engine).get_indexes(table)
            if not ix.get("duplicates_constraint")}


def model_indexes(table: str, dialect: str) -> dict[str, list[str]]:
    """The models' indexes for ``dialect``; an expression (0016's SLA-due order) is None, as reflected."""
    found = {}
    for index in Base.metadata.tables[table].indexes:
        only = getattr(index, "_ddl_if", None)
        if only is not None and only.dialect and dialect not in (
                (only.dialect,) if isinstance(only.dialect, str) else tuple(only.dialect)):
            continue
        found[index.name] = [e.name if isinstance(e, Column) else None for e in index.expressions]
    return found


def test_the_migrated_schema_has_the_indexes_for_scale(engine: Engine) -> None:
    postgres = engine.dialect.name == "postgresql"
    for table, expected in SCALE_INDEXES.items():
        present = indexes(engine, table)
        for name, columns in expected.items():
            assert present.get(name) == columns, (table, name, present)
        assert not REPLACED.get(table, set()) & set(present), f"{table}: replaced index still there: {present}"
    for table, expected in TRIGRAM_INDEXES.items():
        present = indexes(engine, table)
        for name, columns in expected.items():
            if postgres:
                assert present.get(name) == columns, (table, name, present)
            else:
                assert name not in present  # SQLite has no trigram index; its search scans
    if postgres:  # the period index covers the dashboard's columns (index-only scans)
        period = next(ix for ix in inspect(engine).get_indexes("tickets") if ix["name"] == "ix_tickets_created_at")
        assert period["column_names"] == ["created_at"]
        included = period.get("dialect_options", {}).get("postgresql_include") or period.get("include_columns")
        assert list(included) == ["status", "sla_state", "channel", "first_response_at", "resolved_at",
                                  "assignee_id"]  # assignee_id since 0016 (agent figures)


def test_running_the_migrations_gives_the_models_indexes(engine: Engine) -> None:
    dialect = engine.dialect.name
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set(Base.metadata.tables)
    for table in sorted(tables):
        assert indexes(engine, table) == model_indexes(table, dialect), table


def test_the_migration_goes_down_and_up_again(bare_app, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    config = alembic_config(bare_app)
    command.downgrade(config, "0007")
    engine.dispose()
    present = indexes(engine, "tickets")
    assert {"ix_tickets_status", "ix_tickets_assignee_id"} <= set(present)
    assert not set(SCALE_INDEXES["tickets"]) & set(present)
    assert "ix_ticket_events_ticket_id" in indexes(engine, "ticket_events")
    command.upgrade(config, "head")
    engine.dispose()
    assert indexes(engine, "tickets") == model_indexes("tickets", engine.dialect.name)


def test_the_queue_search_and_pages_use_the_rewritten_query(client, auth, bot_headers):  # type: ignore[no-untyped-def]
    """The queue's search (number, subject, customer e-mail or name; ``= ANY(ARRAY(…))`` on
    PostgreSQL) and its pages give the same answers on both backends."""
    for i, (name, email, subject) in enumerate([("Zora Quill", "zora@example.com", "Parcel 100% lost"),
                                                ("Amos Brook", "amos@example.org", "Refund please")]):
        reply = client.post("/api/v1/tickets", json=ticket_body(name=name, email=email, subject=subject,
                                                                conversation_id=f"conv-q{i}"),
                            headers={**bot_headers, "Idempotency-Key": f"queue-search-{i}"})
        assert reply.status_code == 201
    auth.login("kim")

    def numbers(query: str) -> list[str]:
        page = client.get(f"/admin/?status=all&sort=newest&{query}")
        assert page.status_code == 200
        return re.findall(r'data-testid="ticket-link">(CR-\d+)<', page.get_data(as_text=True))

    assert numbers("") == ["CR-10002", "CR-10001"]  # newest first
    assert numbers("page=2") == []
    assert numbers("q=ZORA%40example") == ["CR-10001"]  # customer e-mail, any case
    assert numbers("q=brook") == ["CR-10002"]  # customer name
    assert numbers("q=refund") == ["CR-10002"]  # subject
    assert numbers("q=cr-10001") == ["CR-10001"]  # number
    assert numbers("q=100%25") == ["CR-10001"]
    assert numbers("q=%25") == ["CR-10001"]  # a literal %, not a wildcard
    assert numbers("q=_") == []  # a literal _, not a wildcard
    assert numbers("q=nobody") == []
