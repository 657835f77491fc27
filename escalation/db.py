"""The database: one engine per app, one session per application context."""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    pass


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def upsert_insert(session: Session, model: Any) -> Any:
    """``INSERT`` into ``model``'s table in the session's dialect, the kind that has
    ``on_conflict_do_nothing`` / ``on_conflict_do_update`` (PostgreSQL and SQLite both do)."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert(model)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # many request threads (gunicorn gthread) each hold a connection for a request
        engine = create_engine(url, connect_args={"check_same_thread": False}, pool_size=10, max_overflow=30)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=30)


class Database:
    """Bound to an app with ``init_app``; ``db.session`` is the current context's session."""

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"])
        app.extensions["care_db"] = sessionmaker(bind=engine, expire_on_commit=False)
        app.extensions["care_engine"] = engine
        app.teardown_appcontext(self._remove)

    @property
    def engine(self) -> Engine:
        return current_app.extensions["care_engine"]

    @property
    def session(self) -> Session:
        if "care_session" not in g:
            g.care_session = current_app.extensions["care_db"]()
        return g.care_session

    @staticmethod
    def _remove(_exc: BaseException | None) -> None:
        session = g.pop("care_session", None)
        if session is not None:
            session.close()


db = Database()
