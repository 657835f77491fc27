"""Custom actions of the Customer Care Registry assistant.

Served by `python -m care_action_server` (../care_action_server.py: rasa-sdk's app, only for Rasa).

Modules: `kb_answer` (answers from the knowledge base), `tickets` (ticket form, opening a
ticket, ticket status), `transcript` (the conversation for the ticket) and
`escalation_client` (the escalation service's HTTP API).
"""
