"""Schema migrations with Alembic, run against the app's database URL."""
from __future__ import annotations

from alembic import command
from alembic.config import Config
from flask import Flask


def alembic_config(app: Flask) -> Config:
    config = Config()
    config.set_main_option("script_location", "escalation:migrations")
    config.set_main_option("sqlalchemy.url", app.config["DATABASE_URL"].replace("%", "%%"))
    return config


def upgrade(app: Flask, revision: str = "head") -> None:
    command.upgrade(alembic_config(app), revision)
