"""Errors raised by service functions, and the one JSON error shape of the API.

``{"error": {"code": ..., "message": ..., "details": {...}}}`` — the message says what
happened and what to do next.
"""
from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A request that cannot be carried out, with an HTTP status and a stable code."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None,
                 code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationFailed(ServiceError):
    status = 422
    code = "validation_failed"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class TransitionRefused(Conflict):
    code = "transition_refused"


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class RateLimited(ServiceError):
    """Too many requests from one client: refused until ``retry_after`` seconds have passed (the
    answer carries a ``Retry-After`` header). A page that a person fills in (sign-in, ticket
    tracking) shows it in the page: its blueprint has an error handler for this class."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details={"retry_after": retry_after, **(details or {})})
        self.retry_after = retry_after


class Unavailable(ServiceError):
    """Something the request needs is not there now (the database, a worker, the KB index): retry later."""

    status = 503
    code = "unavailable"
