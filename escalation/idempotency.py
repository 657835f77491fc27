"""Run a creating request at most once per ``Idempotency-Key``.

The key's record and the change it guards are written in one transaction: either both
exist or neither, so a retry after a crash or a timeout creates the thing exactly once.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .errors import Conflict, ValidationFailed
from .models import IdempotencyRecord

MAX_KEY_LENGTH = 200


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def run_once(session: Session, key: str | None, body: Any,
             create: Callable[[], tuple[int, dict[str, Any]]]) -> tuple[int, dict[str, Any]]:
    """Return ``create()``'s (status, response), or the stored one for a repeated key."""
    if not key or not key.strip():
        raise ValidationFailed("Send an Idempotency-Key header (any unique string, e.g. a UUID) so a "
                               "retried request cannot create a second ticket.",
                               code="idempotency_key_missing")
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(f"The Idempotency-Key is longer than {MAX_KEY_LENGTH} characters.",
                               code="idempotency_key_invalid")
    digest = request_hash(body)
    existing = session.get(IdempotencyRecord, key)
    if existing is not None:
        return _replay(existing, digest)
    try:
        with session.begin_nested():
            session.add(IdempotencyRecord(key=key, request_hash=digest, status_code=0, response={}))
    except IntegrityError:
        # another request with the same key is committing right now: use its answer
        session.rollback()
        existing = session.get(IdempotencyRecord, key)
        if existing is None:
            raise
        return _replay(existing, digest)
    status, response = create()
    record = session.get(IdempotencyRecord, key)
    assert record is not None
    record.status_code = status
    record.response = response
    session.commit()
    return status, response


def _replay(record: IdempotencyRecord, digest: str) -> tuple[int, dict[str, Any]]:
    if record.request_hash != digest:
        raise Conflict("This Idempotency-Key was already used for a different request. "
                       "Use a new key for a new request.", code="idempotency_key_reused")
    if record.status_code == 0:
        raise Conflict("A request with this Idempotency-Key is still being processed; retry shortly.",
                       code="idempotency_in_progress")
    return (200 if record.status_code == 201 else record.status_code), record.response
