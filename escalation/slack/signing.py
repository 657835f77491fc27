"""Slack's request signatures: ``v0=HMAC-SHA256(secret, "v0:<timestamp>:<body>")``.

https://api.slack.com/authentication/verifying-requests-from-slack — a request older than
five minutes is refused too, so a captured request cannot be replayed later.
"""
from __future__ import annotations

import hashlib
import hmac
import time

MAX_AGE = 300  # seconds


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return "v0=" + digest.hexdigest()


def verify(secret: str, timestamp: str | None, body: bytes, signature: str | None,
           now: float | None = None) -> bool:
    """True only for a fresh request signed with ``secret`` (an empty secret verifies nothing)."""
    if not secret or not timestamp or not signature:
        return False
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    if age > MAX_AGE:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
