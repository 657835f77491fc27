"""Health checks: the service and its database, and the workers' heartbeats. The API's health
routes (``/api/v1/health``, ``/health/worker``) and the public ``/healthz`` answer from here."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, jsonify
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from .db import db
from .errors import Unavailable
from .models import WorkerHeartbeat, utcnow


def worker_beats() -> list[dict[str, Any]]:
    """Every worker's last heartbeat, and whether it is recent enough to count as alive."""
    stale_after = timedelta(seconds=max(30.0, 6 * current_app.config["WORKER_INTERVAL"]))
    beats = db.session.scalars(select(WorkerHeartbeat)).all()
    return [{"id": b.worker_id, "seen_at": b.seen_at.isoformat(), "passes": b.passes,
             "alive": utcnow() - b.seen_at < stale_after} for b in beats]


def service_health() -> Any:
    """200 with the workers' heartbeats when the database answers; 503 otherwise."""
    try:
        db.session.execute(text("SELECT 1"))
        workers = worker_beats()
    except SQLAlchemyError as exc:
        raise Unavailable(f"The service cannot reach its database ({type(exc).__name__}). Check the database "
                          "server and CARE_DATABASE_URL.", code="database_unavailable",
                          details={"service": "escalation"}) from None
    return jsonify({"status": "ok", "service": "escalation", "workers": workers})
