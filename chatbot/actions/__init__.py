"""Custom actions of the Customer Care Registry assistant (run with `rasa run actions`).

Modules: `kb_answer` (answers from the knowledge base), `tickets` (ticket form, opening a
ticket, ticket status), `transcript` (the conversation for the ticket) and
`escalation_client` (the escalation service's HTTP API).
"""
