"""The OpenAPI 3.1 description of ``/api/v1``, served at ``/api/v1/openapi.json``.

Request bodies come from the pydantic schemas the routes validate with, so the spec and the
validation cannot drift apart; a test checks every API route is described here.
"""
from __future__ import annotations

from typing import Any

from flask import jsonify

from . import bp
from .identity import IdentityCheck
from .outcomes import OutcomeCreate, SurveyCreate
from .privacy import CustomerRef
from .slack import SlackThreadMessage
from .schemas import LOOKUP_MAX_TOKENS, ConversationLookup, MessageCreate, TicketCreate

ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


EXPECTED_WAIT = {"type": "object", "description": "When to expect a first reply (escalation/expected_wait.py)",
                 "required": ["target_minutes", "queue_ahead", "agents_online", "open_now", "opens_at",
                              "estimate_minutes", "text"],
                 "properties": {"target_minutes": {"type": "integer"}, "queue_ahead": {"type": "integer"},
                                "agents_online": {"type": "integer"}, "open_now": {"type": "boolean"},
                                "opens_at": {"type": ["string", "null"]}, "estimate_minutes": {"type": "integer"},
                                "text": {"type": "string"}}}
TICKET_CREATED = {"type": "object", "required": ["number", "token", "status", "owner", "tracking_url"],
                  "properties": {"number": {"type": "string", "pattern": "^CR-[0-9]+$"},
                                 "token": {"type": "string"}, "status": {"type": "string"},
                                 "owner": {"type": "string"}, "tracking_url": {"type": "string"},
                                 "expected_wait": EXPECTED_WAIT}}
TICKET = {"type": "object",
          "required": ["number", "status", "owner", "subject", "created_at", "assignee", "conversation_id"],
          "properties": {"number": {"type": "string"}, "status": {"type": "string"}, "owner": {"type": "string"},
                         "subject": {"type": "string"}, "priority": {"type": "string"},
                         "category": {"type": "string"}, "created_at": {"type": "string"},
                         "assignee": {"type": ["string", "null"]},
                         "conversation_id": {"type": ["string", "null"],
                                             "description": "The bot conversation (Rasa sender id) that "
                                                            "opened the ticket; null when none did"}}}
MESSAGE = {"type": "object", "required": ["id", "author", "author_name", "body", "created_at"],
           "properties": {"id": {"type": "integer"}, "author": {"type": "string"},
                          "author_name": {"type": "string"}, "body": {"type": "string"},
                          "created_at": {"type": "string"}}}
CONVERSATION = {"type": "object", "required": ["number", "status", "owner", "agent", "messages"],
                "properties": {"number": {"type": "string"}, "status": {"type": "string"},
                               "owner": {"type": "string"}, "agent": {"type": ["string", "null"]},
                               "messages": {"type": "array", "items": MESSAGE}}}
TICKET_SUMMARY = {"type": "object",
                  "required": ["token", "number", "subject", "status", "owner", "agent", "created_at", "updated_at"],
                  "properties": {"token": {"type": "string", "description": "The token it was found by, as sent"},
                                 "number": {"type": "string"}, "subject": {"type": "string"},
                                 "status": {"type": "string"}, "owner": {"type": "string"},
                                 "agent": {"type": ["string", "null"]}, "created_at": {"type": "string"},
                                 "updated_at": {"type": "string"}}}
LOOKUP = {"type": "object", "required": ["tickets"],
          "properties": {"tickets": {"type": "array", "items": TICKET_SUMMARY}}}
HITS = {"type": "object", "required": ["query", "answerable", "hits"],
        "properties": {"query": {"type": "string"}, "answerable": {"type": "boolean"},
                       "hits": {"type": "array", "items": {"type": "object", "properties": {
                           "article_id": {"type": "string"}, "title": {"type": "string"},
                           "url": {"type": "string"}, "snippet": {"type": "string"}, "score": {"type": "number"},
                           "section": {"type": "object", "description": "The section of the article that answers "
                                       "the question: whole when complete, else its start; url goes to it",
                                       "required": ["heading", "anchor", "text", "complete", "url"],
                                       "properties": {"heading": {"type": "string"}, "anchor": {"type": "string"},
                                                      "text": {"type": "string"}, "complete": {"type": "boolean"},
                                                      "url": {"type": "string"}}}}}}}}
HEALTH = {"type": "object", "required": ["status", "service"],
          "properties": {"status": {"type": "string"}, "service": {"type": "string"}}}
