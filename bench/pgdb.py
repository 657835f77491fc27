"""Throwaway PostgreSQL databases for the benchmarks (the server of this machine, loopback).

``CARE_BENCH_POSTGRES_URL`` names the maintenance database to connect to (default: the
local server's ``postgres`` database as user ``postgres``, trust auth).
"""
from __future__ import annotations

import os

from sqlalchemy import create_engine, text

ADMIN_URL = os.environ.get("CARE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def database_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def create_database(name: str) -> str:
    """Drop ``name`` if it exists, create it empty; returns its URL."""
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return database_url(name)


def database_exists(name: str) -> bool:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        found = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}) is not None
    admin.dispose()
    return found
