"""Customer Care Registry — the escalation service (Flask app factory)."""
from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask

from .config import load_settings
from .db import db


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    instance = os.environ.get("CARE_INSTANCE_DIR") or None
    app = Flask(__name__, instance_path=os.path.abspath(instance) if instance else None,
                instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(load_settings(app.instance_path))
    app.config.from_pyfile("config.py", silent=True)
    if test_config:
        app.config.from_mapping(test_config)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["PUBLIC_URL"].startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,
        JSON_SORT_KEYS=False,
    )
    logging.basicConfig(level=app.config["LOG_LEVEL"], format="%(asctime)s %(name)s %(levelname)s %(message)s")

    db.init_app(app)
    from . import events

    events.init_app(app)
    app.extensions["care_db"].configure(info={"care_bus": app.extensions["care_bus"]})

    from . import attachments, auth, cli, http, ratelimit
    from .admin import bp as admin_bp
    from .agent import bp as agent_bp
    from .api import bp as api_bp
    from .mail.links import bp as maillinks_bp
    from .portal import bp as portal_bp
    from .public import bp as public_bp
    from .slack.interactivity import bp as slack_bp

    attachments.init_app(app)
    auth.init_app(app)
    ratelimit.init_app(app)  # its checks run before the others (a refused request costs least)
    http.init_app(app)
    cli.init_app(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(agent_bp)
    app.register_blueprint(public_bp)
    app.register_blueprint(maillinks_bp)
    app.register_blueprint(slack_bp)
    app.register_blueprint(portal_bp)
    return app