BEARER = [{"serviceToken": []}]
RATE_LIMITED = {"description": "Too many unknown tokens from this IP; the Retry-After header says when to try again",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                "content": {"application/json": {"schema": ERROR}}}
OVER_QUOTA = {"description": "Over the client's quota (per IP, or per conversation for tickets; with the service "
                             "token the client named in X-Care-Client-IP / X-Care-Conversation); the Retry-After "
                             "header says when to try again",
              "headers": {"Retry-After": {"schema": {"type": "integer"}}},
              "content": {"application/json": {"schema": ERROR}}}
FORWARDED = [{"name": "X-Care-Client-IP", "in": "header", "schema": {"type": "string", "maxLength": 64},
              "description": "With the service token only: the browser's IP the call is made for (quotas)"},
             {"name": "X-Care-Conversation", "in": "header", "schema": {"type": "string", "maxLength": 120},
              "description": "With the service token only: the bot conversation the call is made for (quotas)"}]


def spec() -> dict[str, Any]:
    number = {"name": "number", "in": "path", "required": True, "schema": {"type": "string"}}
    token = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Customer Care Registry API", "version": "1.0.0",
                 "description": "Tickets, KB search and the customer's side of a handed-over conversation. "
                                "Every error is {\"error\": {\"code\", \"message\", \"details\"}}."},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"serviceToken": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message", "details"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                   "details": {"type": "object"}}}}},
                "TicketCreate": TicketCreate.model_json_schema(ref_template="#/components/schemas/{model}"),
                "MessageCreate": MessageCreate.model_json_schema(ref_template="#/components/schemas/{model}"),
                "OutcomeCreate": OutcomeCreate.model_json_schema(ref_template="#/components/schemas/{model}"),
                "IdentityCheck": IdentityCheck.model_json_schema(ref_template="#/components/schemas/{model}"),
                "SurveyCreate": SurveyCreate.model_json_schema(ref_template="#/components/schemas/{model}"),
                "ConversationLookup": ConversationLookup.model_json_schema(
                    ref_template="#/components/schemas/{model}"),
                "CustomerRef": CustomerRef.model_json_schema(ref_template="#/components/schemas/{model}"),
                "SlackThreadMessage": SlackThreadMessage.model_json_schema(
                    ref_template="#/components/schemas/{model}"),
                **TicketCreate.model_json_schema(ref_template="#/components/schemas/{model}").get("$defs", {}),
            },
        },
        "paths": {
            "/health": {"get": {"summary": "Service and database health", "responses": {
                "200": _ok("Up", HEALTH), "503": _ok("Database unreachable", HEALTH)}}},
            "/health/ready": {"get": {"summary": "Ready to answer: KB index open, model loaded", "responses": {
                "200": _ok("Ready", HEALTH), "503": _ok("Still loading, or failed (message says why)", HEALTH)}}},
            "/health/worker": {"get": {"summary": "Whether a worker made a pass recently", "responses": {
                "200": _ok("A worker is alive", HEALTH), "503": _ok("No live worker", HEALTH)}}},
            "/kb/search": {"get": {
                "summary": "Search the knowledge base",
                "parameters": [
                    {"name": "q", "in": "query", "required": True, "schema": {"type": "string", "maxLength": 1000}},
                    {"name": "k", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 20}},
                    {"name": "context", "in": "query", "description": "The customer's previous question, when "
                     "q follows up on it: articles are ranked for both, the section is chosen for q",
                     "schema": {"type": "string", "maxLength": 1000}},
                    {"name": "audience", "in": "query", "schema": {"enum": ["public", "employee", "internal"]},
                     "description": "public (default); employee adds employee articles, internal adds all "
                                    "(both need the service token or a console session)"}, *FORWARDED],
                "responses": {"200": _ok("Ranked hits, one per article", HITS),
                              "403": _error("Employee or internal needs a token"),
                              "422": _error("Bad parameters"), "429": OVER_QUOTA}}},
            "/tickets": {"post": {
                "summary": "Open a ticket (idempotent)", "security": BEARER,
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": True,
                                "schema": {"type": "string", "maxLength": 200}}, *FORWARDED],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/TicketCreate"}}}},
                "responses": {"201": _ok("Created", TICKET_CREATED), "200": _ok("Replay of the same key", TICKET_CREATED),
                              "400": _error("Not JSON"), "401": _error("No service token"),
                              "409": _error("Key reused with another body"), "413": _error("Body too large"),
                              "415": _error("Not application/json"), "422": _error("Invalid fields"),
                              "429": OVER_QUOTA}}},
            "/tickets/{number}": {"get": {
                "summary": "A ticket's status", "security": BEARER, "parameters": [number],
                "responses": {"200": _ok("The ticket", TICKET), "401": _error("No service token"),
                              "404": _error("Unknown number")}}},
            "/conversations/lookup": {"post": {
                "summary": f"The customer's tickets: up to {LOOKUP_MAX_TOKENS} conversation tokens (those one "
                           "browser holds) in, the tickets they unlock out; unknown tokens are left out "
                           "and each counts as a failed lookup for the rate limit",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ConversationLookup"}}}},
                "responses": {"200": _ok("Number, subject, status and last update of each ticket found, "
                                         "in the order of the tokens", LOOKUP),
                              "400": _error("Not JSON"), "415": _error("Not application/json"),
                              "422": _error(f"No token list, or more than {LOOKUP_MAX_TOKENS} tokens"),
                              "429": RATE_LIMITED}}},
            "/conversations/{token}": {"get": {
                "summary": "The customer's view of a handed-over conversation", "parameters": [token],
                "responses": {"200": _ok("Status and public messages", CONVERSATION),
                              "404": _error("Unknown token"), "429": RATE_LIMITED}}},
            "/conversations/{token}/messages": {"post": {
                "summary": "The customer writes in a handed-over conversation", "parameters": [token],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/MessageCreate"}}}},
                "responses": {"201": _ok("Added", MESSAGE), "404": _error("Unknown token"), "429": RATE_LIMITED,
                              "409": _error("Ticket closed"), "422": _error("Empty message")}}},
            "/conversations/{token}/events": {"get": {
                "summary": "Live stream (Server-Sent Events) of public messages and status changes; "
                           "send Last-Event-ID (or ?after=) to resume", "parameters": [token],
                "responses": {"200": {"description": "text/event-stream",
                                      "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                              "404": _error("Unknown token"), "429": RATE_LIMITED}}},
            "/conversations/{token}/survey": {"post": {
                "summary": "The customer rates a resolved ticket (1–5 and a comment)", "parameters": [token],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/SurveyCreate"}}}},
                "responses": {"201": _ok("Recorded", {"type": "object"}), "404": _error("Unknown token"),
                              "429": RATE_LIMITED,
                              "409": _error("Not resolved yet, or already rated"), "422": _error("Bad rating")}}},
            "/bot/outcomes": {"post": {
                "summary": "The bot records how a conversation ended (self-service metrics)", "security": BEARER,
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/OutcomeCreate"}}}},
                "responses": {"201": _ok("Recorded", {"type": "object"}), "401": _error("No service token"),
                              "422": _error("Invalid fields")}}},
            "/identity/verify": {"post": {
                "summary": "The bot asks who a chat widget's signed identity (from a portal page) stands for",
                "security": BEARER,
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/IdentityCheck"}}}},
                "responses": {"200": _ok("The signed-in customer: customer_id, verified e-mail, name",
                                         {"type": "object", "required": ["customer_id", "email", "name"]}),
                              "401": _error("No service token"),
                              "422": _error("Forged, expired or signed-out identity (code identity_invalid)")}}},
            "/privacy/export": {"post": {
                "summary": "GDPR: everything stored about one customer (service token or an admin's session)",
                "security": BEARER,
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/CustomerRef"}}}},
                "responses": {"200": _ok("Customer, tickets, messages, transcripts, surveys, audit, e-mails",
                                         {"type": "object", "required": ["customer", "tickets"]}),
                              "401": _error("No service token"), "403": _error("Signed in, but not an admin"),
                              "404": _error("No customer with that e-mail"), "422": _error("Invalid fields")}}},
            "/privacy/erase": {"post": {
                "summary": "GDPR: erase one customer's personal data; tickets stay, anonymised, for statistics "
                           "(service token or an admin's session)",
                "security": BEARER,
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/CustomerRef"}}}},
                "responses": {"200": _ok("Erased", {"type": "object",
                                                    "required": ["customer_id", "erased", "tickets"]}),
                              "401": _error("No service token"), "403": _error("Signed in, but not an admin"),
                              "404": _error("No customer with that e-mail"), "422": _error("Invalid fields")}}},
            "/slack/thread-messages": {"post": {
                "summary": "Rasa's Slack channel: a message written in a Slack thread joins the ticket a person "
                           "holds in that thread (else 404, and the bot answers it)", "security": BEARER,
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/SlackThreadMessage"}}}},
                "responses": {"201": _ok("Added to the ticket", {"type": "object", "required": ["ticket", "message"],
                                                                "properties": {"ticket": {"type": "string"},
                                                                               "message": MESSAGE}}),
                              "401": _error("No service token"),
                              "404": _error("No ticket held by a person in this thread, or not its person"),
                              "409": _error("Ticket closed"), "422": _error("Invalid fields")}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI"}}}},
        },
    }


@bp.get("/openapi.json")
def openapi() -> object:
    return jsonify(spec())
