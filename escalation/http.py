"""Cross-cutting HTTP behaviour: the JSON error shape, security headers, size limits, CSRF."""
from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from .errors import RateLimited, ServiceError
from .numbers import INT64_MAX

csrf = CSRFProtect()

CONSOLE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
               "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")

HSTS = "max-age=31536000; includeSubDomains"

DB_RETRY_AFTER = 5  # seconds: a restarting database is usually back within a few

CORS_PREFIXES = ("/api/v1/conversations/", "/api/v1/kb/search")

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
              429: "rate_limited", 500: "internal_error"}

HTTP_HINTS = {
    404: "Check the URL; the API lives under /api/v1 (see /api/v1/openapi.json).",
    405: "This URL does not accept that method.",
    413: "The request body is too large. Send a shorter message.",
}


class Int64Converter(IntegerConverter):
    """``<int:…>`` in a route matches ids the databases can hold; a larger one is a 404, not an
    OverflowError (500) in the query."""

    def __init__(self, map, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("max", INT64_MAX)
        super().__init__(map, *args, **kwargs)


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/slack/")) or request.accept_mimetypes.best == "application/json"


def error_response(exc: ServiceError) -> Response:
    """The answer to a service error: the JSON envelope (API, or a client that asks for JSON), else
    the error page; a rate-limit refusal says when to retry."""
    response = _error_response(exc.status, exc.code, exc.message, exc.details)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _error_response(status: int, code: str, message: str, details: dict | None = None) -> Response:
    if wants_json():
        response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
        response.status_code = status
        return response
    return Response(render_template("error.html", status=status, message=message), status=status)


MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays/objects a JSON body may have; our bodies need 3 or 4 levels.
Deeper ones (depth 329 ran ``_has_nul`` out of stack: a 500) get 400 at the edge."""


class JsonTooDeep(ValueError):
    pass


def _has_nul(value: object, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether any string (or key) in the JSON ``value`` holds U+0000; walked with a stack, not
    recursion, and refusing (:class:`JsonTooDeep`) nesting deeper than ``max_depth``."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, (list, dict)):
            if depth > max_depth:
                raise JsonTooDeep(depth)
            children = item if isinstance(item, list) else [*item.keys(), *item.values()]
            pending.extend((child, depth + 1) for child in children)
    return False


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.url_map.converters["int"] = Int64Converter
    https = app.config["PUBLIC_URL"].startswith("https://")
    # Flask-Login's "remember me" cookie gets the same flags as the session cookie
    app.config.setdefault("REMEMBER_COOKIE_SECURE", https)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)

    @app.before_request
    def refuse_nul_characters() -> Response | None:
        # No text we store may hold U+0000 (PostgreSQL refuses it: a 500 otherwise), and no
        # legitimate client sends one: refuse it at the edge, the same on every database.
        if request.method == "OPTIONS":
            return None
        # The JSON body is also checked for depth: a deep one would exhaust the stack of the
        # JSON parser or of any recursive walk after it (a 500 before).
        values = [request.path, *request.args.values(), *request.args.keys()]
        if request.mimetype in {"application/x-www-form-urlencoded", "multipart/form-data"}:
            request.get_data(cache=True)  # the raw body stays readable: Slack signs it (escalation/slack)
            values += [*request.form.values(), *request.form.keys()]
        try:
            nul_in_json = request.is_json and _has_nul(request.get_json(silent=True))
        except (RecursionError, JsonTooDeep):
            return _error_response(400, "json_too_deep", f"The JSON body is nested more than {MAX_JSON_DEPTH} "
                                   "levels deep, which no request here needs. Send a flatter body.",
                                   {"max_depth": MAX_JSON_DEPTH})
        if "\x00" in "".join(values) or nul_in_json:
            return _error_response(400, "nul_character", "The request contains a NUL character (\\u0000), "
                                   "which is never valid here. Remove it and send the request again.")
        return None

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError) -> Response:
        return error_response(exc)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Response:
        return _error_response(400, "csrf_failed", "The form expired or was not sent from this site. "
                               "Reload the page and try again.")

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def database_error(exc: Exception) -> Response:
        # The database is unreachable (down, restarting, connection dropped) or has no free
        # connection: a temporary state the client should retry, not a bug (500). A retry is
        # safe: creating requests carry an Idempotency-Key, recorded in the same transaction.
        unavailable = isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)) or \
            getattr(exc, "connection_invalidated", False)
        if not unavailable:
            raise exc  # any other database error is a bug: Flask logs it and answers 500
        app.logger.warning("database unavailable (%s %s): %s", request.method, request.path,
                           (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0][:200])
        message = "The service cannot reach its database right now. Please try again in a few seconds."
        if wants_json():
            response = _error_response(503, "database_unavailable", message, {"retry_after": DB_RETRY_AFTER})
        else:  # not error.html: its navigation asks the database who is signed in
            response = Response(f"<!doctype html><title>Service unavailable</title><h1>503</h1><p>{message}</p>",
                                status=503, mimetype="text/html")
        response.headers["Retry-After"] = str(DB_RETRY_AFTER)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = HTTP_HINTS.get(status) or exc.description or exc.name
        return _error_response(status, HTTP_CODES.get(status, exc.name.lower().replace(" ", "_")), message)

    @app.after_request
    def cors_for_the_widget(response: Response) -> Response:
        # The widget runs on the company's own site: it reads its conversation (the secret
        # token is the credential; no cookies are sent) and public KB search cross-origin.
        if request.path.startswith(CORS_PREFIXES):
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type, Last-Event-ID"
            response.headers["Access-Control-Max-Age"] = "600"
        return response

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if https:  # browsers only honour it over https; PUBLIC_URL says whether we are served so
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if request.blueprint in {"admin", "agent", "auth", "public"} and \
                response.mimetype == "text/html" and not request.path.startswith("/demo"):
            response.headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response
