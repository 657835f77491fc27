"""Test databases: SQLite files by default, or throwaway PostgreSQL databases.

``CARE_TEST_DB=postgresql make test`` runs the whole escalation suite against the local
PostgreSQL server (127.0.0.1:5432, trust auth); tests marked ``postgres`` always use it.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

POSTGRES_ADMIN_URL = os.environ.get("CARE_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/postgres")


def use_postgres() -> bool:
    return os.environ.get("CARE_TEST_DB", "sqlite").lower() in {"postgresql", "postgres", "pg"}


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    name = f"care_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({exc.orig}). Start it: "
                    "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start")
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def test_database(tmp_path: Path, postgres: bool | None = None) -> Iterator[str]:
    if postgres if postgres is not None else use_postgres():
        with postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
