"""Health checks: the service and its database, and the worker's heartbeat."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, jsonify
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from ..db import db
from ..errors import Unavailable
from ..models import WorkerHeartbeat, utcnow
from . import bp


def worker_beats() -> list[dict[str, Any]]:
    """Every worker's last heartbeat, and whether it is recent enough to count as alive."""
    stale_after = timedelta(seconds=max(30.0, 6 * current_app.config["WORKER_INTERVAL"]))
    beats = db.session.scalars(select(WorkerHeartbeat)).all()
    return [{"id": b.worker_id, "seen_at": b.seen_at.isoformat(), "passes": b.passes,
             "alive": utcnow() - b.seen_at < stale_after} for b in beats]


@bp.get("/health")
def health() -> Any:
    try:
        db.session.execute(text("SELECT 1"))
        workers = worker_beats()
    except SQLAlchemyError as exc:
        raise Unavailable(f"The service cannot reach its database ({type(exc).__name__}). Check the database "
                          "server and CARE_DATABASE_URL.", code="database_unavailable",
                          details={"service": "escalation"}) from None
    return jsonify({"status": "ok", "service": "escalation", "workers": workers})


@bp.get("/health/worker")
def worker_health() -> Any:
    """200 while at least one worker has made a pass recently, 503 otherwise."""
    try:
        alive = [w for w in worker_beats() if w["alive"]]
    except SQLAlchemyError:
        alive = []
    if not alive:
        raise Unavailable("No worker has made a pass recently. Start one: `flask --app escalation worker`.",
                          code="worker_down", details={"service": "worker"})
    return jsonify({"status": "ok", "service": "worker", "workers": alive})


@bp.get("/health/ready")
def ready() -> Any:
    """200 once the KB index is open and the embedding model loaded (the first answer is fast)."""
    app = current_app
    if app.extensions.get("care_kb_ready"):
        return jsonify({"status": "ok", "service": "escalation", "kb": "ready"})
    error = app.extensions.get("care_kb_error")
    if error:
        raise Unavailable(f"The KB index could not be opened: {error}", code="kb_failed",
                          details={"service": "escalation"})
    raise Unavailable("The KB index is loading; retry in a few seconds.", code="kb_starting",
                      details={"service": "escalation"})
