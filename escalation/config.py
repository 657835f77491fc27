"""Settings: code defaults → instance config / ``CARE_*`` environment → test dict.

Every setting is declared once in ``SETTINGS`` with its default and a one-line help;
``docs/configuration.md`` is generated from this table and a test checks it is current.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    secret: bool = False

    @property
    def env_var(self) -> str:
        return f"CARE_{self.name}"


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", "sqlite:///{instance}/escalation.sqlite3",
            "SQLAlchemy URL of the escalation database; `{instance}` is the instance folder."),
    Setting("SECRET_KEY", "dev-secret-change-me",
            "Signs session cookies and CSRF tokens; `make run` generates one per installation.", secret=True),
    Setting("SERVICE_TOKEN", "dev-service-token",
            "Bearer token the bot's actions use to call the API.", secret=True),
    Setting("PUBLIC_URL", "http://127.0.0.1:5000",
            "Base URL customers use to reach this service (tracking links, widget)."),
    Setting("RASA_URL", "http://127.0.0.1:5005",
            "Base URL of `rasa run` as the widget on the demo page reaches it."),
    Setting("KB_SOURCE_DIR", "data/kb",
            "Folder of KB articles (Markdown with front matter)."),
    Setting("KB_INDEX_DIR", "var/kb_index",
            "Folder of the built KB index; rebuilt on start when stale or corrupt."),
    Setting("WIDGET_DIR", "widget/dist",
            "Folder the embeddable widget script is served from at `/widget/`."),
    Setting("MAX_CONTENT_LENGTH", 256 * 1024,
            "Largest accepted request body in bytes; larger ones get 413."),
    Setting("WORKER_INTERVAL", 5.0,
            "Seconds between two passes of the worker."),
    Setting("AUTO_CLOSE_DAYS", 7,
            "Resolved tickets with no customer reply for this many days are closed."),
    Setting("REDIS_URL", "",
            "Redis URL (e.g. redis://127.0.0.1:6379/0) to fan live-chat events out between several "
            "escalation processes; empty: one process, in-memory."),
    Setting("LOG_LEVEL", "INFO", "Python logging level of the service and the worker."),
)


def _coerce(value: str, default: Any) -> Any:
    if isinstance(default, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    return value


def load_settings(instance_path: str, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Defaults overlaid with ``CARE_*`` environment variables."""
    environ = os.environ if environ is None else environ
    settings: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env_var)
        value = setting.default if raw is None else _coerce(raw, setting.default)
        if isinstance(value, str):
            value = value.replace("{instance}", instance_path)
        settings[setting.name] = value
    return settings
