"""The served OpenAPI spec describes every API route, and real responses match it."""
from __future__ import annotations

import re

from .conftest import ticket_body


def flask_to_openapi(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.removeprefix("/api/v1"))


def test_every_api_route_is_in_the_spec(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    routes = {(flask_to_openapi(r.rule), m.lower()) for r in app.url_map.iter_rules()
              if r.rule.startswith("/api/v1") for m in r.methods - {"HEAD", "OPTIONS"}}
    described = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert routes == described


def test_created_ticket_matches_the_spec(client, bot_headers):
    spec = client.get("/api/v1/openapi.json").get_json()
    schema = spec["paths"]["/tickets"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    body = client.post("/api/v1/tickets", json=ticket_body(), headers={**bot_headers, "Idempotency-Key": "o"}).get_json()
    assert set(schema["required"]) <= set(body)
    assert re.fullmatch(schema["properties"]["number"]["pattern"], body["number"])


def test_request_schema_forbids_unknown_fields(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["schemas"]["TicketCreate"]["additionalProperties"] is False
