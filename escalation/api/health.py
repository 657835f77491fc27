"""Health checks: the service and its database (``escalation.health``), the worker's heartbeat,
the KB index."""
from __future__ import annotations

from typing import Any

from flask import current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from ..errors import Unavailable
from ..health import service_health, worker_beats
from . import bp


@bp.get("/health")
def health() -> Any:
    return service_health()


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
