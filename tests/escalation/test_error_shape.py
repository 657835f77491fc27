"""One error shape for every API failure, whoever answers it: a service function, Flask's own
404/405/413, the JSON parser, the NUL guard, the rate limiter, the health checks."""
from __future__ import annotations

import pytest

from .test_security_routes import assert_error_shape

SERVICE = {"Authorization": "Bearer test-service-token"}


@pytest.mark.parametrize("method, path, kwargs, status", [
    ("GET", "/api/v1/no-such-thing", {}, 404),
    ("DELETE", "/api/v1/tickets", {}, 405),
    ("POST", "/api/v1/tickets", {"data": "{not json", "headers": {**SERVICE, "Content-Type": "application/json"}}, 400),
    ("POST", "/api/v1/tickets", {"json": {"name": "x"}, "headers": {**SERVICE, "Idempotency-Key": "k"}}, 422),
    ("POST", "/api/v1/tickets", {"json": {"name": "a\x00b"}, "headers": SERVICE}, 400),
    ("POST", "/api/v1/tickets", {"json": {}}, 401),
    ("GET", "/api/v1/tickets/CR-99999", {"headers": SERVICE}, 404),
    ("GET", "/api/v1/conversations/not-a-token", {}, 404),
    ("POST", "/api/v1/tickets", {"data": "x" * (300 * 1024), "headers": {**SERVICE, "Content-Type": "application/json"}},
     413),
    ("GET", "/api/v1/health/worker", {}, 503),
    ("GET", "/api/v1/health/ready", {}, 503),
])
def test_every_api_error_has_the_one_shape(client, method, path, kwargs, status):
    response = client.open(path, method=method, **kwargs)
    assert response.status_code == status
    assert_error_shape(response.get_json(), f"{method} {path}")


def test_the_rate_limiter_answers_in_the_same_shape(app, client):
    app.config["RATE_LIMIT_LOOKUPS"] = 1
    for _ in range(3):
        response = client.get("/api/v1/conversations/unknown-token")
    assert response.status_code == 429 and response.headers["Retry-After"]
    assert_error_shape(response.get_json(), "429")
