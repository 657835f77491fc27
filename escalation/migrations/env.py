"""Alembic environment: the URL comes from the app's settings (see escalation/schema.py)."""
from __future__ import annotations

from alembic import context
from escalation import models  # noqa: F401  (registers the tables)
from escalation.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # batch migrations rebuild a table (copy, drop, rename): with foreign keys enforced,
            # dropping a table others point to fails, so SQLite checks them after, not during
            # (the PRAGMA only takes effect outside a transaction, so before it begins)
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()  # end SQLAlchemy's implicit transaction, so Alembic's own one commits
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
