"""The JSON API, ``/api/v1``: used by the bot's actions, the widget and integrations."""
from __future__ import annotations

from flask import Blueprint

from ..http import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

from . import conversations, health, identity, kb, openapi, outcomes, privacy, slack, tickets  # noqa: E402,F401  (routes register on import)
