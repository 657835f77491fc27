"""Health checks: the service and its database, and the worker's heartbeat."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, jsonify
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from ..db import db
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
        return jsonify({"status": "error", "service": "escalation",
                        "message": f"database unreachable: {type(exc).__name__}"}), 503
    return jsonify({"status": "ok", "service": "escalation", "workers": workers})


@bp.get("/health/worker")
def worker_health() -> Any:
    """200 while at least one worker has made a pass recently, 503 otherwise."""
    try:
        alive = [w for w in worker_beats() if w["alive"]]
    except SQLAlchemyError:
        alive = []
    if not alive:
        return jsonify({"status": "error", "service": "worker",
                        "message": "No worker has made a pass recently. Start one: "
                                   "`flask --app escalation worker`."}), 503
    return jsonify({"status": "ok", "service": "worker", "workers": alive})


@bp.get("/health/ready")
def ready() -> Any:
    """200 once the KB index is open and the embedding model loaded (the first answer is fast)."""
    app = current_app
    if app.extensions.get("care_kb_ready"):
        return jsonify({"status": "ok", "service": "escalation", "kb": "ready"})
    error = app.extensions.get("care_kb_error")
    return jsonify({"status": "error" if error else "starting", "service": "escalation",
                    "message": error or "The KB index is loading; retry in a few seconds."}), 503
